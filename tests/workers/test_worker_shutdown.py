"""workers/shutdown.py: once a worker is leaving, tasks that start are refused back to their queue,
in the main process and in pool children forked before the SIGTERM.  (The whole SIGTERM path, with a
real worker and Redis, is tests/integration/test_scale_in.py.)"""

from __future__ import annotations

import multiprocessing

import pytest
from celery.exceptions import Reject
from celery.signals import worker_shutting_down

from darkroom.workers import shutdown


@pytest.fixture
def leaving():
    """Celery's worker_shutting_down, as its SIGTERM handler sends it; the flag is cleared afterwards."""
    def send() -> None:
        worker_shutting_down.send(sender="test@host", sig="SIGTERM", how="Warm", exitcode=0)

    yield send
    shutdown._leaving[0] = 0


def _report_leaving(ready, go, answer) -> None:
    ready.set()
    go.wait(30)
    answer.put(shutdown.leaving())


def test_a_child_forked_before_the_sigterm_sees_the_worker_leaving(leaving):
    context = multiprocessing.get_context("fork")  # as billiard forks the prefork pool
    ready, go, answer = context.Event(), context.Event(), context.Queue()
    child = context.Process(target=_report_leaving, args=(ready, go, answer))
    child.start()
    assert ready.wait(30)
    assert not shutdown.leaving()
    leaving()
    go.set()
    assert answer.get(timeout=30) is True
    child.join(30)


def test_tasks_starting_once_the_worker_is_leaving_are_refused_with_requeue(leaving):
    from darkroom.workers.app import convert, convert_chunk

    leaving()
    for task, args in ((convert, [{"schema": "darkroom.convert/1"}]), (convert_chunk, [[]])):
        with pytest.raises(Reject, match="shutting down") as refused:
            task(*args)
        assert refused.value.requeue is True
