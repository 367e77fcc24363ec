"""Queue wiring: the Celery app factory, one queue per media kind (DESIGN.md, Queues).

Both sides build their app here: the SDK to send (it never imports the
workers), `darkroom.workers.app` to serve.  Celery is used for what it is good
at: JSON only, no result backend (manifests are the results), late acks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from darkroom.pipeline import kinds

if TYPE_CHECKING:
    from celery import Celery

    from darkroom.pipeline.settings import Settings

TASK_NAME = "darkroom.convert"
# Several requests in one message: how `darkroom reprocess` sends big batches.
CHUNK_TASK_NAME = "darkroom.convert_chunk"
# One queue per codec kind, one shared by the light kinds: pipeline/kinds.py
# says which.  Listed (in `darkroom worker --help`, errors) in the table's
# order, the queues of one kind first and the shared ones after them.
_KINDS_OF_QUEUE = {q: [s.name for s in kinds.TABLE if s.queue == q] for q in (s.queue for s in kinds.TABLE)}
QUEUES = tuple(sorted(_KINDS_OF_QUEUE, key=lambda q: len(_KINDS_OF_QUEUE[q]) > 1))
# Queues whose every kind converts within size limits alone: a worker serving
# only these may run them on threads (`darkroom worker`'s default pool).
THREAD_QUEUES = tuple(q for q in QUEUES if all(kinds.spec(k).threads for k in _KINDS_OF_QUEUE[q]))


def queue_for(kind: str) -> str:
    """The queue of `kind`'s requests (KeyError naming the kinds for an unknown one)."""
    return kinds.spec(kind).queue


def queue_names(short: list[str]) -> list[str]:
    """``["image", "video"]`` -> their queue names; ``darkroom.`` may be given or not.

    Raises
    ------
    ValueError: an unknown queue, naming the known ones.
    """
    names = []
    for name in short:
        full = name if name.startswith("darkroom.") else f"darkroom.{name}"
        if full not in QUEUES:
            known = ", ".join(q.split(".", 1)[1] for q in QUEUES)
            raise ValueError(f"unknown queue {name!r}; known: {known}")
        names.append(full)
    return names


def make_celery(settings: "Settings", name: str = "darkroom") -> "Celery":
    """A Celery app for `settings.broker_url`, configured for this workload."""
    from celery import Celery
    from kombu import Queue

    app = Celery(name, broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],  # never unpickle (DESIGN.md, point 5)
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=[Queue(q, routing_key=q) for q in QUEUES],
        # Senders name each request's queue (`queue_for`); these only catch one that does not.
        task_default_queue=queue_for("image"),
        task_routes={TASK_NAME: {"queue": queue_for("image")}},
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(1, settings.task_time_limit - 30),
        broker_connection_retry_on_startup=True,
        # The sender decides retries itself (its spool keeps every item), so a
        # publish to a dead broker fails fast instead of blocking the sender.
        task_publish_retry=False,
        broker_transport_options={
            # Above the longest hard time limit: see Settings.check.
            "visibility_timeout": settings.visibility_timeout,
            # kombu restores unacked messages of a dead worker only every
            # interval x throttle seconds (defaults ~100 s, STACK_NOTES.md);
            # 10 s keeps a crashed worker's task waiting ~VT + 10 s, not VT + 100 s.
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 5,
            "socket_timeout": 30,
            "max_retries": 0,
        },
        worker_max_tasks_per_child=1000,
        worker_max_memory_per_child=2 * 1024 * 1024,  # KiB: recycle a child past 2 GiB
        worker_send_task_events=True,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
    )
    return app
