"""What the fleet is doing: queue depths, workers online, and each run's items by status.

Read-only: the broker is asked through Celery (a passive queue declare, a
remote-control ping), the runs through `RunReader`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import fnmatch
import json
from typing import TYPE_CHECKING, Any

from darkroom.pipeline.errors import DamagedObject
from darkroom.pipeline.history import is_media_ref
from darkroom.pipeline.queue import QUEUES
from darkroom.pipeline.reader import RunReader, list_runs
from darkroom.pipeline.reprocess import batches, progress

if TYPE_CHECKING:
    from celery import Celery

    from darkroom.pipeline.storage import Storage


def queue_depths(app: "Celery") -> dict[str, int]:
    """Messages waiting in each darkroom queue (not counting those a worker holds)."""
    depths = {}
    with app.connection_for_read() as connection:
        channel = connection.channel()
        try:
            for queue in QUEUES:
                try:
                    depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
                except Exception:  # a queue never declared yet holds nothing (kombu raises per transport)
                    depths[queue] = 0
                    # AMQP closes the channel on a failed passive declare: the next queue needs a new one.
                    channel = connection.channel()
        finally:
            channel.close()
    return depths


def workers(app: "Celery", timeout: float = 1.0) -> dict[str, list[str]]:
    """Workers that answer within `timeout`, with the queues each serves."""
    answers = app.control.inspect(timeout=timeout).active_queues() or {}
    return {name: sorted(q["name"] for q in queues) for name, queues in sorted(answers.items())}


def run_counts(storage: "Storage", selector: str | None = None) -> list[dict[str, Any]]:
    """Per run matching `selector` (``project``, ``project/run`` or a glob of them):
    items logged (from the history), converted, failed and pending.

    A run with a damaged object has state ``damaged`` and ``damaged``
    (`damage_of`: which object, which line); the other runs are counted as usual.
    """
    out = []
    for project, run in list_runs(storage):
        path = f"{project}/{run}"
        if selector and not (fnmatch.fnmatch(path, selector) or fnmatch.fnmatch(project, selector)):
            continue
        try:
            out.append(_counts(RunReader(storage, project, run), storage))
        except DamagedObject as e:  # this run is shown as damaged; the others are counted
            out.append({"run": path, "state": "damaged", "damaged": damage_of(e), "logged": 0,
                        "converted": 0, "failed": 0, "pending": 0, "batches": []})
    return out


def damage_of(error: DamagedObject) -> dict[str, Any]:
    """What a listing says of a damaged run: the object, the line (or None) and the whole message."""
    return {"object": error.key, "line": error.line, "error": str(error)}


def _counts(reader: RunReader, storage: "Storage") -> dict[str, Any]:
    entries = reader.entries()
    statuses = [entry.status for entry in entries.values()]
    logged = sum(_media_items(v) for row in reader.history(resolve=False) for v in row.values())
    ok, failed = statuses.count("ok"), statuses.count("failed")
    return {"run": reader.path, "state": reader.info.get("state"), "logged": max(logged, len(statuses)),
            "converted": ok, "failed": failed, "pending": max(0, logged - ok - failed),
            "batches": [{"batch": b["batch"], "created_at": b.get("created_at"), **progress(b, entries)}
                        for b in batches(storage, reader.project, reader.run)]}


def oldest_waiting(app: "Celery") -> dict[str, float | None]:
    """Seconds the oldest message of each queue has waited (None: empty, or not a Redis broker).

    Read from the message's ``sent_at`` without taking it off the queue
    (kombu's Redis transport pushes on the left and pops on the right).
    """
    ages: dict[str, float | None] = {}
    now = _dt.datetime.now(_dt.timezone.utc)
    with app.connection_for_read() as connection:
        client = getattr(connection.default_channel, "client", None)
        for queue in QUEUES:
            ages[queue] = None
            if client is None or not hasattr(client, "lindex"):
                continue
            sent_at = message_sent_at(client.lindex(queue, -1))
            if sent_at is not None:
                ages[queue] = max(0.0, (now - sent_at).total_seconds())
    return ages


def message_sent_at(raw: bytes | None) -> _dt.datetime | None:
    """The ``sent_at`` of a kombu message on Redis, or None if it has none."""
    if raw is None:
        return None
    try:
        envelope = json.loads(raw)
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        request = args[0][0] if isinstance(args[0], list) else args[0]  # a chunk: its first request
        return _dt.datetime.strptime(request["sent_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.timezone.utc)
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _media_items(value: Any) -> int:
    return int(value["count"]) if is_media_ref(value) else 0
