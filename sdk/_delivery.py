"""The delivery loop: a run's spool entries to storage and a `Dispatch`, in order, with backoff.

It reads only what is on disk (the spooling thread writes it, never waiting on
the network) and sends it: objects are put, history rows go to the open
chunk, convert requests have their raw payloads uploaded and are handed to the
dispatch.  While storage or the broker is unreachable it retries with
backoff, and resumes by itself.

An entry leaves the spool only once its outcome is stored (end to end): for a
dispatch that converts (embedded workers) when its answer comes; for a queue
(Celery) once every item's manifest exists.  A queued request whose manifests
do not appear within `Settings.resend_after` is sent again (a broker that lost
it); content addressing and deterministic manifest keys make that idempotent.

One bad entry costs only itself: a payload gone from the spool, a request the
message model refuses, or an entry that fails three times for a reason that is
not an outage is given up, its items failed with a manifest that says why.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from darkroom._acks import Acks
from darkroom._dispatch import Dispatch, Outcomes, Results
from darkroom._guard import background_warn
from darkroom._history import HistoryChunks
from darkroom._payloads import given_up_records
from darkroom._spool import Spool
from darkroom._uploads import RawUploads
from darkroom.pipeline import paths
from darkroom.pipeline.errors import InvalidInput, StorageError, Transient
from darkroom.pipeline.settings import Settings

if TYPE_CHECKING:  # pydantic and the storage clients load with the first request, not with `import darkroom`
    from darkroom.pipeline.storage import Storage

BACKOFF_MAX = 30.0
POLL = 0.02  # seconds the idle loop waits before looking at the spool again
ATTEMPTS = 3  # failures of one entry, not an outage, before it is given up

Ident = tuple[int, str, int]  # (step, key, index)


class _Receipt:
    """Tells the delivery loop how one request went (`Dispatch` calls it, maybe from its own thread)."""

    def __init__(self, delivery: "Delivery", seq: int, request: dict[str, Any]):
        self._delivery, self._seq, self._request = delivery, seq, request

    def delivered(self, results: Results | None) -> None:
        self._delivery.delivered(self._seq, self._request, results)

    def failed(self, error: Exception) -> None:
        self._delivery.not_delivered(self._seq, error)


class Delivery:
    """Sends one run's spool from a thread of its own."""

    def __init__(self, project: str, run: str, spool: Spool, storage: "Storage",
                 open_dispatch: Callable[[], Dispatch], settings: Settings, online: bool = True):
        self.project, self.run = project, run
        self.spool, self.storage, self.settings = spool, storage, settings
        self.online = online
        self.outcomes = Outcomes()
        self.outage: str | None = None
        self._open_dispatch = open_dispatch
        self._dispatch: Dispatch | None = None
        self._opening = False  # the delivery thread is opening the dispatch: `warm` opens none
        self._history = HistoryChunks(project, run)
        self._cond = threading.Condition()
        self._inflight: set[int] = set()
        self._acks = Acks(float(settings.resend_after))
        self._attempts: Counter[int] = Counter()
        self._raw = RawUploads(spool, storage)
        self._retry_at = 0.0
        self._backoff = 0.5
        self._flushing = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="darkroom-delivery", daemon=True)
        self._thread.start()

    # -- what the sender asks --------------------------------------------------
    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def unsent(self) -> int:
        """Spool entries not yet handed to the dispatch (or in its hands right now)."""
        queued = self._acks.waiting()
        return sum(1 for e in self.spool.pending() if e["seq"] not in queued)

    def queued(self) -> int:
        """Requests on the broker whose manifests are not all stored yet."""
        return len(self._acks.waiting())

    def flush(self, deadline: float | None, memory_left: Callable[[], int]) -> bool:
        """Send everything now (rows too, retrying at once); wait until nothing is unsent."""
        with self._cond:
            self._retry_at = 0.0
            self._flushing += 1
            self._cond.notify_all()
        try:
            while True:
                if not memory_left() and not self.unsent():
                    return True
                if not self._thread.is_alive() or (deadline is not None and time.monotonic() >= deadline):
                    return False
                with self._cond:
                    self._cond.wait(timeout=0.05)
        finally:
            with self._cond:
                self._flushing -= 1

    def acknowledge(self, stored: dict[Ident, int]) -> None:
        """Forget queued requests whose items all have a manifest: `stored` maps (step, segment of
        the key, index) to the newest stored revision."""
        self._acks.acknowledge(stored, self.spool.done)

    def stop(self) -> None:
        """Send nothing more (Ctrl-C at exit): the spool keeps what is not delivered."""
        with self._cond:
            self.online = False
            self._cond.notify_all()
        if self._dispatch is not None:
            self._dispatch.abandon()

    def close(self, timeout: float | None = None) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._dispatch is not None:
            self._dispatch.close(wait=True)

    @property
    def dispatch(self) -> Dispatch | None:
        return self._dispatch

    def warm(self) -> None:
        """Open the dispatch now, before the first item needs it (a notebook's embedded workers import
        meanwhile).  Under the lock, so `close` either finds it or it is not opened: only the embedded
        dispatch is warmed, and opening it starts processes without waiting for them."""
        with self._cond:
            if self._dispatch is None and not self._opening and not self._stopping and self.online:
                self._dispatch = self._open_dispatch()
                getattr(self._dispatch, "prestart", lambda: None)()

    def _open_here(self) -> None:
        """Open the dispatch on the delivery thread, outside the lock (a broker may take time to answer).
        Never a second one beside `warm`'s: a run's embedded workers share one marks folder, and closing
        a spare dispatch removed that folder under the other's workers."""
        with self._cond:
            if self._dispatch is not None:
                return
            self._opening = True
        opened = None
        try:
            opened = self._open_dispatch()
        finally:
            with self._cond:
                self._opening = False
                self._dispatch = opened

    # -- what a dispatch tells -------------------------------------------------
    def delivered(self, seq: int, request: dict[str, Any], results: Results | None) -> None:
        """Request `seq` is converted (`results`) or on the queue (None)."""
        if results is not None:
            self.outcomes.record(request, results)
            self.spool.done(seq)
        else:
            self._acks.queued(seq, request)
        with self._cond:
            self._inflight.discard(seq)
            self._attempts.pop(seq, None)
            self._cond.notify_all()

    def not_delivered(self, seq: int, error: Exception) -> None:
        with self._cond:
            self._inflight.discard(seq)
            self._cond.notify_all()
        self._failed_attempt(error)

    # -- the loop --------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._ready():
                    self._cond.wait(timeout=POLL)
                if self._stopping:
                    return
            try:
                self._round()
            except Exception as e:  # the guard: the loop must outlive any bug in one round
                background_warn(f"darkroom: delivery of run {self.project}/{self.run} failed "
                                f"({type(e).__name__}: {e}); retrying")
                self._failed_attempt(e)

    def _ready(self) -> bool:
        if not self.online or time.monotonic() < self._retry_at:
            return False
        now = time.monotonic()
        if self._acks.due(now):
            return True
        rows_due = self._flushing or self._history.due(now)
        busy = self._inflight | self._acks.waiting()
        return any(e["seq"] not in busy and (rows_due or e["type"] != "history") for e in self.spool.pending())

    def _round(self) -> None:
        try:
            self._check_queued()
            with self._cond:
                busy = self._inflight | self._acks.waiting()
            pending = [e for e in self.spool.pending() if e["seq"] not in busy]
            rows = [e for e in pending if e["type"] == "history"]
            if rows and (self._flushing or self._history.due()):
                self._history.write(self.storage, [r for e in rows for r in _rows_of(e)])
                for e in rows:
                    self.spool.done(e["seq"])
            for entry in pending:
                if entry["type"] == "history" or not self.online:
                    continue
                try:
                    self._send(entry)
                except (Transient, StorageError):
                    raise
                except Exception as e:
                    self._attempts[entry["seq"]] += 1
                    if self._attempts[entry["seq"]] >= ATTEMPTS or isinstance(e, (InvalidInput, FileNotFoundError)):
                        self._give_up(entry, e)
                        continue
                    raise
        except Exception as e:
            self._failed_attempt(e)
            return
        if self.outage:
            background_warn(f"darkroom: sending resumed; {self.unsent()} spooled item(s) left")
            self.outage = None
        self._backoff = 0.5

    def _send(self, entry: dict[str, Any]) -> None:
        if entry["type"] == "object":
            if not isinstance(entry.get("body"), str):
                raise InvalidInput("invalid_entry", "an object entry without a text body")
            self.storage.put(self._object_key(entry.get("key")), entry["body"].encode(), "application/json")
            self.spool.done(entry["seq"])
        elif entry["type"] == "convert":
            self._send_convert(entry)
        else:
            raise InvalidInput("invalid_entry", f"a spool entry of unknown type {entry['type']!r}")

    def _object_key(self, key: Any) -> str:
        """An object entry's key, refused unless it is inside this run's folder (a spool may be crafted)."""
        prefix = paths.run_prefix(self.project, self.run) + "/"
        if not isinstance(key, str) or not key.startswith(prefix):
            raise InvalidInput("invalid_entry", f"object key {key!r} is outside the run's folder {prefix}")
        return paths.check_storage_key(key)

    def _send_convert(self, entry: dict[str, Any]) -> None:
        from darkroom.pipeline.messages import decode_request

        seq = entry["seq"]
        request = decode_request(entry["request"])
        if (request.project, request.run) != (self.project, self.run):
            raise InvalidInput("invalid_entry", f"a request of run {request.project}/{request.run} "
                               f"in the spool of {self.project}/{self.run}")
        uploaded_now = self._raw.put_missing(request, entry)
        wire = request.to_json()
        for item in wire["items"]:
            # The payloads are where this storage keeps them, whatever the spool says
            # (a spool synced to another storage than it was logged to).
            for source in [item["source"], *item["related"].values()]:
                source["uri"] = self.storage.uri(paths.raw_key(source["sha256"], source["ext"]))
            item["new_payload"] = not self._acks.resent(seq) and all(
                src["sha256"] in uploaded_now for src in [item["source"], *item["related"].values()])
        if self._dispatch is None:
            self._open_here()
        with self._cond:
            self._inflight.add(seq)
        try:
            self._dispatch.send(wire, _Receipt(self, seq, wire))
        except BaseException:
            with self._cond:
                self._inflight.discard(seq)
            raise

    def _give_up(self, entry: dict[str, Any], error: Exception) -> None:
        """Fail the items of an entry that cannot be sent; the rest of the spool goes on."""
        records, said = given_up_records(self.project, self.run, entry, error)
        try:
            for record in records:
                self.storage.put(record.entry["key"], record.entry["body"].encode(), "application/json")
        except (Transient, StorageError):
            raise  # an outage: give it up on a later round
        except Exception as e:  # giving up must not block the spool behind it either
            said = f"{said}; and its failed manifests could not be written ({type(e).__name__}: {e})"
        background_warn(f"darkroom: {said}")
        self._attempts.pop(entry["seq"], None)
        self.spool.done(entry["seq"])

    def _check_queued(self) -> None:
        """Forget the queued requests whose manifests are stored; send again those overdue."""
        if not self._acks.due():
            return
        from darkroom.pipeline.reader import RunReader

        found = RunReader(self.storage, self.project, self.run).entries()
        self.acknowledge({ident: entry.revision for ident, entry in found.items()})
        if self._acks.overdue():  # unsent again: the next round sends them
            self._raw.forget()  # a raw payload may have gone since: look again

    def _failed_attempt(self, error: Exception) -> None:
        if not self.online:  # stopped sending (Ctrl-C at exit): the spool keeps it, nothing to retry
            return
        if self.outage is None:
            background_warn(f"darkroom: cannot send ({error}); {self.unsent()} item(s) stay in the spool at "
                            f"{self.spool.root} and are sent when the backend returns")
        self.outage = str(error)
        self._retry_at = time.monotonic() + self._backoff * (0.5 + random.random())
        self._backoff = min(BACKOFF_MAX, self._backoff * 2)


def _rows_of(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a history entry: ``rows`` (a batch), or ``row`` as older spools wrote it."""
    rows = entry.get("rows")
    if rows is None:
        rows = [entry.get("row")]
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("_step"), int)]
