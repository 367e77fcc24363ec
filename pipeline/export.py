"""Exporting stored media as plain files: ``DEST/<project>/<run>/<key>/<step>_<index>.<ext>`` and a manifests.jsonl.

`darkroom export SELECTOR DEST --format files` (sdk/_cli_transfer.py) plans
here and copies here.  The plan is read from each run's manifest index (a few
objects per run, `darkroom.pipeline.index`), so planning costs the same for a
run of ten items or a million; only ``ok`` items have files.

The copy is

- **parallel**: one GET per file, `jobs` of them in flight (an S3 GET is a
  round trip, so threads multiply the rate until the storage or the network
  is the bound; bench/export_files.py measures it);
- **resumable**: a file already at its path with the artifact's size and
  sha256 is skipped, so a rerun after Ctrl-C, a full disk or a lost
  connection copies only what is missing;
- **never half-written**: each file is written beside its path as
  ``<name>.part`` and renamed into place once whole and checked against the
  manifest's sha256.

Each run's ``manifests.jsonl`` (one manifest a line, with ``files``: its
paths relative to DEST) is written once all of the run's files are in place.
"""

from __future__ import annotations

import dataclasses
import errno
import fnmatch
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from darkroom.pipeline import paths
from darkroom.pipeline.errors import DarkroomError, NotFound
from darkroom.pipeline.reader import RunReader, list_runs
from darkroom.pipeline.reprocess import Selection
from darkroom.pipeline.storage import Storage

MANIFESTS_FILE = "manifests.jsonl"
_READ_BLOCK = 1024 * 1024


class ExportError(DarkroomError):
    """The destination refused a file (no space, no permission, not a folder); what was copied stays."""


@dataclasses.dataclass(frozen=True)
class ExportFile:
    """One file to copy: where it goes under DEST, where it is in storage, what it must be."""

    path: str  # relative to DEST, with /
    storage_key: str
    sha256: str
    bytes: int | None  # None when the manifest does not record it (related files)


@dataclasses.dataclass
class RunExport:
    """One run's part of an export: its manifests (each with ``files``) and the files they name."""

    project: str
    run: str
    manifests: list[dict[str, Any]]
    files: list[ExportFile]

    @property
    def folder(self) -> str:
        return f"{paths.segment(self.project)}/{paths.segment(self.run)}"


@dataclasses.dataclass
class Copied:
    """What a copy did: files written, files already there and identical, bytes written."""

    written: int = 0
    skipped: int = 0
    bytes: int = 0


def selected_runs(storage: Storage, selection: Selection) -> list[tuple[str, str]]:
    """(project, run) of every run the selector names, sorted.

    Raises
    ------
    NotFound: no run matches (the message names the selector and the storage).
    """
    runs = [(p, r) for p, r in list_runs(storage) if selection.matches_run(p, r)]
    if not runs:
        raise NotFound(f"no run matches {selection.selector!r} in {storage.url}; "
                       "SELECTOR is a project, project/run_id or a glob of them ('vision/*')")
    return runs


def selected_manifests(storage: Storage, project: str, run: str, selection: Selection) -> list[dict[str, Any]]:
    """The run's newest manifests the selection takes (kind, key glob, steps, status), in (step, key, index) order."""
    found = RunReader(storage, project, run).entries()
    chosen = []
    for ident in sorted(found):
        entry = found[ident]
        if not selection.matches(entry):
            continue
        manifest = entry.manifest()
        if selection.key is None or fnmatch.fnmatchcase(manifest["key"], selection.key):
            chosen.append(manifest)
    return chosen


def plan_run(storage: Storage, project: str, run: str, selection: Selection) -> RunExport:
    """The files of one run's selected ``ok`` items, at their paths under DEST."""
    export = RunExport(project, run, [], [])
    for manifest in selected_manifests(storage, project, run, selection):
        if manifest.get("status") != "ok" or not manifest.get("artifact"):
            continue
        files = files_of(storage, export.folder, manifest)
        export.files.extend(files.values())
        export.manifests.append({**manifest, "files": {role: f.path for role, f in files.items()}})
    return export


def files_of(storage: Storage, folder: str, manifest: dict[str, Any]) -> dict[str, ExportFile]:
    """An ok item's files by role (``artifact``, then each related file's role), named under `folder`.

    The artifact is ``<key>/<step>_<index>.<ext>``; a related file (a mask, a
    molecule's depiction) is ``<key>/<step>_<index>.<role>.<ext>``.  The key
    and role are encoded into one safe segment each (`paths.segment`).
    """
    stem = f"{folder}/{paths.segment(manifest['key'])}/{manifest['step']}_{manifest['index']}"
    art = manifest["artifact"]
    files = {"artifact": ExportFile(f"{stem}.{_ext(art['format'])}", storage.stored_key(art["uri"]),
                                    art["sha256"], art.get("bytes"))}
    for rel in manifest.get("related") or []:
        files[rel["role"]] = ExportFile(f"{stem}.{paths.segment(rel['role'])}.{_ext(rel['format'])}",
                                        storage.stored_key(rel["uri"]), rel["sha256"], None)
    return files


