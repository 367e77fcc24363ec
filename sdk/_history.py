"""The history-chunk writer: a run's rows go to an open chunk object, rewritten until it is full.

Rows are appended to the open chunk and the chunk is put whole (at most every
`REWRITE_S` seconds, at once when flushing) until it holds `CHUNK_ROWS` rows
or `CHUNK_BYTES`: a run has a history object per thousand rows, not one per
step, however its rows and media interleave in the spool.

A chunk is named by its first row's step, and a reader takes a later-named
chunk's row over an earlier one's, so rows sent twice after a crash (put,
then killed before the spool knew) read once.  The open chunk's state
changes only once its put succeeded.
"""

from __future__ import annotations

import json
import time
from typing import Any

from darkroom.pipeline import paths
from darkroom.pipeline.storage import Storage

CHUNK_ROWS = 1000  # rows per history object at most
CHUNK_BYTES = 64 * 1024  # a chunk is sealed past this: bounds what each rewrite sends
REWRITE_S = 0.5  # the open chunk is rewritten at most this often (rows wait in the spool)


class HistoryChunks:
    """The open history chunk of one run."""

    def __init__(self, project: str, run: str, chunk_rows: int | None = None, chunk_bytes: int | None = None):
        self.project, self.run = project, run
        self.chunk_rows = chunk_rows or CHUNK_ROWS
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES
        self._key: str | None = None
        self._lines: list[str] = []
        self._bytes = 0
        self._put_at = 0.0

    def due(self, now: float | None = None) -> bool:
        """Whether rows may be written now without a flush: no chunk is open, or it is old enough."""
        now = time.monotonic() if now is None else now
        return not self._lines or now - self._put_at >= REWRITE_S

    def write(self, storage: Storage, rows: list[dict[str, Any]]) -> None:
        """Append `rows` to the open chunk (sealing it and opening the next as they fill), putting each.

        Raises
        ------
        StorageError (or a subclass): a put failed; the chunk is as it was before that put.
        """
        i = 0
        while i < len(rows):
            lines, size, j = list(self._lines), self._bytes, i
            while j < len(rows) and len(lines) < self.chunk_rows and (not lines or size < self.chunk_bytes):
                line = json.dumps(rows[j]) + "\n"
                lines.append(line)
                size += len(line)
                j += 1
            key = self._key or paths.history_chunk_key(self.project, self.run, int(rows[i]["_step"]))
            storage.put(key, "".join(lines).encode(), "application/x-ndjson")
            if len(lines) >= self.chunk_rows or size >= self.chunk_bytes:
                self._key, self._lines, self._bytes = None, [], 0  # sealed
            else:
                self._key, self._lines, self._bytes = key, lines, size
            self._put_at = time.monotonic()
            i = j
