"""Reading a run back from storage: its config, history, summary and manifests.

`RunReader` is what `darkroom.Api().run(...)`, `darkroom show` and (later) the
viewer use: one path into storage for readers.  History rows hold references
to media, which the reader resolves to manifests.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from darkroom.pipeline import index, manifest_listing, paths, table_store
from darkroom.pipeline.errors import DamagedObject, InvalidInput, NotFound
from darkroom.pipeline.history import is_media_ref
from darkroom.pipeline.index import Entry, IndexCorrupt
from darkroom.pipeline.manifest import Manifest
from darkroom.pipeline.manifest_listing import Ident
from darkroom.pipeline.storage import Storage, side_by_side

log = logging.getLogger("darkroom.reader")


def split_run_path(path: str) -> tuple[str, str]:
    """``"project/run_id"`` -> (project, run_id), both checked."""
    project, sep, run = path.strip("/").partition("/")
    if not sep:
        raise InvalidInput("invalid_name", f"run path {path!r} is not 'project/run_id'")
    return paths.check_name("project", project), paths.check_name("run", run)


class RunReader:
    """One run in storage."""

    def __init__(self, storage: Storage, project: str, run: str):
        self.storage = storage
        self.project = paths.check_name("project", project)
        self.run = paths.check_name("run", run)
        self.path = f"{project}/{run}"
        self._index = paths.index_prefix(project, run)  # names the index in a DamagedObject

    # -- run-level objects ---------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        """run.json: config, start time, host, versions, state.

        Raises
        ------
        NotFound: no such run in this storage.
        DamagedObject: its run.json is not a JSON object.
        """
        key = paths.run_json_key(self.project, self.run)
        try:
            data = self.storage.get(key)
        except NotFound:
            raise NotFound(f"no run {self.path} in {self.storage.url}") from None
        return _json_object(key, data)

    @property
    def config(self) -> dict[str, Any]:
        return self.info.get("config", {})

    @property
    def summary(self) -> dict[str, Any]:
        key = paths.summary_key(self.project, self.run)
        try:
            raw = _json_object(key, self.storage.get(key))
        except NotFound:
            return {}
        return {k: self._resolve(v) for k, v in raw.items()}

    # -- history -----------------------------------------------------------
    def history(self, resolve: bool = True) -> Iterator[dict[str, Any]]:
        """Rows in step order; media values resolved to manifest dicts (a list for a list).

        A row sent twice (after a crash and `darkroom sync`) appears once: rows
        are keyed by ``_step``, the last written wins.

        Raises
        ------
        DamagedObject: a line of a history object is not a row (names the object and line).
        """
        rows: dict[int, dict[str, Any]] = {}
        chunks = sorted(self.storage.list(paths.history_prefix(self.project, self.run)))
        for chunk, body in zip(chunks, side_by_side(self.storage.get, chunks)):  # round trips, side by side
            for step, row in history_rows(chunk, body):
                rows[step] = row
        found = self.entries() if resolve else {}  # one index read for every row's media
        for step in sorted(rows):
            row = rows[step]
            yield {k: self._resolve(v, found) for k, v in row.items()} if resolve else row

    def history_row(self, step: int) -> dict[str, Any] | None:
        """The row logged at `step` (unresolved), reading only the chunks that can hold it.

        Chunks are named by their first step, and a later-named chunk wins
        (as in `history`), so the search runs from the newest chunk starting
        at or before `step` back to the first that has it.
        """
        prefix = paths.history_prefix(self.project, self.run)
        starts = []
        for key in self.storage.list(prefix):
            name = key.rsplit("/", 1)[-1].split(".", 1)[0]
            if name.isdigit() and int(name) <= step:
                starts.append((int(name), key))
        for _, key in sorted(starts, reverse=True):
            found = None
            for row_step, row in history_rows(key, self.storage.get(key)):
                if row_step == step:
                    found = row
            if found is not None:
                return found
        return None

    # -- manifests -----------------------------------------------------------
    def entries(self) -> dict[Ident, Entry]:
        """Every item's newest manifest as an index entry (status, kind, batch, ...), unordered.

        Read from the run's compacted index, a few objects whatever the run's
        size (`darkroom.pipeline.index`); a run without an index (written
        before darkroom kept one), or whose index is damaged, is listed
        object by object instead.
        """
        try:
            found = index.read(self.storage, self.project, self.run)
        except IndexCorrupt as e:  # the manifests are the truth; `index.rebuild` repairs the index
            log.warning("%s; listing the manifests of %s instead", e, self.path)
            found = None
        if found is None:
            found = {ident: entry_of(self.load_manifest(k)) for ident, k in self.listed_manifest_keys().items()}
        return found

    def manifests(self, key: str | None = None, step: int | None = None) -> list[dict[str, Any]]:
        """Every item's newest manifest, in (step, key, index) order, optionally filtered.

        With `step`, the step's manifests are listed (a small prefix, and the
        freshest answer); otherwise they come from the index.
        """
        if step is not None:
            return [self.load_manifest(k) for k in self.listed_manifest_keys(key, step).values()]
        wanted = paths.segment(key) if key is not None else None
        found = self.entries()
        return [_validated(found[i].body, self._index) for i in sorted(found) if wanted is None or i[1] == wanted]

    def listed_manifest_keys(self, key: str | None = None, step: int | None = None) -> dict[Ident, str]:
        """(step, encoded key, index) -> storage key of the newest revision, by listing manifests."""
        return manifest_listing.newest(self.storage, self.project, self.run, key, step)

    def load_manifest(self, storage_key: str) -> dict[str, Any]:
        """The manifest object at `storage_key` (DamagedObject if it is not one)."""
        return manifest_listing.load(self.storage, storage_key)

    def manifest(self, step: int, key: str, index: int) -> dict[str, Any] | None:
        """One item's newest manifest (None while it is pending)."""
        found = self.listed_manifest_keys(key=key, step=step)
        storage_key = found.get((step, paths.segment(key), index))
        return self.load_manifest(storage_key) if storage_key else None

    def revisions(self, step: int, key: str, index: int) -> list[dict[str, Any]]:
        """Every revision of one item's manifest, oldest first (reprocessing adds revisions)."""
        found = sorted((revision, storage_key)
                       for ident, revision, storage_key in manifest_listing.listed(self.storage, self.project,
                                                                                   self.run, key, step)
                       if ident == (step, paths.segment(key), index))
        return [self.load_manifest(storage_key) for _, storage_key in found]

    # -- media bytes ---------------------------------------------------------
    def read(self, entry: dict[str, Any] | Manifest, role: str | None = None) -> bytes:
        """The bytes of a manifest's artifact (or of its related file with `role`).

        Raises
        ------
        InvalidInput: the item failed or is pending (no artifact), or has no such role.
        """
        return self.storage.get(self._key(entry, role))

    def file_size(self, entry: dict[str, Any] | Manifest, role: str | None = None) -> int:
        """The stored size in bytes of a manifest's artifact (or related file).

        Raises
        ------
        InvalidInput: as `read`.  NotFound: the manifest names a file that is not in storage.
        """
        key = self._key(entry, role)
        size = self.storage.size(key)
        if size is None:
            raise NotFound(f"no object {key} in {self.storage.url}")
        return size

    def stream(self, entry: dict[str, Any] | Manifest, role: str | None = None, start: int = 0,
               end: int | None = None) -> Iterator[bytes]:
        """The bytes ``[start, end)`` of a manifest's artifact (or related file), in chunks (`Storage.stream`)."""
        return self.storage.stream(self._key(entry, role), start, end)

    def download(self, entry: dict[str, Any] | Manifest, dest_dir: str | Path, role: str | None = None) -> Path:
        """Write the artifact into `dest_dir` under a readable name; return its path."""
        data = self.read(entry, role)
        m = entry.model_dump(by_alias=True) if isinstance(entry, Manifest) else entry
        fmt = self._file(m, role)["format"]
        name = f"{m['step']}-{paths.segment(m['key'])}-{m['index']}"
        if role:
            name += "-" + paths.segment(role)
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        path = dest / f"{name}.{fmt}"
        path.write_bytes(data)
        return path

    def _key(self, entry: dict[str, Any] | Manifest, role: str | None) -> str:
        # By the key under this storage, not the absolute URI: the manifest may
        # have been written where the storage was before it was copied or moved.
        m = entry.model_dump(by_alias=True) if isinstance(entry, Manifest) else entry
        return self.storage.stored_key(self._file(m, role)["uri"])

    @staticmethod
    def _file(m: dict[str, Any], role: str | None) -> dict[str, Any]:
        if m.get("status") != "ok" or not m.get("artifact"):
            error = (m.get("error") or {}).get("message", m.get("status"))
            raise InvalidInput("no_artifact", f"{m.get('key')!r} step {m.get('step')} has no artifact: {error}")
        if role is None:
            return m["artifact"]
        for rel in m.get("related", []):
            if rel["role"] == role:
                return rel
        roles = ", ".join(r["role"] for r in m.get("related", [])) or "none"
        raise InvalidInput("no_artifact", f"no related file with role {role!r}; roles: {roles}")

    def table(self, entry: dict[str, Any] | Manifest) -> dict[str, Any]:
        """A table item's JSON with every media cell resolved to its manifest."""
        table = _json_object(self._key(entry, None), self.read(entry))
        if table.get("format") == table_store.FORMAT:  # stored in chunks: every row, read in order
            m = entry.model_dump(by_alias=True) if isinstance(entry, Manifest) else entry
            table = table_store.StoredTable(self, m, table).whole()
        found = self.entries() if any(is_media_ref(c) for row in table["data"] for c in row) else {}
        table["data"] = [[self._resolve(cell, found) for cell in row] for row in table["data"]]
        return table

    def _resolve(self, value: Any, found: dict[Ident, Entry] | None = None) -> Any:
        if not is_media_ref(value):
            return value
        if found is None:
            found = {ident: entry_of(self.load_manifest(k))
                     for ident, k in self.listed_manifest_keys(key=value["key"], step=value["step"]).items()}
        seg = paths.segment(value["key"])
        items = []
        # A ref to one item of a list (a table's cell) names its index.
        indices = [int(value["index"])] if "index" in value else range(int(value["count"]))
        for index_ in indices:
            entry = found.get((value["step"], seg, index_))
            if entry is not None:
                items.append(_validated(entry.body, self._index))
            else:
                items.append({"status": "pending", "kind": value["kind"], "step": value["step"],
                              "key": value["key"], "index": index_})
        return items if value["list"] else items[0]


