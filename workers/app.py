"""The Celery app that `darkroom worker` serves: ``celery -A darkroom.workers.app worker``.

Settings are read once, from the environment, when the worker starts.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_retry, worker_init, worker_process_init

from darkroom.pipeline.errors import StorageError, Transient
from darkroom.pipeline.queue import CHUNK_TASK_NAME, TASK_NAME, is_amqp, make_celery
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import Storage, open_storage
from darkroom.workers.conversion import WorkerContext, process_message
from darkroom.workers.crash_marks import CrashMarks, RedisMarks, StorageMarks
from darkroom.workers.message_guard import GuardedRedisTransport, GuardedTask
from darkroom.workers.metrics import NO_METRICS, CountedStorage, NoMetrics, retry_cause
from darkroom.workers.shutdown import ReturnHeld, refuse_if_leaving

log = logging.getLogger("darkroom.worker")

settings = Settings.from_env()
app = make_celery(settings)
if (settings.broker_url or "").startswith("redis://"):
    # kombu's Redis transport, dropping a message it cannot read instead of
    # ending the worker (`darkroom.workers.message_guard`).
    app.conf.broker_transport = GuardedRedisTransport
# SIGTERM: what the worker holds and has not started goes back at once (`darkroom.workers.shutdown`).
app.steps["consumer"].add(ReturnHeld)
_storage: list[Storage] = []  # one per worker process, opened after the fork
_marks: list[CrashMarks] = []  # the same
# Replaced by `darkroom.workers.serving.enable_metrics` (``darkroom worker
# --metrics-port``) before the pool forks; children inherit it.
metrics: list[NoMetrics] = [NO_METRICS]


@worker_init.connect
def _declare_every_queue(**_: Any) -> None:
    """RabbitMQ: declare every darkroom queue, not only those this worker serves.

    Celery binds every queue of the app to its delayed-delivery exchanges
    (retry countdowns on quorum queues), and fails for a queue not yet
    declared; a sender declares its queue before it publishes anyway.
    """
    if not is_amqp(settings.broker_url):
        return
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            for queue in app.amqp.queues.values():
                queue.bind(connection.default_channel).declare()
    except Exception as e:  # unreachable broker: the consumer's own retries take over and report it
        log.warning("could not declare darkroom's queues yet: %s", e)


@worker_process_init.connect
def _open_storage_in_child(**_: Any) -> None:
    # A connection pool made before the pool forks would be shared by children.
    _storage.clear()
    _marks.clear()


def _storage_here() -> Storage:
    if not _storage:
        storage = open_storage(settings.storage_url, settings)
        _storage.append(storage if metrics[0] is NO_METRICS else CountedStorage(storage, metrics[0]))
    return _storage[0]


def _marks_here() -> CrashMarks:
    """Marks of the items being converted: in the broker's Redis, or (RabbitMQ) in the storage (`crash_marks`)."""
    if not _marks:
        url = settings.broker_url or ""
        _marks.append(RedisMarks(url) if url.startswith(("redis://", "rediss://")) else StorageMarks(_storage_here()))
    return _marks[0]


def _worker_here() -> WorkerContext:
    """This process's storage, bounds, crash marks and metrics, as a conversion takes them."""
    return WorkerContext(_storage_here(), settings.limits, settings.index_compact_every, _marks_here(), metrics[0])


@task_retry.connect
def _count_retry(reason: Any = None, **_: Any) -> None:
    metrics[0].retry(retry_cause(getattr(reason, "exc", None)))


@app.task(
    name=TASK_NAME,
    base=GuardedTask,
    bind=True,
    # Transient faults (storage or broker unreachable) retry with exponential
    # backoff and jitter, up to ~45 min in all; so do other storage errors
    # (permissions an operator can fix), and the soft time limit when it
    # strikes outside a converter (a slow storage write): the retry skips
    # the items already stored.  Invalid input never retries: it is already
    # a failed manifest (a converter over the soft limit is one).
    autoretry_for=(Transient, StorageError, SoftTimeLimitExceeded),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=50,
    acks_late=True,
    reject_on_worker_lost=True,
)
def convert(self, message: Any) -> None:
    """Convert one `ConvertRequest` (a JSON dict).  Writes manifests; returns nothing."""
    refuse_if_leaving(TASK_NAME)
    delivery = self.request.delivery_info or {}
    redelivered = bool(self.request.retries or delivery.get("redelivered"))
    manifests = process_message(message, _worker_here(), redelivered)
    failed = sum(m.status == "failed" for m in manifests)
    log.info("converted %d item(s), %d failed", len(manifests) - failed, failed)


@app.task(
    name=CHUNK_TASK_NAME,
    base=GuardedTask,
    bind=True,
    autoretry_for=(),
    max_retries=50,
    acks_late=True,
    reject_on_worker_lost=True,
)
def convert_chunk(self, messages: list[Any]) -> None:
    """Convert several `ConvertRequest`s sent as one message (`darkroom reprocess`).

    Each request is converted alone, so one bad request costs only its own
    items; if storage fails mid-chunk, the chunk is retried from that request
    on, with the same backoff as `convert`.
    """
    refuse_if_leaving(CHUNK_TASK_NAME)
    if not isinstance(messages, list):
        log.error("rejected a chunk that is not a list of requests: %.200r", messages)
        return
    delivery = self.request.delivery_info or {}
    redelivered = bool(self.request.retries or delivery.get("redelivered"))
    for position, message in enumerate(messages):
        try:
            process_message(message, _worker_here(), redelivered)
        except (Transient, StorageError, SoftTimeLimitExceeded) as e:
            countdown = min(60.0, 2.0 ** self.request.retries) * (0.5 + random.random())
            raise self.retry(args=[messages[position:]], exc=e, countdown=countdown) from e
