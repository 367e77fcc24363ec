"""End-to-end acknowledgement: requests on a broker wait for their manifests, and go again if none come.

A broker that accepted a message can still lose it (a Redis without
persistence restarted), so a spool entry handed to a queue is not done: it is
*queued* here until every item's manifest exists at the request's revision.
A request whose manifests have not appeared `resend_after` seconds after it
was sent is handed back to the delivery loop to send again, with the wait
doubled each time.  Resends are idempotent: artifacts are content addressed
and manifest keys deterministic.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from darkroom.pipeline import paths

ACK_EVERY = 5.0  # seconds between looks for the manifests of queued requests

Stored = dict[tuple[int, str, int], int]  # (step, segment of the key, index) -> newest stored revision


@dataclasses.dataclass
class _Queued:
    request: dict[str, Any]
    resend_at: float
    wait: float  # the wait before this resend


class Acks:
    """The queued requests of one run's spool, by spool sequence number (thread-safe)."""

    def __init__(self, resend_after: float):
        self.resend_after = resend_after
        self._queued: dict[int, _Queued] = {}
        self._next_wait: dict[int, float] = {}  # seq -> the wait before its next resend
        self._resent: set[int] = set()
        self._looked_at = 0.0
        self._lock = threading.Lock()

    def queued(self, seq: int, request: dict[str, Any]) -> None:
        """Request `seq` is on the broker now."""
        with self._lock:
            wait = self._next_wait.pop(seq, self.resend_after)
            self._queued[seq] = _Queued(request, time.monotonic() + wait, wait)

    def waiting(self) -> set[int]:
        """Sequence numbers on the broker, waiting for their manifests."""
        with self._lock:
            return set(self._queued)

    def resent(self, seq: int) -> bool:
        """Whether `seq` was sent before (its payloads may be stored: no `new_payload` hint)."""
        with self._lock:
            return seq in self._resent

    def due(self, now: float | None = None) -> bool:
        """Whether it is time to look for manifests: every ACK_EVERY seconds, or a resend is due."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return bool(self._queued) and (now - self._looked_at >= ACK_EVERY
                                           or any(q.resend_at <= now for q in self._queued.values()))

    def acknowledge(self, stored: Stored, done: Callable[[int], None]) -> None:
        """Call `done(seq)` for each queued request whose items all have a manifest, then forget it.

        In that order, under the lock: a request is never neither queued nor
        done, so the delivery loop cannot take it for unsent and send it twice.
        """
        with self._lock:
            for seq, waiting in list(self._queued.items()):
                request = waiting.request
                revision = request.get("revision", 1)
                segment = paths.segment(request["key"])
                if all(stored.get((request["step"], segment, item["index"]), 0) >= revision
                       for item in request["items"]):
                    done(seq)
                    del self._queued[seq]

    def overdue(self) -> list[int]:
        """Take the requests whose manifests are overdue off the queue: they are to be sent again."""
        now = time.monotonic()
        again = []
        with self._lock:
            self._looked_at = now
            for seq, waiting in list(self._queued.items()):
                if waiting.resend_at <= now:
                    del self._queued[seq]
                    self._resent.add(seq)
                    self._next_wait[seq] = waiting.wait * 2
                    again.append(seq)
        return again
