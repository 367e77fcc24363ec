"""Graceful scale-in: on SIGTERM a worker finishes what it converts and returns at once what it only holds.

Celery's warm shutdown (its SIGTERM) already stops consuming, lets the
tasks being executed finish, acknowledges them and exits 0.  What it does
not do is give back, before those tasks end, the messages the worker holds
without executing them: a retry waiting out its countdown (an ETA task,
which also raises the worker's prefetch so it takes more), or a message
reserved behind a busy pool.  kombu's Redis transport restores those only
when the connection closes, after the last task ends, and a worker that
is then killed (the orchestrator's grace period over) leaves them to the
visibility timeout, an hour by default.  Celery's soft shutdown
(`worker_soft_shutdown_timeout`, 5.5+) answers another question: it waits a
fixed time and then cancels the running tasks, which for long encodes is
work thrown away; darkroom keeps the warm shutdown and adds this step.

`ReturnHeld`, a consumer bootstep, runs when the consumer stops during a
shutdown, while the broker connection is still open: each request the
worker holds and has not started is rejected with requeue, which puts the
message back at the head of its queue at once.  The worker's pool may still
hand such a request to a thread or child that frees up; `refuse_if_leaving`,
called first in each task, turns it down there (`Reject`, a no-op on a message
already returned).  The flag it reads is one shared byte, mapped before the
pool forks, so prefork children see the main process's SIGTERM.

A second SIGTERM changes nothing; SIGQUIT or SIGKILL end the worker at once,
and late acks plus crash marks cover what it held (docs/reliability.md).
"""

from __future__ import annotations

import logging
import mmap
from typing import Any

from celery import bootsteps
from celery.exceptions import Reject
from celery.signals import worker_shutting_down

log = logging.getLogger("darkroom.worker")

# One byte shared with every child forked after this import: 1 once the worker is leaving.
_leaving = mmap.mmap(-1, 1)


@worker_shutting_down.connect
def _mark_leaving(**_: Any) -> None:
    _leaving[0] = 1  # in the main process's signal handler: a plain store, nothing that blocks


def leaving() -> bool:
    """True once this worker (main process or pool child) has been asked to shut down."""
    return _leaving[0] == 1


def refuse_if_leaving(task_name: str) -> None:
    """Raise `Reject` (requeue) if the worker is shutting down: a task starting now is not started.

    Raises
    ------
    Reject: the worker is leaving; Celery requeues the message (if `ReturnHeld` has not already).
    """
    if leaving():
        raise Reject(f"{task_name}: the worker is shutting down; the message goes back to its queue",
                     requeue=True)


class ReturnHeld(bootsteps.Step):
    """On a shutdown, reject with requeue every message held and not started (see the module docstring)."""

    def __init__(self, parent: Any, **kwargs: Any):
        super().__init__(parent, **kwargs)
        # The consumer's blueprint calls its on_close first when it stops, and
        # Celery's on_close forgets the held requests (Consumer.on_close: they
        # "will be redelivered" once the connection closes).  Return them just before.
        blueprint, forget = parent.blueprint, parent.blueprint.on_close

        def on_close() -> None:
            if leaving():
                self.return_held(parent)
            if forget is not None:
                forget()

        blueprint.on_close = on_close

    def return_held(self, c: Any) -> None:
        from celery.worker import state

        from darkroom.workers.app import metrics

        held = {r.id: r for r in (*state.scheduled_requests, *state.reserved_requests)
                if r not in state.active_requests and not r.acknowledged}
        for request in held.values():
            entry = getattr(request, "_eta_timer_entry", None)
            if entry is not None and c.timer is not None:
                c.timer.cancel(entry)  # a retry waiting for its countdown: it never fires here
            request.reject(requeue=True)
        if held:
            metrics[0].returned(len(held))
            log.warning("shutting down: returned %d message(s) held and not started to their queue", len(held))
