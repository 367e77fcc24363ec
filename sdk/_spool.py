"""The run's write-ahead spool: every logged item is on local disk before it is sent.

Layout under ``<run dir>/spool/``::

    <seq>.json          an entry not yet delivered (written atomically, last)
    payloads/<sha256>.<ext>   raw payloads the entries name

An entry is deleted once it is delivered (its request enqueued, or converted
in embedded mode); a payload once no pending entry names it.  What survives a
crash is exactly what still has to be sent: `darkroom sync` sends it.  Files
are not fsynced: the spool guards against the process dying (kill -9, OOM, a
crash), whose writes the page cache keeps, not against the machine losing power.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from darkroom.pipeline.storage.file import atomic_write


class Spool:
    """Pending entries of one run, in order."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.payload_dir = self.root / "payloads"
        self.payload_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._refs: Counter[str] = Counter()
        self._entries: dict[int, dict[str, Any]] = {}
        for path in self.root.glob("*.json"):
            try:
                entry = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # a torn write never got its final name; nothing to send
            if not path.stem.isdigit() or not isinstance(entry, dict) or "type" not in entry:
                continue  # not an entry this spool wrote (a stray or damaged file)
            self._entries[int(path.stem)] = entry
            self._refs.update(p["name"] for p in entry.get("payloads", []))
        self._next = max(self._entries, default=0) + 1

    def append(self, entry: dict[str, Any], payloads: dict[str, bytes]) -> int:
        """Write the payloads (content addressed: existing files are kept), then
        `entry`, which names them in ``entry["payloads"]``; return its sequence number."""
        with self._lock:
            for name, data in payloads.items():
                path = self.payload_dir / name
                if name not in self._refs or not path.exists():
                    atomic_write(path, data)
            seq = self._next
            self._next += 1
            entry = {**entry, "seq": seq}
            self._entries[seq] = entry
            self._refs.update(p["name"] for p in entry.get("payloads", []))
            atomic_write(self.root / f"{seq:012d}.json", json.dumps(entry).encode())
        return seq

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._entries[s] for s in sorted(self._entries)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def payload(self, name: str) -> bytes:
        return (self.payload_dir / name).read_bytes()

    def done(self, seq: int) -> None:
        """The entry is delivered: forget it, and payloads no other entry needs."""
        with self._lock:
            entry = self._entries.pop(seq, None)
            if entry is None:
                return
            (self.root / f"{seq:012d}.json").unlink(missing_ok=True)
            for p in entry.get("payloads", []):
                self._refs[p["name"]] -= 1
                if self._refs[p["name"]] <= 0:
                    del self._refs[p["name"]]
                    (self.payload_dir / p["name"]).unlink(missing_ok=True)
