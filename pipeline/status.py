"""What the fleet is doing: queue depths, workers online, and each run's items by status.

Read-only: the broker is asked through Celery (a passive queue declare, a
remote-control ping), the runs through `RunReader`.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from darkroom.pipeline.history import is_media_ref
from darkroom.pipeline.queue import QUEUES
from darkroom.pipeline.reader import RunReader, list_runs

if TYPE_CHECKING:
    from celery import Celery

    from darkroom.pipeline.storage import Storage


def queue_depths(app: "Celery") -> dict[str, int]:
    """Messages waiting in each darkroom queue (not counting those a worker holds)."""
    depths = {}
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        for queue in QUEUES:
            try:
                depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except Exception:  # a queue never declared yet holds nothing (kombu raises per transport)
                depths[queue] = 0
    return depths


def workers(app: "Celery", timeout: float = 1.0) -> dict[str, list[str]]:
    """Workers that answer within `timeout`, with the queues each serves."""
    answers = app.control.inspect(timeout=timeout).active_queues() or {}
    return {name: sorted(q["name"] for q in queues) for name, queues in sorted(answers.items())}


def run_counts(storage: "Storage", selector: str | None = None) -> list[dict[str, Any]]:
    """Per run matching `selector` (``project``, ``project/run`` or a glob of them):
    items logged (from the history), converted, failed and pending."""
    out = []
    for project, run in list_runs(storage):
        path = f"{project}/{run}"
        if selector and not (fnmatch.fnmatch(path, selector) or fnmatch.fnmatch(project, selector)):
            continue
        reader = RunReader(storage, project, run)
        statuses = [reader.load_manifest(k)["status"] for k in reader.manifest_keys().values()]
        logged = sum(_media_items(v) for row in reader.history(resolve=False) for v in row.values())
        ok, failed = statuses.count("ok"), statuses.count("failed")
        out.append({"run": path, "state": reader.info.get("state"), "logged": max(logged, len(statuses)),
                    "converted": ok, "failed": failed, "pending": max(0, logged - ok - failed)})
    return out


def _media_items(value: Any) -> int:
    return int(value["count"]) if is_media_ref(value) else 0