def copy_files(storage: Storage, files: Iterable[ExportFile], dest: Path, jobs: int = 16,
               progress: Callable[[ExportFile, bool, int], None] | None = None) -> Copied:
    """Copy `files` from storage under `dest`, `jobs` at a time; skip those already there and identical.

    `progress(file, written, bytes)` is called on this thread after each file.
    On KeyboardInterrupt the files not started are cancelled, those in flight
    finish (each is whole or not there at all) and the interrupt propagates.

    Raises
    ------
    ExportError: the destination refused a file (no space, no permission, ...).
    DamagedObject: a stored file does not match its manifest's sha256.
    StorageError: the storage failed (NotFound: a manifest names a file that is gone).
    """
    copied = Copied()
    pending: set[Future[tuple[ExportFile, bool, int]]] = set()
    todo = iter(files)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        try:
            while True:
                # Keep at most 2 * jobs files in flight: a plan of millions is not queued at once.
                for file in _take(todo, 2 * max(1, jobs) - len(pending)):
                    pending.add(pool.submit(copy_one, storage, file, dest))
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    _count(copied, future.result(), progress)
        except BaseException:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)  # the files in flight end whole (or not at all): count them
            for future in pending:
                if not future.cancelled() and future.exception() is None:
                    _count(copied, future.result(), progress)
            raise
    return copied


def _count(copied: Copied, result: tuple[ExportFile, bool, int],
           progress: Callable[[ExportFile, bool, int], None] | None) -> None:
    file, written, size = result
    copied.written += written
    copied.skipped += not written
    copied.bytes += size if written else 0
    if progress is not None:
        progress(file, written, size)


def copy_one(storage: Storage, file: ExportFile, dest: Path) -> tuple[ExportFile, bool, int]:
    """Copy one file unless it is already there and identical; return (file, written, its size)."""
    target = dest / file.path
    if _identical(target, file):
        return file, False, target.stat().st_size
    data = storage.get(file.storage_key)
    if hashlib.sha256(data).hexdigest() != file.sha256:
        from darkroom.pipeline.errors import DamagedObject

        raise DamagedObject(file.storage_key, f"its sha256 is not the {file.sha256} its manifest records")
    write_atomically(target, data, dest)
    return file, True, len(data)


def write_manifests(dest: Path, export: RunExport) -> Path:
    """Write the run's ``manifests.jsonl`` (one manifest a line, with ``files``) under DEST; return its path."""
    body = b"".join(json.dumps(m, separators=(",", ":"), sort_keys=True).encode() + b"\n"
                    for m in export.manifests)
    target = dest / export.folder / MANIFESTS_FILE
    write_atomically(target, body, dest)
    return target


def write_atomically(target: Path, data: bytes, dest: Path) -> None:
    """Write `data` to ``<target>.part`` and rename it into place; ExportError naming DEST if refused."""
    part = target.with_name(target.name + ".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(part, "wb") as f:
            f.write(data)
        os.replace(part, target)
    except OSError as e:
        try:
            part.unlink(missing_ok=True)
        except OSError:
            pass
        raise ExportError(refused_text(e, target, dest)) from None


def refused_text(error: OSError, target: Path, dest: Path) -> str:
    """What the destination said, in words, with what to do (the files already copied stay)."""
    reasons = {
        errno.ENOSPC: "no space left on the device; free some, or export to another DEST",
        errno.EDQUOT: "the disk quota is exceeded; free some, or export to another DEST",
        errno.EACCES: "permission denied; export to a folder you can write",
        errno.EPERM: "permission denied; export to a folder you can write",
        errno.EROFS: "the file system is read-only; export to a folder you can write",
        errno.ENOTDIR: "a file stands where a folder is needed; export to another DEST",
    }
    reason = reasons.get(error.errno or 0, f"{error.strerror or error}")
    return (f"cannot write {target} under DEST {dest}: {reason}. Files already copied are kept; "
            "run the same command again to resume")


def _identical(target: Path, file: ExportFile) -> bool:
    try:
        if file.bytes is not None and target.stat().st_size != file.bytes:
            return False
        digest = hashlib.sha256()
        with open(target, "rb") as f:
            while block := f.read(_READ_BLOCK):
                digest.update(block)
    except OSError:  # not there (or not readable): copy it
        return False
    return digest.hexdigest() == file.sha256


def _take(items: Iterator[ExportFile], n: int) -> list[ExportFile]:
    out = []
    for _ in range(max(0, n)):
        item = next(items, None)
        if item is None:
            break
        out.append(item)
    return out


def _ext(fmt: str) -> str:
    """A manifest's format as a file extension (formats are short lowercase words: png, mp4, pts.json)."""
    text = str(fmt).lower()
    return text if text and all(c.isalnum() or c == "." for c in text) and ".." not in text else "bin"
