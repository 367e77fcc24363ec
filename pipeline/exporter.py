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

How each broker is read: `darkroom.pipeline.backlog`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from darkroom.pipeline.backlog import backlog_reader
from darkroom.pipeline.status import run_counts

if TYPE_CHECKING:
    from darkroom.pipeline.settings import Settings
    from darkroom.pipeline.storage import Storage

log = logging.getLogger("darkroom.exporter")


class BacklogCollector:
    """A prometheus_client collector reading the broker at each scrape and the storage now and then."""

    def __init__(self, settings: "Settings", open_storage: Callable[[], "Storage"] | None,
                 storage_interval: float = 60.0, management_url: str | None = None):
        # Raises ConfigError for a broker it cannot read, naming what it accepts.
        self._read, self._errors = backlog_reader(settings.broker_url, management_url)
        self._open_storage = open_storage
        self._storage: Storage | None = None
        self._interval = storage_interval
        self._lock = threading.Lock()
        self._reprocess: tuple[float, dict[str, float] | None] = (float("-inf"), None)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("darkroom_broker_up", "1 if the broker answered this scrape, 0 if not.")
        try:
            backlog = self._read()
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
                if field in values:  # (RabbitMQ: no oldest age, see darkroom.pipeline.backlog)
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
