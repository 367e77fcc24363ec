"""Reprocessing stored media: plan from manifests, record the batch, follow it.

`darkroom reprocess` (sdk/_cli.py) plans here, then sends the plan's requests
on the per-kind queues in chunks (`darkroom.workers.app.convert_chunk`) or
converts them with the embedded workers.  A plan is built from each item's
newest manifest, which records what the worker was asked (`Manifest.input`):
the raw payloads, still in ``raw/``, and the options, with ``--set`` applied.

Each reprocessed item gets the next revision (a new manifest object; older
revisions stay readable).  The plan is idempotent:

- an item whose newest manifest was made by the same converter version with
  the same options is skipped (there is nothing new to make), so running a
  reprocess again, or again after it was killed half-way, only sends what is
  not done yet;
- an item still in flight from an earlier identical run is planned at the
  same revision again, and lands on the same manifest key.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import fnmatch
import json
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from darkroom.pipeline import kinds, paths
from darkroom.pipeline.errors import InvalidInput, NotFound
from darkroom.pipeline.index import Entry
from darkroom.pipeline.kinds import KINDS
from darkroom.pipeline.messages import ConvertRequest, Item
from darkroom.pipeline.reader import RunReader, list_runs
from darkroom.pipeline.storage import Storage, side_by_side

STATUSES = ("ok", "failed", "any")

# (kind, options) -> (converter version, the options as the converter stores
# them); raises InvalidInput for options the converter refuses.
CheckOptions = Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which items to reprocess and with what."""

    selector: str  # project, project/run, or a glob of them
    kind: str | None = None
    key: str | None = None  # a key or a glob of keys
    steps: tuple[int | None, int | None] = (None, None)  # [start, stop), as a slice
    status: str = "any"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)  # --set K=V
    force: bool = False

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise InvalidInput("invalid_option", f"--kind {self.kind!r} is not a kind; kinds: {', '.join(KINDS)}")
        if self.status not in STATUSES:
            raise InvalidInput("invalid_option", f"--status {self.status!r}; accepted: {', '.join(STATUSES)}")

    def matches_run(self, project: str, run: str) -> bool:
        return (fnmatch.fnmatchcase(f"{project}/{run}", self.selector)
                or fnmatch.fnmatchcase(project, self.selector))

    def matches(self, entry: Entry) -> bool:
        """Kind, status and steps, read from the index fields (the key is checked on the manifest)."""
        start, stop = self.steps
        step = entry.ident[0]
        return ((self.kind is None or entry.kind == self.kind)
                and (self.status == "any" or entry.status == self.status)
                and (start is None or step >= start) and (stop is None or step < stop))


@dataclasses.dataclass
class Plan:
    batch: str
    requests: list[ConvertRequest]
    # Per run: [(step, key segment, index, new revision), ...]: what status counts.
    items: dict[str, list[tuple[int, str, int, int]]]
    unchanged: int = 0  # already made by this converter version with these options
    unbuildable: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def item_count(self) -> int:
        return sum(len(r.items) for r in self.requests)

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.requests:
            counts[r.kind] = counts.get(r.kind, 0) + len(r.items)
        return dict(sorted(counts.items()))

    def summary(self) -> dict[str, Any]:
        return {"batch": self.batch, "items": self.item_count, "requests": len(self.requests),
                "runs": {run: len(items) for run, items in sorted(self.items.items())},
                "kinds": self.by_kind(), "unchanged": self.unchanged, "unbuildable": self.unbuildable}


def new_batch_id() -> str:
    return f"rp-{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def plan(storage: Storage, selection: Selection, check_options: CheckOptions,
         batch: str | None = None) -> Plan:
    """Plan the batch: one request per (run, step, key, options, revision).

    Raises
    ------
    InvalidInput: ``--set`` options a converter refuses (nothing is sent then).
    NotFound: no run matches the selector.
    """
    runs = [(p, r) for p, r in list_runs(storage) if selection.matches_run(p, r)]
    if not runs:
        raise NotFound(f"no run matches {selection.selector!r} in {storage.url}")
    result = Plan(batch=batch or new_batch_id(), requests=[], items={})
    checked: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    candidates: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    for project, run in runs:
        for entry in RunReader(storage, project, run).entries().values():
            if not selection.matches(entry):
                continue
            manifest = entry.manifest()  # decoded only for the items the fields selected
            if selection.key is not None and not fnmatch.fnmatchcase(manifest["key"], selection.key):
                continue
            wanted = manifest.get("input")
            if not wanted:
                reason = ("it failed before its payload was stored, so there is nothing to rebuild from"
                          if manifest.get("source") is None else
                          "its manifest does not record its input (written before darkroom kept it)")
                result.unbuildable.append(_unbuildable(manifest, reason))
                continue
            options = {**wanted.get("options", {}), **selection.options}
            ident = (entry.kind, json.dumps(options, sort_keys=True))
            if ident not in checked:
                checked[ident] = check_options(entry.kind, options)
            version, stored_options = checked[ident]
            converter = manifest.get("converter") or {}
            if (not selection.force and converter.get("version") == version
                    and converter.get("options") == stored_options):
                result.unchanged += 1
                continue
            candidates.append((project, run, manifest, options))
    missing = _missing_payloads(storage, [c[2]["input"]["item"] for c in candidates])
    groups: dict[tuple[str, str, int, str, str, int], list[Item]] = {}
    kinds: dict[tuple[str, str, int, str, str, int], tuple[str, dict[str, Any]]] = {}
    for project, run, manifest, options in candidates:
        item = manifest["input"]["item"]
        gone = [uri for uri in _uris(item) if uri in missing]
        if gone:
            result.unbuildable.append(_unbuildable(manifest, f"raw payload {gone[0]} is no longer in storage"))
            continue
        revision = int(manifest.get("revision", 1)) + 1
        group = (project, run, manifest["step"], manifest["key"], json.dumps(options, sort_keys=True), revision)
        groups.setdefault(group, []).append(Item.model_validate(_here(storage, item)))
        kinds[group] = (manifest["kind"], options)
        result.items.setdefault(f"{project}/{run}", []).append(
            (manifest["step"], paths.segment(manifest["key"]), manifest["index"], revision))
    for group, items in sorted(groups.items(), key=lambda g: g[0][:4]):
        project, run, step, key, _, revision = group
        kind, options = kinds[group]
        result.requests.append(ConvertRequest(
            project=project, run=run, step=step, key=key, kind=kind,  # type: ignore[arg-type]
            items=sorted(items, key=lambda i: i.index), options=options, revision=revision,
            batch=result.batch,
        ))
    return result


