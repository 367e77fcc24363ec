"""`init(id=..., resume=...)`: what a resumed run continues from, read from storage.

A resumed run keeps its id, config, summary, history and media; its steps go
on after the last one stored, so nothing it logs replaces what it had.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from darkroom.pipeline import paths
from darkroom.pipeline.errors import NotFound
from darkroom.pipeline.settings import Settings

RESUME = ("allow", "must", "never", "auto")


@dataclasses.dataclass(frozen=True)
class Prior:
    """What a run had stored when it is resumed."""

    config: dict[str, Any]
    summary: dict[str, Any]
    next_step: int
    runtime: float
    name: str | None
    metrics: dict[str, Any]


def check_resume(resume: Any, run_id: Any) -> str | None:
    """`resume` as one of `RESUME` (True is "allow"), or None.

    Raises
    ------
    ValueError: a value not accepted, or "must" without an id.
    """
    if resume is None or resume is False:
        return None
    if resume is True:
        resume = "allow"
    if resume not in RESUME:
        raise ValueError(f"init(resume={resume!r}); accepted: 'allow', 'must', 'never', 'auto', True or None")
    if resume == "must" and run_id is None:
        raise ValueError("init(resume='must') needs id=: the id of the run to continue")
    return resume


def find_prior(settings: Settings, project: str, run_id: str, resume: str | None,
               local_dir: Path) -> Prior | None:
    """The stored state of run ``project/run_id`` to continue, or None for a new run.

    Raises
    ------
    ValueError: the run exists and `resume` is None or "never"; it does not and `resume` is "must";
        its local spool still holds entries not sent (``darkroom sync`` them first).
    StorageError: the storage could not be read.
    """
    from darkroom.pipeline.reader import RunReader, history_rows
    from darkroom.pipeline.storage import open_storage

    path = f"{project}/{run_id}"
    storage = open_storage(settings.resolved_storage_url(), settings)
    reader = RunReader(storage, project, run_id)
    try:
        info = reader.info
    except NotFound:
        if resume == "must":
            raise ValueError(f"init(id={run_id!r}, resume='must'): there is no run {path} in "
                             f"{storage.url} to resume; accepted: the id of a stored run, or resume='allow'") from None
        return None
    if resume in (None, "never"):
        raise ValueError(f"init(id={run_id!r}): run {path} exists already in {storage.url}; pass resume='allow' "
                         "(or 'must') to continue it, or another id")
    pending = [p.name for p in (local_dir / "spool").glob("*.json")] if (local_dir / "spool").is_dir() else []
    if pending:
        raise ValueError(f"run {path} has {len(pending)} entries not yet sent in {local_dir / 'spool'}; send them "
                         f"with `darkroom sync {local_dir}` before resuming it")
    last = -1
    chunks = sorted(storage.list(paths.history_prefix(project, run_id)))
    if chunks:  # chunks are named by their first step: the last one holds the last rows
        last = max((step for step, _ in history_rows(chunks[-1], storage.get(chunks[-1]))), default=-1)
    try:
        summary = json.loads(storage.get(paths.summary_key(project, run_id)))
    except NotFound:
        summary = {}
    runtime = info.get("runtime")
    return Prior(config=dict(info.get("config") or {}), summary=summary if isinstance(summary, dict) else {},
                 next_step=last + 1, runtime=float(runtime) if isinstance(runtime, (int, float)) else 0.0,
                 name=info.get("name"), metrics=dict(info.get("metrics") or {}))
