"""Waiting in tests: check for an event the code under test emits, bounded, and fail naming what never came.

A test never sleeps hoping something has happened by then (DESIGN.md, the
last read-back note: such tests pass or fail with the machine's load).  It
waits for what the code itself leaves behind when the thing happened: a
file or manifest in storage, a crash mark in Redis (an item started
converting), a line in a worker's log, a queue's length.  The timeout only
bounds a wait for something that never comes; it is not the signal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_for(event: Callable[[], T], what: str, timeout: float = 30.0, every: float = 0.02,
             context: Callable[[], str] | None = None) -> T:
    """Return the first truthy value of `event()`, checked every `every` seconds.

    Parameters
    ----------
    event: checks once whether the event happened; it may raise to end the
        wait at once (a process that exited instead of answering).
    what: the event in words, for the failure ("worker w0's ready line").
    timeout: seconds to wait at most.  Generous: a loaded machine is slow,
        and a wait that succeeds costs only the time the event took.
    every: seconds between checks.  An event the test must catch while it
        lasts (an item being converted) is made to last far longer than
        this, by a large payload, not caught with a tighter poll.
    context: read on timeout only, added to the failure (a worker's log).

    Raises
    ------
    pytest.fail.Exception: `what` did not happen within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = event()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"\n{context()}" if context is not None else ""
            pytest.fail(f"waited {timeout:g} s for {what}, which did not happen{detail}", pytrace=False)
        time.sleep(every)
