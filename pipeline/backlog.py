"""The backlog of darkroom's queues as the broker holds it: waiting, unacknowledged, oldest age, per queue.

`backlog_reader(broker_url)` returns a function reading it once (for each
scrape of `darkroom exporter`) and the exceptions that mean "the broker did
not answer".

- Redis, as kombu's transport lays it out: a list per queue (LPUSH on the
  left, BRPOP on the right, so index -1 is the oldest), and one hash
  ``unacked`` of ``delivery_tag -> [message, exchange, routing_key]`` for the
  messages workers hold (`kombu/transport/redis.py`, ``QoS.append``).
- RabbitMQ, through its management plugin's HTTP API (``GET /api/queues/VHOST``:
  ``messages_ready`` and ``messages_unacknowledged``), as KEDA's RabbitMQ
  scaler reads it; AMQP itself tells only the ready count.  The oldest
  message's age is not read there: AMQP cannot look at a message without
  taking it, so that sample is left out.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from darkroom.pipeline.errors import ConfigError
from darkroom.pipeline.queue import QUEUES, is_amqp
from darkroom.pipeline.status import message_sent_at

Backlog = dict[str, dict[str, float]]
_UNACKED_KEY = "unacked"  # kombu's Redis transport default (Channel.unacked_key)
REDIS_SCHEMES = ("redis://", "rediss://")
MANAGEMENT_PORT = 15672  # the management plugin's default


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


def management_url_for(broker_url: str, port: int = MANAGEMENT_PORT) -> str:
    """The management API URL of the RabbitMQ a broker URL names: same host and credentials, `port`, its vhost."""
    url = urllib.parse.urlsplit(broker_url)
    vhost = urllib.parse.unquote(url.path[1:]) if len(url.path) > 1 else "/"
    auth = f"{url.username or 'guest'}:{url.password or 'guest'}@"
    scheme = "https" if broker_url.startswith("amqps://") else "http"
    return f"{scheme}://{auth}{url.hostname}:{port}/api/queues/{urllib.parse.quote(vhost, safe='')}"


def read_rabbitmq_backlog(management_url: str, timeout: float = 5.0) -> Backlog:
    """Per queue: ``waiting`` (ready) and ``unacknowledged``, from the management API at `management_url`.

    Raises OSError (URLError, HTTPError) or ValueError when the API does not answer as it should.
    """
    url = urllib.parse.urlsplit(management_url)
    plain = url._replace(netloc=f"{url.hostname}:{url.port}" if url.port else url.hostname or "")
    request = urllib.request.Request(urllib.parse.urlunsplit(plain) + "?columns=name,messages_ready,"
                                     "messages_unacknowledged")
    if url.username:
        token = base64.b64encode(f"{urllib.parse.unquote(url.username)}:"
                                 f"{urllib.parse.unquote(url.password or '')}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        listed = {q["name"]: q for q in json.load(response)}
    return {queue: {"waiting": int(listed.get(queue, {}).get("messages_ready") or 0),
                    "unacknowledged": int(listed.get(queue, {}).get("messages_unacknowledged") or 0)}
            for queue in QUEUES}


def backlog_reader(broker_url: str | None, management_url: str | None = None
                   ) -> tuple[Callable[[], Backlog], tuple[type[BaseException], ...]]:
    """(read the backlog once, the exceptions meaning the broker did not answer) for `broker_url`.

    Raises
    ------
    ConfigError: not a broker darkroom can read, naming the accepted ones.
    """
    url = broker_url or ""
    if url.startswith(REDIS_SCHEMES):
        import redis

        # Short timeouts: a broker that does not answer must not hold a scrape past Prometheus's own timeout.
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        return (lambda: read_redis_backlog(client)), (redis.RedisError, OSError)
    if is_amqp(url):
        api = management_url or management_url_for(url)
        return (lambda: read_rabbitmq_backlog(api)), (OSError, ValueError)
    raise ConfigError(f"DARKROOM_BROKER_URL={url or '(unset)'!r}: the exporter reads the queues of a broker; "
                      "accepted: redis://HOST:PORT/DB, rediss://..., amqp://USER:PASSWORD@HOST:PORT/VHOST "
                      "(RabbitMQ, with its management plugin)")
