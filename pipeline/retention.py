"""Retention of raw payloads: which ``raw/`` objects `darkroom gc` may delete, and deleting them.

A raw payload is the input of a conversion (DESIGN.md, claim check).  Once
its items are converted it is needed only to convert them again
(`darkroom reprocess`, which names the items whose payload is gone).  `plan`
reads every run's manifest index and the ages of ``raw/``, and keeps:

- every object outside ``raw/``: artifacts, manifests, history, indexes are
  never candidates (only keys of the form ``raw/<sha256>.<ext>`` are);
- a payload no manifest names: its request may still be spooled on a
  training machine or queued for a worker (in flight), and a manifest
  appears only once it is converted;
- a payload named by an item a reprocess batch has not converted yet;
- with ``finished_only``, a payload named by a run that is not finished;
- a payload younger than ``older_than`` seconds (its storage time).

A run still logging may log again bytes an older run logged (the same
sha256): its sender finds the payload stored and does not upload it again,
and no listing shows its request until the item is converted.  So a sender
skips an upload only for a payload stored less than `REFRESH_AFTER` ago
(`stored_fresh`), and stores an older one again, which makes it young: gc
can then delete a payload a request still names only if that request waited
`older_than - REFRESH_AFTER` between its sender's check and its worker's
fetch.  Keep `older_than` well above a day plus the longest queue wait
(docs/storage.md).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.reader import RunReader, list_runs
from darkroom.pipeline.reprocess import batches, progress
from darkroom.pipeline.storage import ObjectInfo, Storage

# A sender stores again a payload it finds older than this instead of skipping the upload.
REFRESH_AFTER = 86400.0
_RAW = re.compile(r"^raw/[0-9a-f]{64}\.[a-z0-9]{1,10}$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

NO_MANIFEST = "named by no manifest (a spooled or in-flight request may name it)"
IN_BATCH = "named by an item a reprocess batch has not converted yet"
UNFINISHED = "named by a run that is not finished (--finished-only)"
YOUNG = "younger than --raw-older-than"


@dataclasses.dataclass
class GcPlan:
    """What gc deletes (``delete``) and what it keeps, counted by reason."""

    delete: list[ObjectInfo]
    kept: Counter[str]
    kept_bytes: Counter[str]
    runs: int

    @property
    def freed(self) -> int:
        return sum(o.size for o in self.delete)

    def summary(self) -> dict[str, Any]:
        return {"runs": self.runs, "deleted": len(self.delete), "freed_bytes": self.freed,
                "kept": {reason: {"payloads": n, "bytes": self.kept_bytes[reason]} for reason, n in self.kept.items()}}


def stored_fresh(info: ObjectInfo | None, now: float) -> bool:
    """True when a payload is stored and younger than `REFRESH_AFTER`: a sender may skip its upload."""
    return info is not None and info.modified is not None and now - info.modified < REFRESH_AFTER


def parse_age(text: str) -> float:
    """``"30d"`` -> seconds; units s, m, h, d, w.

    Raises
    ------
    InvalidInput: not a whole number followed by a unit.
    """
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text or "")
    if not match:
        raise InvalidInput("invalid_option", f"--raw-older-than {text!r} is not an age; accepted: a whole number "
                           "and a unit s, m, h, d or w (30d, 12h, 90m)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def plan(storage: Storage, older_than: float, finished_only: bool, now: float,
         progress_runs: Callable[[str], None] | None = None) -> GcPlan:
    """Decide which raw payloads to delete (see the module's docstring); nothing is deleted here."""
    named: dict[str, set[str]] = {}
    protected: set[str] = set()
    unfinished: set[str] = set()
    runs = list_runs(storage)
    for project, run in runs:
        path = f"{project}/{run}"
        if progress_runs is not None:
            progress_runs(path)
        reader = RunReader(storage, project, run)
        if reader.info.get("state") != "finished":
            unfinished.add(path)
        entries = reader.entries()
        for entry in entries.values():
            for key in _payload_keys(storage, entry.manifest()):
                named.setdefault(key, set()).add(path)
        for batch in batches(storage, project, run):
            if progress(batch, entries)["pending"]:
                for step, seg, index, revision in batch["items"]:
                    entry = entries.get((step, seg, index))
                    if entry is not None and entry.revision < revision:
                        protected.update(_payload_keys(storage, entry.manifest()))
    result = GcPlan([], Counter(), Counter(), len(runs))
    for info in storage.list_info("raw/"):
        if not _RAW.match(info.key):
            continue
        reason = _kept_because(info, named, protected, unfinished, finished_only, older_than, now)
        if reason is None:
            result.delete.append(info)
        else:
            result.kept[reason] += 1
            result.kept_bytes[reason] += info.size
    return result


def delete(storage: Storage, payloads: Iterable[ObjectInfo], done: Callable[[int], None] | None = None) -> int:
    """Delete the payloads (raw/ keys only), 1,000 a request on S3; return how many."""
    keys = [p.key for p in payloads if _RAW.match(p.key)]
    for start in range(0, len(keys), 1000):
        storage.delete_many(keys[start:start + 1000])
        if done is not None:
            done(min(start + 1000, len(keys)))
    return len(keys)


def _kept_because(info: ObjectInfo, named: dict[str, set[str]], protected: set[str], unfinished: set[str],
                  finished_only: bool, older_than: float, now: float) -> str | None:
    if info.key not in named:
        return NO_MANIFEST
    if info.key in protected:
        return IN_BATCH
    if finished_only and named[info.key] & unfinished:
        return UNFINISHED
    if info.modified is None or now - info.modified < older_than:
        return YOUNG
    return None


def _payload_keys(storage: Storage, manifest: dict[str, Any]) -> set[str]:
    """The storage keys of the raw payloads a manifest names (its source and its input's related files)."""
    uris = []
    if manifest.get("source"):
        uris.append(manifest["source"].get("uri"))
    item = (manifest.get("input") or {}).get("item") or {}
    uris.extend(s.get("uri") for s in [item.get("source") or {}, *(item.get("related") or {}).values()])
    keys = set()
    for uri in uris:
        if not uri:
            continue
        try:
            keys.add(storage.stored_key(uri))
        except InvalidInput:  # a URI of another layout: not one of ours to keep or delete
            continue
    return keys
