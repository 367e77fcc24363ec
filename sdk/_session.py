"""The module-level API: `darkroom.init` starts a run and makes it current; `log` and `finish` act on it."""

from __future__ import annotations

import os
from typing import Any

from darkroom._report import FinishReport
from darkroom._run import Run, _current
from darkroom.pipeline.settings import Settings


def init(project: str | None = None, name: str | None = None, config: dict[str, Any] | None = None,
         mode: str = "online", dir: str | os.PathLike | None = None, *, storage_url: str | None = None,
         broker_url: str | None = None) -> Run:
    """Start a run.

    Parameters
    ----------
    project: the project's name (default: ``DARKROOM_PROJECT`` or "uncategorized").
    name: a display name; the run's id is generated.
    config: hyperparameters, stored in run.json.
    mode: "online" (send as you go), "offline" (only spool; send later with
        ``darkroom sync``) or "disabled" (log nothing).
    dir: where the run's local folder (its spool) goes; default ``./darkroom-runs`` (or ``DARKROOM_DIR``).
    storage_url, broker_url: override ``DARKROOM_STORAGE_URL`` / ``DARKROOM_BROKER_URL``.

    Raises
    ------
    ConfigError: a setting is malformed (the message names the variable).
    InvalidInput: the project name is not accepted.
    """
    settings = Settings.from_env(storage_url=storage_url, broker_url=broker_url)
    project = project or settings.project
    run = Run(project, name, config, mode, dir, settings)
    _current.append(run)
    return run


def current() -> Run | None:
    return _current[-1] if _current else None


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """`Run.log` on the current run."""
    run = current()
    if run is None:
        raise RuntimeError("darkroom.log() called before darkroom.init()")
    run.log(data, step=step, commit=commit)


def finish(wait: bool = True, timeout: float | None = None) -> FinishReport | None:
    """`Run.finish` on the current run (None if there is none)."""
    run = current()
    return run.finish(wait=wait, timeout=timeout) if run else None
