"""`darkroom exporter`: the fleet's backlog as Prometheus metrics, read at each scrape.

One exporter per fleet (it reads the broker and the storage, not a worker).
Per darkroom queue (pipeline/queue.py's table): messages waiting, messages
delivered to a worker and not yet acknowledged, and the age of the oldest
waiting message; over the storage: reprocess batches still converting.
Waiting plus unacknowledged is what an autoscaler scales on: a worker busy
with a long item holds its message unacknowledged, so it is not counted as
idle work (docs/operations.md).

A broker that does not answer is a sample, not an error:
``darkroom_broker_up 0`` and no queue samples, and the exporter keeps
serving.  So is the storage (``darkroom_storage_up``).  The storage is read
at most once per `storage_interval` seconds (it lists every run).

Broker reading: Redis, as kombu's transport lays it out: a list per queue
(LPUSH on the left, BRPOP on the right), and one hash ``unacked`` of
``delivery_tag -> [message, exchange, routing_key]`` for the messages
workers hold (`kombu/transport/redis.py`, ``QoS.append``).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from darkroom.pipeline.errors import ConfigError
from darkroom.pipeline.queue import QUEUES
from darkroom.pipeline.status import message_sent_at, run_counts

if TYPE_CHECKING:
    from darkroom.pipeline.settings import Settings
    from darkroom.pipeline.storage import Storage

log = logging.getLogger("darkroom.exporter")
_UNACKED_KEY = "unacked"  # kombu's Redis transport default (Channel.unacked_key)
BROKER_SCHEMES = ("redis://", "rediss://")


def read_redis_backlog(client: Any, now: _dt.datetime | None = None) -> dict[str, dict[str, float]]:
    """Per queue: ``waiting``, ``unacknowledged`` and ``oldest_age_seconds`` (0 when none waits).

    Raises whatever redis-py raises when the broker does not answer.
    """
    now = now or _dt.datetime.now(_dt.timezone.utc)
    with client.pipeline(transaction=False) as pipe:
        for queue in QUEUES:
            pipe.llen(queue).lindex(queue, -1)  # -1: the next to be popped, the oldest
        pipe.hvals(_UNACKED_KEY)
        *per_queue, held = pipe.execute()
    unacked = dict.fromkeys(QUEUES, 0)
    for raw in held:
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key in unacked:
            unacked[routing_key] += 1
    out = {}
    for i, queue in enumerate(QUEUES):
        waiting, oldest = per_queue[2 * i], per_queue[2 * i + 1]
        sent_at = message_sent_at(oldest)
        age = max(0.0, (now - sent_at).total_seconds()) if sent_at is not None else 0.0
        out[queue] = {"waiting": int(waiting), "unacknowledged": unacked[queue], "oldest_age_seconds": age}
    return out


class BacklogCollector:
    """A prometheus_client collector reading the broker at each scrape and the storage now and then."""

    def __init__(self, settings: "Settings", open_storage: Callable[[], "Storage"] | None,
                 storage_interval: float = 60.0):
        url = settings.broker_url or ""
        if not url.startswith(BROKER_SCHEMES):
            raise ConfigError(f"DARKROOM_BROKER_URL={url or '(unset)'!r}: the exporter reads the queues of a "
                              f"broker; accepted: {', '.join(s + 'HOST:PORT/DB' for s in BROKER_SCHEMES)}")
        import redis

        # Short timeouts: a broker that does not answer must not hold a scrape past Prometheus's own timeout.
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._errors = (redis.RedisError, OSError)
        self._open_storage = open_storage
        self._storage: Storage | None = None
        self._interval = storage_interval
        self._lock = threading.Lock()
        self._reprocess: tuple[float, dict[str, float] | None] = (float("-inf"), None)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("darkroom_broker_up", "1 if the broker answered this scrape, 0 if not.")
        try:
            backlog = read_redis_backlog(self._redis)
            up.add_metric([], 1)
        except self._errors as e:
            log.warning("the broker did not answer: %s", e)
            backlog = {}
            up.add_metric([], 0)
        yield up
        for name, field, text in (
                ("darkroom_queue_messages_waiting", "waiting", "Messages waiting in the queue."),
                ("darkroom_queue_messages_unacknowledged", "unacknowledged",
                 "Messages delivered to a worker and not yet acknowledged (being converted, or reserved)."),
                ("darkroom_queue_oldest_message_age_seconds", "oldest_age_seconds",
                 "Seconds the oldest waiting message has waited since it was sent (0: none waits).")):
            family = GaugeMetricFamily(name, text, labels=["queue"])
            for queue, values in backlog.items():
                family.add_metric([queue], values[field])
            yield family
        if self._open_storage is not None:
            yield from self._reprocess_families()

    def _reprocess_families(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        with self._lock:  # one storage pass at a time, however many scrapers
            read_at, values = self._reprocess
            if time.monotonic() - read_at >= self._interval:
                values = self._read_reprocess()
                self._reprocess = (time.monotonic(), values)
        up = GaugeMetricFamily("darkroom_storage_up", "1 if the storage answered its last reading, 0 if not.")
        up.add_metric([], 0 if values is None else 1)
        yield up
        if values is not None:
            yield GaugeMetricFamily("darkroom_reprocess_batches_in_flight",
                                    "Reprocess batches with items not yet converted.", value=values["batches"])
            yield GaugeMetricFamily("darkroom_reprocess_items_pending",
                                    "Items of reprocess batches not yet converted.", value=values["items"])

    def _read_reprocess(self) -> dict[str, float] | None:
        try:
            if self._storage is None:
                self._storage = self._open_storage()  # type: ignore[misc]
            batches = [b for r in run_counts(self._storage) for b in r["batches"]]
        except Exception as e:  # any backend failure is "storage down" for this reading, logged
            log.warning("the storage could not be read: %s: %s", type(e).__name__, e)
            return None
        pending = [b["pending"] for b in batches if b["pending"] > 0]
        return {"batches": len(pending), "items": sum(pending)}