def chunks(requests: Iterable[ConvertRequest]) -> list[list[ConvertRequest]]:
    """Requests grouped into queue messages: one kind each, about its `KindSpec.chunk_items` items each."""
    by_kind: dict[str, list[ConvertRequest]] = {}
    for r in requests:
        by_kind.setdefault(r.kind, []).append(r)
    out: list[list[ConvertRequest]] = []
    for kind, reqs in by_kind.items():
        limit = kinds.spec(kind).chunk_items
        chunk: list[ConvertRequest] = []
        size = 0
        for r in reqs:
            if chunk and size + len(r.items) > limit:
                out.append(chunk)
                chunk, size = [], 0
            chunk.append(r)
            size += len(r.items)
        if chunk:
            out.append(chunk)
    return out


def record(storage: Storage, result: Plan, selection: Selection) -> None:
    """Write the batch's plan into each run, before anything is sent: status counts against it."""
    for run_path, items in result.items.items():
        project, run = run_path.split("/", 1)
        body = {"batch": result.batch, "created_at": _now(), "selector": selection.selector,
                "options": selection.options, "kind": selection.kind, "key": selection.key,
                "status": selection.status, "items": [list(i) for i in items]}
        storage.put(paths.batch_key(project, run, result.batch), json.dumps(body).encode(), "application/json")


def batches(storage: Storage, project: str, run: str) -> list[dict[str, Any]]:
    """The run's reprocess batches, oldest first, each with its plan."""
    prefix = f"{paths.run_prefix(project, run)}/batches/"
    found = []
    for key in storage.list(prefix):
        try:
            found.append(json.loads(storage.get(key, max_bytes=256 * 1024 * 1024)))
        except (NotFound, ValueError):
            continue
    return sorted(found, key=lambda b: b.get("created_at", ""))


def progress(batch: dict[str, Any], entries: dict[tuple[int, str, int], Entry]) -> dict[str, int]:
    """A batch's items by outcome, from the run's index entries.

    An item counts as converted or failed once its newest revision is the one
    the batch planned (or a later one, which a newer batch made: superseded).
    """
    counts = {"items": 0, "converted": 0, "failed": 0, "pending": 0, "superseded": 0}
    for step, seg, index, revision in batch["items"]:
        counts["items"] += 1
        entry = entries.get((step, seg, index))
        if entry is None or entry.revision < revision:
            counts["pending"] += 1
        elif entry.revision > revision:
            counts["superseded"] += 1
        else:
            counts["converted" if entry.status == "ok" else "failed"] += 1
    return counts


def _here(storage: Storage, item: dict[str, Any]) -> dict[str, Any]:
    """The item with its payload URIs in `storage`: a moved or copied storage reprocesses what it holds."""
    def moved(source: dict[str, Any]) -> dict[str, Any]:
        return {**source, "uri": storage.uri(storage.stored_key(source["uri"]))}

    return {**item, "source": moved(item["source"]),
            "related": {role: moved(src) for role, src in item.get("related", {}).items()}}


def _missing_payloads(storage: Storage, items: list[dict[str, Any]]) -> set[str]:
    """URIs of raw payloads no longer in storage (a retention policy may purge them)."""
    uris = sorted({uri for item in items for uri in _uris(item)})
    if not uris:
        return set()

    def gone(uri: str) -> bool:
        try:
            return not storage.exists(storage.stored_key(uri))
        except InvalidInput:
            return True

    # Existence checks are round trips: run them side by side.
    return {uri for uri, is_gone in zip(uris, side_by_side(gone, uris, 16)) if is_gone}


def _uris(item: dict[str, Any]) -> list[str]:
    return [item["source"]["uri"], *(s["uri"] for s in (item.get("related") or {}).values())]


def _unbuildable(manifest: dict[str, Any], reason: str) -> dict[str, Any]:
    return {"run": f"{manifest['project']}/{manifest['run']}", "step": manifest["step"],
            "key": manifest["key"], "index": manifest["index"], "reason": reason}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
