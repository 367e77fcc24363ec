"""The viewer's JSON: the runs list, a run's series, one step's media and a table, built through `RunReader`.

Nothing here knows HTTP or the storage layout: every value comes from
`darkroom.Api` / `RunReader` (and `run_counts` for the counts), and every
media file is named by a viewer URL that the server resolves through the
item's manifest again (`file_url`), never by a storage path.
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from darkroom.pipeline.errors import DamagedObject, NotFound
from darkroom.pipeline.history import is_media_ref
from darkroom.pipeline.timestamps import iso_time
from darkroom.pipeline.reader import RunReader
from darkroom.pipeline.status import damage_of, run_counts
from darkroom.pipeline.table_store import Filter, StoredTable

if TYPE_CHECKING:
    from darkroom._api import Api

# darkroom writes no heartbeat: a running run's only traces are its run.json
# (written at start and at finish) and its history rows, each stamped with
# `_timestamp` when logged and sent within seconds by the background sender.
# So a run whose run.json still says "running" and whose newest trace is
# older than this is shown as crashed: its process died before finish()
# wrote "finished".  A run that is merely silent longer than this (a long
# evaluation without log() calls) shows as crashed until its next row
# arrives, then as running again; the page says since when it has been quiet.
CRASHED_AFTER_S = 30 * 60


# -- the runs list --------------------------------------------------------------------


def runs_list(api: "Api", project: str | None, crashed_after_s: float = CRASHED_AFTER_S,
              now: float | None = None) -> list[dict[str, Any]]:
    """Every run (of `project`), newest first, with its state and item counts.

    A run with a damaged object is listed with state ``damaged`` and what is
    damaged (``damaged``: object, line, error), so one bad object costs one run.
    """
    now = time.time() if now is None else now
    counts = {c["run"]: c for c in run_counts(api.storage, project)}
    out = []
    for path in api.runs(project):
        count = counts.get(path)
        if count is None:  # a project glob matched more than asked (run_counts uses fnmatch)
            continue
        reader = RunReader(api.storage, *path.split("/", 1))
        damaged = count.get("damaged")
        try:
            info = reader.info
            last = None if damaged else last_activity(reader, info)
        except NotFound:  # deleted between the listing and now
            continue
        except DamagedObject as e:
            info, last, damaged = {}, None, damage_of(e)
        out.append({
            "project": reader.project, "run": reader.run, "path": path, "name": info.get("name"),
            "started_at": info.get("created_at"), "finished_at": info.get("finished_at"),
            "last_activity": iso_time(last) if last is not None else None,
            "state": "damaged" if damaged else run_state(info, last, crashed_after_s, now),
            "counts": {k: count[k] for k in ("logged", "converted", "failed", "pending")},
            "config": json_safe(info.get("config", {})),  # the runs list filters on config values
            **({"damaged": damaged} if damaged else {}),
        })
    out.sort(key=lambda r: (r["started_at"] or "", r["path"]), reverse=True)
    return out


def last_activity(reader: RunReader, info: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> float | None:
    """When the run last left a trace: its newest history row, else its start (epoch seconds)."""
    stamps = [_epoch(info.get("created_at")), _epoch(info.get("finished_at"))]
    for row in rows if rows is not None else reader.history(resolve=False):
        stamp = row.get("_timestamp")
        if isinstance(stamp, (int, float)) and math.isfinite(stamp):
            stamps.append(float(stamp))
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def run_state(info: dict[str, Any], last: float | None, crashed_after_s: float, now: float) -> str:
    """running, finished or crashed (see `CRASHED_AFTER_S`)."""
    if info.get("state") == "finished":
        return "finished"
    if last is not None and now - last > crashed_after_s:
        return "crashed"
    return "running"


# -- one run -----------------------------------------------------------------------------


def run_detail(reader: RunReader, crashed_after_s: float = CRASHED_AFTER_S,
               now: float | None = None) -> dict[str, Any]:
    """A run's info, config, summary and the series of its history (no media manifests).

    Scalars are ``[step, value]`` pairs (a NaN or infinite value is ``null``:
    a gap in the chart); media keys list the steps that logged them; each
    histogram step carries its bin edges and counts.
    """
    info = reader.info
    rows = list(reader.history(resolve=False))
    scalars: dict[str, list[list[Any]]] = {}
    media: dict[str, dict[str, Any]] = {}
    histograms: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        step = int(row["_step"])
        for key, value in row.items():
            if key.startswith("_"):
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                scalars.setdefault(key, []).append([step, value if math.isfinite(value) else None])
            elif is_media_ref(value):
                entry = media.setdefault(key, {"kind": value["kind"], "steps": [], "counts": []})
                entry["steps"].append(step)
                entry["counts"].append(int(value["count"]))
            elif isinstance(value, dict) and value.get("_type") == "histogram":
                hist = {"step": step, "bins": value.get("bins", []), "counts": value.get("values", [])}
                if value.get("excluded"):
                    hist["excluded"] = value["excluded"]
                histograms.setdefault(key, []).append(hist)
    last = last_activity(reader, info, rows)
    return json_safe({
        "path": reader.path, "project": reader.project, "run": reader.run, "info": info,
        "config": info.get("config", {}), "summary": _summary(reader),
        "state": run_state(info, last, crashed_after_s, time.time() if now is None else now),
        "last_activity": iso_time(last) if last is not None else None,
        "scalars": scalars, "media": media, "histograms": histograms,
        "last_step": max((int(r["_step"]) for r in rows), default=-1),
    })


def _summary(reader: RunReader) -> dict[str, Any]:
    """The summary with each media value as a reference (the page fetches its media by key and step)."""
    out = {}
    for key, value in reader.summary.items():
        items = value if isinstance(value, list) else [value]
        if items and all(_is_item(v) for v in items):
            first = items[0]
            value = {"_type": "media-ref", "kind": first["kind"], "step": first["step"], "key": first["key"],
                     "count": len(items), "list": isinstance(value, list)}
        out[key] = value
    return out


# -- one step's media ----------------------------------------------------------------------


def step_media(reader: RunReader, key: str, step: int) -> dict[str, Any]:
    """Every item of `key` at `step`: its manifest with file URLs, or ``pending`` if not converted yet.

    Raises
    ------
    NotFound: the run logged no media under `key` at `step`.
    """
    return _step_media(reader, key, step, reader.history_row(step))


def _step_media(reader: RunReader, key: str, step: int, row: dict[str, Any] | None) -> dict[str, Any]:
    found = reader.manifests(key=key, step=step)
    by_index = {m["index"]: m for m in found}
    ref = row.get(key) if row is not None else None
    if is_media_ref(ref):
        # The row says how many items the key holds: a longer earlier value of the
        # key in the same row left manifests the row no longer refers to.
        by_index = {i: m for i, m in by_index.items() if i < int(ref["count"])}
        for index in range(int(ref["count"])):
            by_index.setdefault(index, {"status": "pending", "kind": ref["kind"], "step": step,
                                        "key": key, "index": index})
    if not by_index:
        raise NotFound(f"run {reader.path} has no media {key!r} at step {step}")
    items = [media_item(reader, by_index[i]) for i in sorted(by_index)]
    return json_safe({"key": key, "step": step, "items": items})


def many_steps_media(reader: RunReader, pairs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """`step_media` of each (key, step), in order; one that has nothing is ``{"key", "step", "error"}``.

    A compare page asks for every panel's step of a run at once: one request, not one per key.
    """
    answers, rows = [], {}
    for key, step in pairs:
        if step not in rows:  # the step's history row, read once for all its keys
            rows[step] = reader.history_row(step)
        try:
            answers.append(_step_media(reader, key, step, rows[step]))
        except NotFound as e:
            answers.append({"key": key, "step": step, "error": str(e)})
    return answers


def media_item(reader: RunReader, manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest as the page reads it: as stored, plus ``url``, ``related`` {role: url},
    ``related_files`` (the stored list, each with its url) and ``masks`` {name: url and labels}."""
    item = dict(manifest)
    files = manifest.get("related") or []
    ok = manifest.get("status") == "ok" and bool(manifest.get("artifact"))
    where = (reader.project, reader.run, manifest["key"], manifest["step"], manifest["index"])
    item["url"] = file_url(*where) if ok else None
    item["related"] = {f["role"]: file_url(*where, role=f["role"]) for f in files} if ok else {}
    item["related_files"] = [{**f, "url": item["related"].get(f["role"])} for f in files]
    item["masks"] = {
        f["role"].split(":", 1)[1]: {"url": item["related"].get(f["role"]),
                                     "class_labels": f.get("class_labels", {}),
                                     "classes_present": f.get("classes_present", [])}
        for f in files if f["role"].startswith("mask:")
    }
    return item