def entry_of(manifest: dict[str, Any]) -> Entry:
    """The index entry of a manifest dict read some other way."""
    return index.entry((manifest["step"], paths.segment(manifest["key"]), manifest["index"]),
                       manifest.get("revision", 1), manifest["status"], manifest["kind"],
                       manifest.get("batch") or "", manifest.get("created_at", ""),
                       json.dumps(manifest, separators=(",", ":")).encode())


def _validated(body: bytes, where: str) -> dict[str, Any]:
    """The manifest of an index entry; DamagedObject naming `where` (the run's index) if it is not one."""
    try:
        return Manifest.model_validate_json(body).model_dump(mode="json", by_alias=True)
    except ValidationError as e:
        raise DamagedObject(where, f"the entry of {_ident_text(body)} is not a manifest "
                            f"({e.errors()[0]['msg']})") from None


def _ident_text(body: bytes) -> str:
    try:
        m = json.loads(body)
        return f"step {m['step']} key {m['key']!r} index {m['index']}"
    except (ValueError, KeyError, TypeError):
        return "an item"


def history_rows(key: str, body: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(step, row) of each line of the history object at `key`.

    Raises
    ------
    DamagedObject: a line that is not a JSON object with a whole-number ``_step`` (names the line).
    """
    for number, line in enumerate(body.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:  # UnicodeDecodeError is a ValueError too
            raise DamagedObject(key, f"not JSON ({e})", number) from None
        step = row.get("_step") if isinstance(row, dict) else None
        if not isinstance(step, int) or isinstance(step, bool):
            raise DamagedObject(key, "not a history row (no whole-number _step)", number)
        yield step, row


def _json_object(key: str, data: bytes) -> dict[str, Any]:
    """The JSON object stored at `key` (DamagedObject if it is not one)."""
    try:
        value = json.loads(data)
    except ValueError as e:
        raise DamagedObject(key, f"not JSON ({e})") from None
    if not isinstance(value, dict):
        raise DamagedObject(key, f"not a JSON object (a {type(value).__name__})")
    return value


def list_runs(storage: Storage, project: str | None = None) -> list[tuple[str, str]]:
    """(project, run) pairs that have a run.json, sorted.

    Lists the ``runs/`` level and each project's level, not the objects
    inside runs, so it costs the same for a run of ten items or a million.
    """
    projects = [paths.segment(project)] if project else storage.children("runs/")
    found = []
    for p in projects:
        for r in storage.children(f"runs/{p}/"):
            try:
                if storage.exists(f"runs/{p}/{r}/run.json"):
                    found.append((p, r))
            except InvalidInput:  # a folder name that is not a valid key: not one of ours
                continue
    return sorted(found)
