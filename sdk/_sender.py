"""The background sender of one run: the training thread hands over, a thread spools, another delivers.

Three parts, each a module of its own (DESIGN.md, the path of one item):

- `darkroom._payloads`: what the run hands over (`MediaWork`, `RowWork`,
  `ObjectWork`) becomes spool records: bytes, sha256 and a typed request;
- `darkroom._spool`: the write-ahead spool on local disk;
- `darkroom._delivery`: the loop that sends the spool, behind a `Dispatch`.

This module owns the memory between the training thread and the spool, and
the thread that empties it.  That thread never touches the network, so
whatever the backend does, an item reaches the disk within about `_POLL`
seconds of `log()` returning; when memory is full, `put` waits for it.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from darkroom._delivery import Delivery
from darkroom._dispatch import Dispatch, Outcomes, open_dispatch
from darkroom._guard import background_warn, warn
from darkroom._payloads import (
    MediaWork,
    ObjectWork,
    PayloadBuilder,
    Record,
    RowWork,
    Work,
)
from darkroom._spool import Spool
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import Storage, open_storage

_POLL = 0.02  # seconds the idle spooling thread waits before looking at memory again
_WAKE_BYTES = 16 * 1024 * 1024


class Sender:
    """Owns one run's spool, the thread that fills it and the delivery loop that drains it.

    Parameters
    ----------
    dispatch: where requests go; default: the one `settings` ask for (embedded workers or Celery).
    """

    def __init__(self, project: str, run: str, settings: Settings, spool: Spool, online: bool = True,
                 dispatch: Dispatch | None = None):
        self.project, self.run = project, run
        self.settings = settings
        self.spool = spool
        self.storage: Storage = open_storage(settings.resolved_storage_url(), settings)
        self._builder = PayloadBuilder(project, run, self.storage, settings.limits, settings)
        marks = spool.root.parent / "worker-marks"
        self.delivery = Delivery(project, run, spool, self.storage,
                                 (lambda: dispatch) if dispatch is not None else (lambda: open_dispatch(settings, marks)),
                                 settings, online)
        self._queue: deque[tuple[Work, int]] = deque()
        self._held = 0  # bytes in _queue
        self._busy = 0  # entries the thread took from _queue and is spooling
        self._cond = threading.Condition()
        self._warned_full = False
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="darkroom-spooler", daemon=True)
        self._thread.start()

    # -- the training thread's side ------------------------------------------
    def put(self, work: Work, nbytes: int = 0) -> None:
        """Hand over `work`; wait while the memory bound is reached (never drop)."""
        with self._cond:
            limit = self.settings.send_buffer_bytes
            while self._held and self._held + nbytes > limit and self._thread.is_alive():
                if not self._warned_full:
                    self._warned_full = True
                    warn(f"darkroom: {self._held} bytes wait to be spooled (DARKROOM_SEND_BUFFER_BYTES="
                         f"{limit}); log() waits for the sender instead of dropping data")
                self._cond.notify_all()
                self._cond.wait(timeout=1.0)
            self._queue.append((work, nbytes))
            self._held += nbytes
            # No wake-up per call: waking the thread costs the training thread
            # ~50 us of scheduling (measured in bench/log_overhead.py), more than
            # the rest of log().  It polls every _POLL seconds; a large backlog
            # wakes it at once.
            if self._held >= _WAKE_BYTES:
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything handed over is spooled and (online) handed to the dispatch."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
        if not self.delivery.online:
            with self._cond:
                while self._queue or self._busy:
                    if not self._thread.is_alive() or (deadline is not None and time.monotonic() >= deadline):
                        return False
                    self._cond.wait(timeout=0.05)
            return True
        return self.delivery.flush(deadline, self.in_memory)

    def close(self, timeout: float | None = None) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self.delivery.close(timeout)

    def stop_sending(self, timeout: float) -> int:
        """Send nothing more; write what memory still holds to the spool (local disk only).

        For leaving at once (Ctrl-C at exit): the spool keeps everything for
        `darkroom sync`.  Returns the entries still in memory after `timeout`
        seconds (0: all of them are spooled).
        """
        self.delivery.stop()
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while (self._queue or self._busy) and self._thread.is_alive() and time.monotonic() < deadline:
                self._cond.wait(timeout=0.2)
            return len(self._queue) + self._busy

    def in_memory(self) -> int:
        """Entries handed over and not spooled yet."""
        with self._cond:
            return len(self._queue) + self._busy

    def backlog(self) -> int:
        """Entries handed over and not yet handed to the dispatch (in memory or in the spool)."""
        return self.in_memory() + self.delivery.unsent()

    def unsent(self) -> int:
        """Spool entries not yet handed to the dispatch."""
        return self.delivery.unsent()

    def acknowledge(self, stored: dict[tuple[int, str, int], int]) -> None:
        """Items whose manifests are stored (see `Delivery.acknowledge`): their entries may go."""
        self.delivery.acknowledge(stored)

    @property
    def outcomes(self) -> Outcomes:
        return self.delivery.outcomes

    @property
    def outage(self) -> str | None:
        return self.delivery.outage

    @property
    def dispatch(self) -> Dispatch | None:
        return self.delivery.dispatch

    # -- the spooling thread -------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait(timeout=_POLL)
                if self._stopping and not self._queue:
                    return
                batch = list(self._queue)
                self._queue.clear()
                self._busy = len(batch)
            try:
                self._spool(self._builder.build([work for work, _ in batch]))
            except Exception as e:  # the guard: nothing may end this thread
                background_warn(f"darkroom: could not spool {len(batch)} logged value(s) "
                                f"({type(e).__name__}: {e}); they are lost")
            finally:
                with self._cond:
                    self._held -= sum(n for _, n in batch)
                    self._busy = 0
                    self._cond.notify_all()
            self.delivery.wake()

    def _spool(self, records: list[Record]) -> None:
        try:
            self.spool.append_batch((r.entry, r.payloads) for r in records)
        except (TypeError, ValueError):  # one entry JSON cannot hold: spool the others one by one
            for record in records:
                try:
                    self.spool.append(record.entry, record.payloads)
                except (TypeError, ValueError) as e:
                    background_warn(f"darkroom: a {record.entry.get('type')} entry could not be spooled "
                                    f"({e}); it is lost")


__all__ = ["Sender", "MediaWork", "RowWork", "ObjectWork"]
