"""The background sender: snapshot in, spool, upload, enqueue (DESIGN.md, the path of one item).

The training thread only hands work over (`put`).  This thread serialises and
hashes it, writes it to the spool (write-ahead), then uploads raw payloads and
sends requests, deleting each spool entry once it is delivered.  Memory holds
only what has not reached the spool yet, bounded: when that is full, `put`
waits.  While storage or the broker is unreachable, work keeps reaching the
spool and sending is retried with backoff; it resumes by itself.

History rows go to an open chunk object, rewritten with the rows that came
since (at most every `_HISTORY_REWRITE_S` seconds, at once when flushing)
until it holds `_HISTORY_CHUNK` rows or `_HISTORY_CHUNK_BYTES`: a run has a
history object per thousand rows, not one per step, however its rows and
media interleave in the spool.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import random
import threading
import time
from collections import deque
from typing import Any

import numpy as np

from darkroom._guard import DarkroomWarning, warn
from darkroom._histogram import resolve
from darkroom._media import EAGER_FILE_BYTES, NPY, ArraySnapshot, BytesSnapshot, FileSnapshot, Media
from darkroom._spool import Spool
from darkroom._table import JsonSnapshot
from darkroom.pipeline import index as run_index
from darkroom.pipeline import paths
from darkroom.pipeline.errors import InvalidInput, Transient
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import Storage, open_storage

_HISTORY_CHUNK = 1000  # rows per history object at most
_HISTORY_CHUNK_BYTES = 64 * 1024  # a chunk is sealed past this: bounds what each rewrite sends
_HISTORY_REWRITE_S = 0.5  # the open chunk is rewritten at most this often (rows wait in the spool)
_BACKOFF_MAX = 30.0
_POLL = 0.02  # seconds the idle sender waits before looking at the queue again
_WAKE_BYTES = 16 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class MediaWork:
    step: int
    key: str
    kind: str
    items: list[Media]
    indices: list[int] | None = None  # default: 0..n-1
    revision: int = 1  # > 1: the key was logged again in the same row, and the last value wins


@dataclasses.dataclass(frozen=True)
class RowWork:
    row: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class ObjectWork:
    key: str
    body: bytes


Work = MediaWork | RowWork | ObjectWork


class Sender:
    """Owns the spool of one run and the thread that drains it."""

    def __init__(self, project: str, run: str, settings: Settings, spool: Spool, online: bool = True):
        self.project, self.run = project, run
        self.settings = settings
        self.spool = spool
        self.online = online
        self._storage: Storage | None = None
        self._dispatch: Any = None
        self._queue: deque[tuple[Work, int]] = deque()
        self._held = 0  # bytes in _queue
        self._cond = threading.Condition()
        self._busy = 0  # entries the thread took from _queue and is spooling
        self._inflight: set[int] = set()
        self._uploaded: set[str] = set()
        self._retry_at = 0.0
        self._backoff = 0.5
        self._outage: str | None = None
        self._warned_full = False
        self._stopping = False
        self._flushing = 0  # flush() calls waiting: rows are sent at once
        # The open history chunk: its key, its lines as written, their bytes, when it was last put.
        self._chunk_key: str | None = None
        self._chunk_lines: list[str] = []
        self._chunk_bytes = 0
        self._chunk_put_at = 0.0
        # (step, key, index, revision) -> (status, error code): what embedded workers reported.
        self.outcomes: dict[tuple[int, str, int, int], tuple[str, str]] = {}
        self.sent_items: set[tuple[int, str, int]] = set()
        self._thread = threading.Thread(target=self._loop, name="darkroom-sender", daemon=True)
        self._thread.start()

    # -- the training thread's side ------------------------------------------
    def put(self, work: Work, nbytes: int = 0) -> None:
        """Hand over `work`; wait while the memory bound is reached (never drop)."""
        with self._cond:
            limit = self.settings.send_buffer_bytes
            while self._held and self._held + nbytes > limit and self._thread.is_alive():
                if not self._warned_full:
                    self._warned_full = True
                    warn(
                        f"darkroom: {self._held} bytes wait to be spooled (DARKROOM_SEND_BUFFER_BYTES="
                        f"{limit}); log() waits for the sender instead of dropping data"
                    )
                self._cond.wait(timeout=1.0)
            self._queue.append((work, nbytes))
            self._held += nbytes
            # No wake-up per call: waking the sender costs the training thread
            # ~50 us of scheduling (measured in bench/log_overhead.py), more than
            # the rest of log().  The sender polls every _POLL seconds; a large
            # backlog wakes it at once.
            if self._held >= _WAKE_BYTES:
                self._cond.notify_all()

    def flush(self, timeout: float | None = None, progress: Any = None) -> bool:
        """Wait until everything handed over is spooled and (online) delivered."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._retry_at = 0.0  # try now, not after the current backoff
            self._flushing += 1
            self._cond.notify_all()
            try:
                while True:
                    left = len(self._queue) + len(self.spool) if self.online else len(self._queue)
                    if progress:
                        progress(left)
                    if left == 0 and not self._busy:
                        return True
                    if not self._thread.is_alive():
                        return False
                    if deadline is not None and time.monotonic() >= deadline:
                        return False
                    self._cond.wait(timeout=0.2)
            finally:
                self._flushing -= 1

    def close(self, timeout: float | None = None) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._dispatch is not None:
            self._dispatch.close(wait=True)

    def stop_sending(self, timeout: float) -> int:
        """Send nothing more; write what memory still holds to the spool (local disk only).

        For leaving at once (Ctrl-C at exit): the spool keeps everything for
        `darkroom sync`.  Returns the entries still in memory after `timeout`
        seconds (0: all of them are spooled).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self.online = False
            self._cond.notify_all()
            while (self._queue or self._busy) and self._thread.is_alive() and time.monotonic() < deadline:
                self._cond.wait(timeout=0.2)
            left = len(self._queue) + self._busy
        if self._dispatch is not None:  # embedded workers are stopped: what they held is in the spool
            self._dispatch.abandon()
        return left

    def in_memory(self) -> int:
        """Entries handed over and not spooled yet."""
        with self._cond:
            return len(self._queue)

    def backlog(self) -> int:
        """Entries handed over and not yet delivered (still in memory or in the spool)."""
        with self._cond:
            return len(self._queue) + len(self.spool)

    @property
    def outage(self) -> str | None:
        return self._outage

    # -- the sender thread ---------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping and not self._can_send():
                    self._cond.wait(timeout=self._wait_time())
                if self._stopping and not self._queue:
                    return
                batch = list(self._queue)
                self._queue.clear()
                self._busy = len(batch)
            try:
                for work, _ in batch:
                    self._spool_work(work)
            except Exception as e:  # the guard: a spool failure must not kill the thread
                warn(f"darkroom: could not spool logged data ({type(e).__name__}: {e}); it is lost", 2)
            finally:
                with self._cond:
                    self._held -= sum(n for _, n in batch)
                    self._busy = 0
                    self._cond.notify_all()
            if self.online and time.monotonic() >= self._retry_at:
                self._send_pending()
                with self._cond:
                    self._cond.notify_all()  # a flush() waiting for the spool to drain

    def _can_send(self) -> bool:
        if not self.online or time.monotonic() < self._retry_at:
            return False
        rows_due = self._rows_due()
        return any(e["seq"] not in self._inflight and (rows_due or e["type"] != "history")
                   for e in self.spool.pending())

    def _rows_due(self) -> bool:
        """Whether history rows may be sent now: a new chunk, a flush, or the open one is old enough."""
        return (not self._chunk_lines or bool(self._flushing) or self._stopping
                or time.monotonic() - self._chunk_put_at >= _HISTORY_REWRITE_S)

    def _wait_time(self) -> float:
        return _POLL

    # spooling ----------------------------------------------------------------
    def _spool_work(self, work: Work) -> None:
        if isinstance(work, RowWork):
            # Histograms are binned here, off the training thread.
            self.spool.append({"type": "history", "row": resolve(work.row)}, {})
        elif isinstance(work, ObjectWork):
            self.spool.append({"type": "object", "key": work.key, "body": work.body.decode()}, {})
        else:
            self._spool_media(work)

    def _spool_media(self, work: MediaWork) -> None:
        storage = self._storage_here()
        # Items with the same options share a request; a list mixing options
        # (a PNG and a JPEG under one key) becomes one request per options.
        groups: dict[str, list[dict[str, Any]]] = {}
        files: dict[str, dict[str, tuple[bytes, str]]] = {}
        for position, media in enumerate(work.items):
            index = work.indices[position] if work.indices is not None else position
            options = json.dumps(media._options, sort_keys=True)
            found: dict[str, tuple[bytes, str]] = {}
            try:
                source = self._payload(media._payload, storage, found)
                related = {role: self._payload(snap, storage, found) for role, snap in media._related.items()}
            except InvalidInput as e:
                manifest = _failed_manifest(self.project, self.run, work, index, media, e)
                key = paths.manifest_key(self.project, self.run, work.step, work.key, index, work.revision)
                self.spool.append({"type": "object", "key": key, "body": manifest.to_json_bytes().decode()}, {})
                # Sent after the manifest, as a worker does: the run's index names it.
                key, body = run_index.journal_object(self.project, self.run, [manifest])
                self.spool.append({"type": "object", "key": key, "body": body.decode()}, {})
                continue
            groups.setdefault(options, []).append({
                "index": index, "caption": media.caption, "source": source,
                "related": related, "extra": media._extra,
            })
            files.setdefault(options, {}).update(found)
        for options, items in groups.items():
            request = {
                "schema": "darkroom.convert/1", "project": self.project, "run": self.run,
                "step": work.step, "key": work.key, "kind": work.kind,
                "options": json.loads(options), "items": items,
                **({"revision": work.revision} if work.revision > 1 else {}),
            }
            names = [{"name": name, "media_type": mt} for name, (_, mt) in files[options].items()]
            data = {name: d for name, (d, _) in files[options].items()}
            self.spool.append({"type": "convert", "request": request, "payloads": names}, data)

    def _payload(self, snap: Any, storage: Storage, found: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
        """Serialise and hash one snapshot; add its bytes to `found`; return its source."""
        limit = self.settings.limits.max_payload_bytes
        if isinstance(snap, ArraySnapshot):
            if snap.array.nbytes > limit:  # refused before serialising: .npy adds only a header
                raise InvalidInput("too_large", f"array of {snap.array.nbytes} bytes exceeds the bound of {limit} "
                                   "(DARKROOM_MAX_PAYLOAD_BYTES)")
            buf = io.BytesIO()
            np.save(buf, snap.array, allow_pickle=False)
            data, ext, media_type = buf.getvalue(), "npy", NPY
        elif isinstance(snap, FileSnapshot):
            data, ext, media_type = _read_file(snap, limit), snap.ext, "application/octet-stream"
        elif isinstance(snap, BytesSnapshot):
            data, ext, media_type = snap.data, snap.ext, snap.media_type
        elif isinstance(snap, JsonSnapshot):
            data, ext, media_type = json.dumps(snap.value).encode(), "json", "application/json"
        else:
            raise InvalidInput("invalid_payload", f"nothing to send for {snap!r}")
        if len(data) > limit:
            raise InvalidInput("too_large", f"payload of {len(data)} bytes exceeds the bound of {limit} "
                               "(DARKROOM_MAX_PAYLOAD_BYTES)")
        sha = hashlib.sha256(data).hexdigest()
        found[f"{sha}.{ext}"] = (data, media_type)
        return {"uri": storage.uri(paths.raw_key(sha, ext)), "sha256": sha, "bytes": len(data),
                "media_type": media_type, "ext": ext}

    # sending -----------------------------------------------------------------
    def _send_pending(self) -> None:
        pending = [e for e in self.spool.pending() if e["seq"] not in self._inflight]
        try:
            rows = [e for e in pending if e["type"] == "history"]
            if rows and self._rows_due():
                self._send_history(rows)
            for entry in pending:
                if entry["type"] == "history":
                    continue
                if entry["type"] == "object":
                    self._storage_here().put(entry["key"], entry["body"].encode(), "application/json")
                    self.spool.done(entry["seq"])
                else:
                    self._send_convert(entry)
                with self._cond:
                    if self._queue:  # spool new work first: memory is the scarce side
                        return
        except Transient as e:
            self._failed_attempt(e)
            return
        except Exception as e:  # the guard: anything else (permissions, a bad path) is retried too
            self._failed_attempt(e)
            return
        if self._outage:
            warn(f"darkroom: sending resumed; {len(self.spool)} spooled item(s) left", 2)
            self._outage = None
        self._backoff = 0.5

    def _send_history(self, entries: list[dict[str, Any]]) -> None:
        """Append the rows of `entries` to the open chunk (or new ones), rewriting it whole.

        A chunk is named by its first row's step, and a reader takes a
        later-named chunk's row over an earlier one's, so rows sent twice
        after a crash (put, then killed before the spool knew) read once.
        The open chunk's state changes only once its put succeeded.
        """
        storage = self._storage_here()
        i = 0
        while i < len(entries):
            lines, size, j = list(self._chunk_lines), self._chunk_bytes, i
            while j < len(entries) and len(lines) < _HISTORY_CHUNK and (not lines or size < _HISTORY_CHUNK_BYTES):
                line = json.dumps(entries[j]["row"]) + "\n"
                lines.append(line)
                size += len(line)
                j += 1
            key = self._chunk_key or paths.history_chunk_key(self.project, self.run, int(entries[i]["row"]["_step"]))
            storage.put(key, "".join(lines).encode(), "application/x-ndjson")
            for e in entries[i:j]:
                self.spool.done(e["seq"])
            if len(lines) >= _HISTORY_CHUNK or size >= _HISTORY_CHUNK_BYTES:
                self._chunk_key, self._chunk_lines, self._chunk_bytes = None, [], 0  # sealed
            else:
                self._chunk_key, self._chunk_lines, self._chunk_bytes = key, lines, size
            self._chunk_put_at = time.monotonic()
            i = j

    def _send_convert(self, entry: dict[str, Any]) -> None:
        storage = self._storage_here()
        uploaded_now = set()
        for p in entry["payloads"]:
            key = paths.raw_key(*p["name"].split(".", 1))
            if key in self._uploaded:
                continue
            if not storage.exists(key):
                storage.put(key, self.spool.payload(p["name"]), p["media_type"])
                uploaded_now.add(p["name"].split(".", 1)[0])
            self._uploaded.add(key)
        request = entry["request"]
        if uploaded_now:
            request = {**request, "items": [
                {**item, "new_payload": all(src["sha256"] in uploaded_now
                                            for src in [item["source"], *item["related"].values()])}
                for item in request["items"]]}
        seq = entry["seq"]
        idents = [(request["step"], request["key"], item["index"]) for item in request["items"]]
        self._inflight.add(seq)

        revision = request.get("revision", 1)

        def delivered(results: list[tuple[str, str]] | None) -> None:
            if results is not None:
                for ident, outcome in zip(idents, results):
                    self.outcomes[(*ident, revision)] = outcome
            self.spool.done(seq)
            self.sent_items.update(idents)
            with self._cond:
                self._inflight.discard(seq)
                self._cond.notify_all()

        def failed(error: Exception) -> None:
            with self._cond:
                self._inflight.discard(seq)
                self._cond.notify_all()
            self._failed_attempt(error)

        try:
            self._dispatch_here().send(request, delivered, failed)
        except Exception:
            with self._cond:
                self._inflight.discard(seq)
            raise

    def _failed_attempt(self, error: Exception) -> None:
        if not self.online:  # stopped sending (Ctrl-C at exit): the spool keeps it, nothing to retry
            return
        if self._outage is None:
            warn(
                f"darkroom: cannot send ({error}); {len(self.spool)} item(s) stay in the spool at "
                f"{self.spool.root} and are sent when the backend returns", 2,
            )
        self._outage = str(error)
        self._retry_at = time.monotonic() + self._backoff * (0.5 + random.random())
        self._backoff = min(_BACKOFF_MAX, self._backoff * 2)

    def _storage_here(self) -> Storage:
        if self._storage is None:
            self._storage = open_storage(self.settings.resolved_storage_url(), self.settings)
        return self._storage

    def _dispatch_here(self) -> Any:
        if self._dispatch is None:
            from darkroom._dispatch import CeleryDispatch, EmbeddedDispatch

            if self.settings.embedded:
                # Beside the spool: a `darkroom sync` after a crash finds the marks its workers left.
                self._dispatch = EmbeddedDispatch(self.settings, self.spool.root.parent / "worker-marks")
            else:
                self._dispatch = CeleryDispatch(self.settings)
        return self._dispatch


def _read_file(snap: FileSnapshot, limit: int) -> bytes:
    """The bytes of a logged file: taken when it was logged, or read now if it has not changed since."""
    if snap.data is not None:
        return snap.data
    path = snap.path
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if snap.stamp is not None and snap.stamp != (st.st_size, st.st_mtime_ns, st.st_ino):
                raise InvalidInput(
                    "file_changed",
                    f"file {path} changed after its media object was made ({snap.stamp[0]} bytes then, {st.st_size} now); "
                    f"a file over {EAGER_FILE_BYTES} bytes is read on darkroom's sender thread, after log() "
                    "returns: write each step's file under a new name, or log its bytes (io.BytesIO)")
            if st.st_size > limit:
                raise InvalidInput("too_large", f"file {path} is {st.st_size} bytes; the bound is {limit} "
                                   "(DARKROOM_MAX_PAYLOAD_BYTES)")
            return f.read(limit + 1)
    except FileNotFoundError:
        raise InvalidInput("missing_file", f"file {path} was removed before it could be sent") from None
    except OSError as e:
        raise InvalidInput("unreadable_file", f"file {path} could not be read: {e}") from None


def _failed_manifest(project: str, run: str, work: MediaWork, index: int, media: Media,
                     error: InvalidInput) -> Any:
    from darkroom.pipeline.manifest import ConverterInfo, ErrorInfo, Manifest

    return Manifest(
        project=project, run=run, step=work.step, key=work.key, index=index, kind=work.kind,
        status="failed", error=ErrorInfo(code=error.code, message=error.message), caption=media.caption,
        converter=ConverterInfo(name=work.kind, version="-"), revision=work.revision,
    )


__all__ = ["Sender", "MediaWork", "RowWork", "ObjectWork", "DarkroomWarning"]
