"""The embedded default's dispatch: a few local worker processes fed JSON lines over pipes; no broker.

Delivered means converted here (`converts = True`): the workers live and die
with the run, so only a finished conversion is safe to forget.  The protocol
is `darkroom.workers.embedded`'s.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from darkroom._dispatch import Receipt
from darkroom._guard import background_warn
from darkroom.pipeline.errors import Transient
from darkroom.pipeline.settings import Settings


class _Worker:
    """One embedded worker process and the requests it holds."""

    def __init__(self, settings_json: str, marks: str, on_exit: Callable[["_Worker"], None]):
        # A process group of its own: Ctrl-C in the terminal reaches the
        # training process alone, which finishes or leaves the rest spooled,
        # then ends its workers by closing their stdin.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "darkroom.workers.embedded", "--marks", marks],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, process_group=0,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(settings_json + "\n")
        self.proc.stdin.flush()
        self.inflight: dict[int, Receipt] = {}
        self.used = False  # sent a request: a worker never used is stopped at close, not waited for
        # When the worker said it began its current request or item ("progress"
        # lines, after its imports); None between requests.
        self.busy_since: float | None = None
        self.lock = threading.Lock()
        self._on_exit = on_exit
        self.reader = threading.Thread(target=self._read, name="darkroom-embedded-reader", daemon=True)
        self.reader.start()

    def send(self, ident: int, request: dict[str, Any], receipt: Receipt) -> None:
        with self.lock:
            self.inflight[ident] = receipt
            self.used = True
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"id": ident, "request": request}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as e:
            with self.lock:
                self.inflight.pop(ident, None)
            raise Transient(f"embedded worker is gone: {e}") from e

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            answer = json.loads(line)
            with self.lock:
                if "progress" in answer:
                    self.busy_since = time.monotonic()
                    continue
                receipt = self.inflight.pop(answer["id"], None)
                self.busy_since = None
            if receipt is None:
                continue
            if "transient" in answer:
                receipt.failed(Transient(answer["transient"]))
            else:
                receipt.delivered([tuple(r) for r in answer["results"]])
        # EOF: the process ended; what it held goes back to the spool's queue.
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe:
                    pipe.close()
            except OSError:
                pass
        with self.lock:
            lost, self.inflight, self.busy_since = list(self.inflight.values()), {}, None
        for receipt in lost:
            receipt.failed(Transient(f"embedded worker exited with code {self.proc.returncode}"))
        self._on_exit(self)

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass


class EmbeddedDispatch:
    """A few local worker processes fed JSON lines over pipes; no broker."""

    converts = True

    # Requests a worker may hold: 2 keeps it busy while the next one is written.
    _DEPTH = 2

    def __init__(self, settings: Settings, marks: Path | None = None):
        from darkroom.workers.embedded import settings_to_json

        self._settings_json = settings_to_json(settings)
        self._count = settings.embedded_workers
        # The workers mark the items they convert here, so an item that ends
        # its worker twice fails instead of being resent forever (crash_marks).
        if marks is None:
            marks = Path(tempfile.mkdtemp(prefix="darkroom-marks-"))
        marks.mkdir(parents=True, exist_ok=True)
        self._marks = str(marks)
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._closing = False
        # A worker on one request longer than this is stopped, as Celery's hard
        # time limit stops a fleet worker's child: the request is sent again,
        # and an item that stops two workers fails (crash_marks).
        self._time_limit = settings.task_time_limit
        threading.Thread(target=self._watch, name="darkroom-embedded-watchdog", daemon=True).start()

    def _exited(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            self._room.notify_all()

    def send(self, request: dict[str, Any], receipt: Receipt) -> None:
        with self._lock:
            while True:
                while len(self._workers) < self._count:
                    self._workers.append(_Worker(self._settings_json, self._marks, self._exited))
                worker = min(self._workers, key=lambda w: len(w.inflight))
                if len(worker.inflight) < self._DEPTH:
                    break
                self._room.wait(timeout=1.0)

        worker.send(next(self._ids), request, _RoomReceipt(receipt, self._room))

    def _watch(self) -> None:
        while True:
            time.sleep(min(1.0, self._time_limit / 4))
            with self._lock:
                if self._closing:
                    return
                workers = list(self._workers)
            now = time.monotonic()
            for w in workers:
                since = w.busy_since
                if since is not None and now - since > self._time_limit and w.proc.poll() is None:
                    w.proc.kill()
                    background_warn(f"darkroom: an embedded worker spent over {self._time_limit} s "
                                    "(DARKROOM_TASK_TIME_LIMIT) on one item and was stopped; its request is sent "
                                    "again, and an item that stops two workers fails as worker_crashed")

    def prestart(self) -> None:
        """Start the workers now, so that their imports are done when the first request comes."""
        with self._lock:
            while not self._closing and len(self._workers) < self._count:
                self._workers.append(_Worker(self._settings_json, self._marks, self._exited))

    def idle(self) -> bool:
        with self._lock:
            return all(not w.inflight for w in self._workers)

    def abandon(self) -> None:
        """Leave now (Ctrl-C at exit): stop the workers; the requests they held are still in the spool."""
        with self._lock:
            self._closing = True
            workers = list(self._workers)
        for w in workers:
            w.proc.kill()
        shutil.rmtree(self._marks, ignore_errors=True)

    def close(self, wait: bool = True) -> None:
        with self._lock:
            self._closing = True
            workers = list(self._workers)
        busy = []
        for w in workers:
            if not w.used:  # started ahead (prestart) and never sent anything: nothing to finish
                w.proc.kill()
                continue
            w.close()
            with w.lock:
                if w.inflight:
                    busy.append(w)
        # An idle worker has written all it will: it exits at the end of its stdin, reaped by its reader
        # thread; finish() does not wait for an interpreter to shut down (~0.1-0.3 s), only for work.
        for w in busy:
            try:
                w.proc.wait(timeout=60 if wait else 5)
            except subprocess.TimeoutExpired:
                w.proc.kill()
        shutil.rmtree(self._marks, ignore_errors=True)


class _RoomReceipt:
    """Passes a worker's answer on, then wakes a `send` waiting for a free worker."""

    def __init__(self, receipt: Receipt, room: threading.Condition):
        self._receipt, self._room = receipt, room

    def delivered(self, results: Any) -> None:
        self._receipt.delivered(results)
        with self._room:
            self._room.notify_all()

    def failed(self, error: Exception) -> None:
        self._receipt.failed(error)
        with self._room:
            self._room.notify_all()
