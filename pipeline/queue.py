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


AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def is_amqp(broker_url: str | None) -> bool:
    """True for a RabbitMQ (AMQP 0-9-1) broker URL."""
    return (broker_url or "").startswith(AMQP_SCHEMES)


def _queues(amqp: bool) -> list:
    """The queue table as kombu Queues.

    On RabbitMQ: quorum queues (replicated, and durable by design: RabbitMQ's
    recommendation for work that must not be lost) bound to one topic
    exchange, ``darkroom``: Celery's native delayed delivery, which quorum
    queues need for countdowns (a task's retry backoff), routes through topic
    exchanges only (celery.app.base, ``send_task``).  On Redis: kombu's
    defaults, a direct exchange per queue, as before.
    """
    from kombu import Exchange, Queue

    if not amqp:
        return [Queue(q, routing_key=q) for q in QUEUES]
    exchange = Exchange("darkroom", type="topic", durable=True)
    return [Queue(q, exchange, routing_key=q, queue_arguments={"x-queue-type": "quorum"}) for q in QUEUES]


# RabbitMQ: publisher confirms, so a publish returns once the broker holds the
# message, or raises and the sender keeps the item in its spool.  No visibility
# timeout there: a worker's closed connection returns its unacknowledged
# messages at once (a task must end within RabbitMQ's consumer_timeout, 30 min
# by default, above DARKROOM_TASK_TIME_LIMIT).
_AMQP_OPTIONS = {"confirm_publish": True, "max_retries": 0}


def make_celery(settings: "Settings", name: str = "darkroom") -> "Celery":
    """A Celery app for `settings.broker_url`, configured for this workload."""
    from celery import Celery

    amqp = is_amqp(settings.broker_url)
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
        task_queues=_queues(amqp),
        # Senders name each request's queue (`queue_for`); these only catch one that does not.
        task_default_queue=queue_for("image"),
        task_routes={TASK_NAME: {"queue": queue_for("image")}},
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(1, settings.task_time_limit - 30),
        broker_connection_retry_on_startup=True,
        # The sender decides retries itself (its spool keeps every item), so a
        # publish to a dead broker fails fast instead of blocking the sender.
        task_publish_retry=False,
        broker_transport_options=_AMQP_OPTIONS if amqp else {
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
