"""Marks of the items a worker is converting, so an item that kills its worker is not tried forever.

A converter can end its process without raising: a crash in a codec's C
code, or the kernel's out-of-memory kill.  The queue then delivers the
request again (`acks_late`, `reject_on_worker_lost`; the embedded dispatch
resends it), and the same item would end the next worker too.  Before an
item is converted its mark is counted up, and after it (whatever happened
in Python) the mark is removed: a mark still standing when the item starts
again counts a worker that ended on it.  After `CRASHES_ALLOWED` of those the
item becomes a failed manifest (``worker_crashed``) and the rest of the
request, and of the run, goes on.

Fleet workers keep the marks in Redis, next to the queues (they outlive any
one worker); on a RabbitMQ broker, which has no place for them, in the
storage every worker shares (three more requests an item); embedded workers
in a folder their training process made.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from darkroom.pipeline.storage import Storage

CRASHES_ALLOWED = 2  # an item's third start after two ended workers fails it
_TTL_S = 7 * 24 * 3600  # a Redis mark left by a request that is never delivered again

log = logging.getLogger("darkroom.worker")


class CrashMarks:
    """No marks: every start is the first (for callers with no queue redelivering, such as tests)."""

    def start(self, ident: str) -> int:
        """Count a start of the item `ident`; return how many starts its mark holds, this one included."""
        return 1

    def end(self, ident: str) -> None:
        """The item's conversion returned or raised: the worker survived it."""


class RedisMarks(CrashMarks):
    """Marks as Redis counters ``darkroom:converting:<item>``, shared by every worker of the fleet."""

    def __init__(self, url: str):
        import redis

        self._redis: Any = redis.Redis.from_url(url)
        self._errors = redis.RedisError

    @staticmethod
    def _key(ident: str) -> str:
        return f"darkroom:converting:{ident}"

    # Marks are a guard, not the work: with Redis unreachable (the queue is
    # too, and the task retries), an item converts unmarked.
    def start(self, ident: str) -> int:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                starts, _ = pipe.incr(self._key(ident)).expire(self._key(ident), _TTL_S).execute()
            return int(starts)
        except self._errors as e:
            log.warning("could not mark %s as converting: %s", ident, e)
            return 1

    def end(self, ident: str) -> None:
        try:
            self._redis.delete(self._key(ident))
        except self._errors as e:
            log.warning("could not unmark %s: %s", ident, e)


class FileMarks(CrashMarks):
    """Marks as small files in a folder, for the embedded workers of one training process."""

    def __init__(self, folder: str | os.PathLike[str]):
        self._folder = Path(folder)

    def _path(self, ident: str) -> Path:
        return self._folder / hashlib.sha256(ident.encode()).hexdigest()

    def start(self, ident: str) -> int:
        path = self._path(ident)
        try:
            starts = int(path.read_text() or 0) + 1
        except (FileNotFoundError, ValueError):
            starts = 1
        try:
            path.write_text(str(starts))
        except OSError as e:  # a full or read-only disk: convert unmarked, as with Redis unreachable
            log.warning("cannot mark %s as converting in %s (%s); it converts unmarked", ident, self._folder, e)
        return starts

    def end(self, ident: str) -> None:
        self._path(ident).unlink(missing_ok=True)


class StorageMarks(CrashMarks):
    """Marks as small objects ``converting/<sha256 of the item>`` in the fleet's storage (a RabbitMQ broker).

    Two workers never convert the same item at once (one message, one
    consumer), so a read then a write counts starts as Redis's INCR does.
    """

    def __init__(self, storage: "Storage"):
        from darkroom.pipeline.errors import InvalidInput, NotFound, StorageError

        # No mark yet, or an object there that is not one (too big, not a number): a first start.
        self._storage, self._unmarked, self._errors = storage, (NotFound, InvalidInput, ValueError), StorageError

    @staticmethod
    def key(ident: str) -> str:
        return f"converting/{hashlib.sha256(ident.encode()).hexdigest()}"

    # As with Redis: the marks are a guard, not the work; storage trouble converts the item unmarked.
    def start(self, ident: str) -> int:
        try:
            try:
                starts = int(self._storage.get(self.key(ident), max_bytes=32)) + 1
            except self._unmarked:
                starts = 1
            self._storage.put(self.key(ident), str(starts).encode(), "text/plain")
            return starts
        except self._errors as e:
            log.warning("could not mark %s as converting: %s", ident, e)
            return 1

    def end(self, ident: str) -> None:
        try:
            self._storage.delete(self.key(ident))
        except self._errors as e:
            log.warning("could not unmark %s: %s", ident, e)