def table_json(reader: RunReader, manifest: dict[str, Any]) -> dict[str, Any]:
    """A table item's JSON; each media cell is that cell's item (`media_item`, with its file URLs)."""
    table = reader.table(manifest)
    table["data"] = [[media_item(reader, cell) if _is_item(cell) else cell for cell in row]
                     for row in table["data"]]
    return json_safe(table)


def table_page(reader: RunReader, manifest: dict[str, Any], offset: int, limit: int, sort: int | None,
               descending: bool, filters: list[Filter]) -> dict[str, Any]:
    """One page of a table item, sorted and filtered here (`StoredTable.page`); its media cells as items.

    Only the page's media cells are looked up: one manifest listing per (key, step) they name.
    """
    page = StoredTable.open(reader, manifest).page(offset, limit, sort, descending, filters)
    wanted: dict[tuple[str, int], set[int]] = {}
    for row in page["data"]:
        for cell in row:
            if is_media_ref(cell):
                wanted.setdefault((cell["key"], int(cell["step"])), set()).add(int(cell["index"]))
    found: dict[tuple[str, int, int], dict[str, Any]] = {}
    for (key, step), indices in wanted.items():
        for (_, _, index), storage_key in reader.listed_manifest_keys(key=key, step=step).items():
            if index in indices:
                found[(key, step, index)] = media_item(reader, reader.load_manifest(storage_key))

    def cell_of(cell: Any) -> Any:
        if not is_media_ref(cell):
            return cell
        where = (cell["key"], int(cell["step"]), int(cell["index"]))
        return found.get(where) or media_item(reader, {"status": "pending", "kind": cell["kind"], "step": where[1],
                                                       "key": where[0], "index": where[2]})

    page["data"] = [[cell_of(c) for c in row] for row in page["data"]]
    return json_safe(page)


def file_url(project: str, run: str, key: str, step: int, index: int, role: str | None = None) -> str:
    """The viewer URL of an item's artifact (or related file): names the item, never a storage path."""
    query = {"key": key, "step": step, "index": index}
    if role is not None:
        query["role"] = role
    return f"/api/runs/{quote(project)}/{quote(run)}/file?{urlencode(query)}"


# -- shared ----------------------------------------------------------------------------------


def _is_item(value: Any) -> bool:
    """A manifest or a pending placeholder, as `RunReader` resolves a media reference."""
    return isinstance(value, dict) and {"status", "kind", "step", "key", "index"} <= value.keys()


def json_safe(value: Any) -> Any:
    """Strict JSON: NaN and ±inf (which a config or summary may hold) become ``null``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


