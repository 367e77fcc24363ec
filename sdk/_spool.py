"""The run's write-ahead spool: every logged item is on local disk before it is sent.

Layout under ``<run dir>/spool/``::

    <seq>.json                an entry not yet delivered (written atomically, last)
    payloads/<sha256>.<ext>   raw payloads the entries name

An entry is deleted once it is delivered (its manifests exist, or it was
converted in embedded mode); a payload once no pending entry names it.  What
survives a crash is exactly what still has to be sent: `darkroom sync` sends it.

Entries are written in batches (`append_batch`) and, unless
``DARKROOM_SPOOL_FSYNC=0``, each batch is fsynced before it counts as
spooled, so the spool also survives the machine losing power.  When the
disk refuses a write (full, read-only), the entry is kept in memory instead,
said once, and delivered from there: nothing is lost while the process
lives, and the next batch tries the disk again.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from darkroom._guard import background_warn

# A payload's file name in the spool: what `darkroom sync` accepts from a spool
# it did not write (DESIGN.md, point 5: a name never leads outside the folder).
PAYLOAD_NAME = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,10}$")


def safe_payload_name(name: Any) -> bool:
    """Whether `name` is a plain file name inside ``payloads/`` (no folder, no dot file)."""
    return (isinstance(name, str) and 0 < len(name) <= 255 and "/" not in name and "\\" not in name
            and "\0" not in name and not name.startswith("."))


class Spool:
    """Pending entries of one run, in order."""

    def __init__(self, root: Path, fsync: bool = True):
        self.root = Path(root)
        self.payload_dir = self.root / "payloads"
        self.payload_dir.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._refs: Counter[str] = Counter()
        self._entries: dict[int, dict[str, Any]] = {}
        # Entries and payloads the disk refused, held here until delivered.
        self._in_memory: dict[int, dict[str, bytes]] = {}
        self._memory_bytes = 0
        self._disk_error: str | None = None
        self.damaged: list[str] = []  # files that are not entries this spool can read
        for path in self.root.glob("*.json"):
            try:
                entry = json.loads(path.read_text())
            except (OSError, ValueError):
                self.damaged.append(path.name)  # a torn write never got its final name
                continue
            if not path.stem.isdigit() or not isinstance(entry, dict) or "type" not in entry:
                self.damaged.append(path.name)  # not an entry this spool wrote
                continue
            self._entries[int(path.stem)] = entry
            self._refs.update(_names(entry))
        self._next = max(self._entries, default=0) + 1

    # -- writing -------------------------------------------------------------
    def append(self, entry: dict[str, Any], payloads: dict[str, bytes]) -> int:
        """Write the payloads (content addressed: existing files are kept), then
        `entry`, which names them in ``entry["payloads"]``; return its sequence number."""
        return self.append_batch([(entry, payloads)])[0]

    def append_batch(self, records: Iterable[tuple[dict[str, Any], dict[str, bytes]]]) -> list[int]:
        """Write several entries and their payloads, fsynced together; return their sequence numbers.

        Raises
        ------
        TypeError, ValueError: an entry JSON cannot hold (nothing of that entry is written).
        """
        records = list(records)
        with self._lock:
            bodies = []
            for entry, _ in records:  # serialised first: a bad entry costs nothing on disk
                seq = self._next
                self._next += 1
                entry = {**entry, "seq": seq}
                bodies.append((seq, entry, json.dumps(entry).encode()))
            written: list[tuple[str, Path]] = []  # (temporary, final) names, payloads first
            names: set[str] = set()
            try:
                for (_, payloads), (seq, entry, body) in zip(records, bodies):
                    for name, data in payloads.items():
                        path = self.payload_dir / name
                        if name not in names and not (name in self._refs and path.exists()):
                            names.add(name)
                            written.append(self._write_tmp(path, data))
                    written.append(self._write_tmp(self.root / f"{seq:012d}.json", body))
                self._publish(written)
                for _, (seq, entry, _) in zip(records, bodies):
                    self._entries[seq] = entry
                    self._refs.update(_names(entry))
            except OSError as e:
                for tmp, _ in written:
                    Path(tmp).unlink(missing_ok=True)
                self._keep_in_memory(records, bodies, e)
            return [seq for seq, _, _ in bodies]

    def _write_tmp(self, path: Path, data: bytes) -> tuple[str, Path]:
        tmp = path.with_name(f".tmp-{path.name}-{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        return str(tmp), path

    def _publish(self, written: list[tuple[str, Path]]) -> None:
        for tmp, final in written:
            os.replace(tmp, final)
        if self.fsync and written:  # the renames themselves
            for folder in {final.parent for _, final in written}:
                fd = os.open(folder, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def _keep_in_memory(self, records: list, bodies: list, error: OSError) -> None:
        if self._disk_error is None:  # said once: a disk that stays full is not news at every batch
            background_warn(f"darkroom: cannot write the spool at {self.root} ({error}); logged items are held in "
                            "memory and sent from there, and are lost if this process dies before they are sent")
        self._disk_error = str(error)
        for (_, payloads), (seq, entry, _) in zip(records, bodies):
            self._entries[seq] = entry
            self._refs.update(_names(entry))
            self._in_memory[seq] = dict(payloads)
            self._memory_bytes += sum(len(d) for d in payloads.values())

    # -- reading -------------------------------------------------------------
    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._entries[s] for s in sorted(self._entries)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def memory_bytes(self) -> int:
        """Payload bytes held in memory because the disk refused them."""
        with self._lock:
            return self._memory_bytes

    def payload(self, name: str) -> bytes:
        """The bytes of payload `name`.

        Raises
        ------
        FileNotFoundError: no such payload in the spool (or `name` is not a plain file name).
        """
        if not safe_payload_name(name):
            raise FileNotFoundError(f"payload name {name!r} is not a file name inside {self.payload_dir}")
        with self._lock:
            for payloads in self._in_memory.values():
                if name in payloads:
                    return payloads[name]
        return (self.payload_dir / name).read_bytes()

    def payload_path(self, name: str) -> Path:
        return self.payload_dir / name

    # -- forgetting ----------------------------------------------------------
    def done(self, seq: int) -> None:
        """The entry is delivered: forget it, and payloads no other entry needs."""
        with self._lock:
            entry = self._entries.pop(seq, None)
            if entry is None:
                return
            held = self._in_memory.pop(seq, None)
            if held is not None:
                self._memory_bytes -= sum(len(d) for d in held.values())
            (self.root / f"{seq:012d}.json").unlink(missing_ok=True)
            for name in _names(entry):
                self._refs[name] -= 1
                if self._refs[name] <= 0:
                    del self._refs[name]
                    if safe_payload_name(name):
                        (self.payload_dir / name).unlink(missing_ok=True)


def _names(entry: dict[str, Any]) -> list[str]:
    """The payload names an entry refers to (none for a damaged list)."""
    payloads = entry.get("payloads", [])
    if not isinstance(payloads, list):
        return []
    return [p["name"] for p in payloads if isinstance(p, dict) and isinstance(p.get("name"), str)]
