"""The module-level API: `darkroom.init` starts a run and makes it current; `log` and `finish` act on it."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

from darkroom._report import FinishReport
from darkroom._resume import check_resume, find_prior
from darkroom._run import Run, _current
from darkroom.pipeline import paths
from darkroom.pipeline.settings import Settings


# W&B's init arguments that have no meaning here (no server, no accounts): accepted and left unused.
_UNUSED = ("entity", "anonymous", "settings", "save_code", "monitor_gym", "magic", "allow_val_change",
           "config_exclude_keys", "config_include_keys", "force")
REINIT = ("finish_previous", "return_previous", "create_new", "default")


def init(project: str | None = None, name: str | None = None, config: Any = None,
         mode: str = "online", dir: str | os.PathLike | None = None, *, id: str | None = None,
         resume: str | bool | None = None, reinit: str | bool | None = None, tags: Any = None,
         group: str | None = None, job_type: str | None = None, notes: str | None = None,
         storage_url: str | None = None, broker_url: str | None = None, sync_tensorboard: bool = False,
         **unused: Any) -> Run:
    """Start a run (and finish the one this process has open, as W&B does).

    Parameters
    ----------
    project: the project's name (default: ``DARKROOM_PROJECT`` or "uncategorized").
    name: a display name; the run's id is generated.
    config: hyperparameters (a dict or argparse.Namespace), stored in run.json; `run.config` reads them back.
    mode: "online" (send as you go), "offline" (only spool; send later with
        ``darkroom sync``) or "disabled" (log nothing).
    dir: where the run's local folder (its spool) goes; default ``./darkroom-runs`` (or ``DARKROOM_DIR``).
    id: the run's id (default: generated); with `resume`, the stored run to continue.
    resume: "allow" (or True, "auto"): continue run `id` if it is stored, else start it; "must":
        continue it (an error if it is not stored); None or "never": an error if it is stored.
        A continued run keeps its config, summary, history and media; its steps go on after
        its last one.
    reinit: what happens to a run this process has open: "finish_previous" (the default, also
        True) finishes it, "return_previous" (also False) returns it, "create_new" keeps both open.
    tags, group, job_type, notes: stored in run.json.
    storage_url, broker_url: override ``DARKROOM_STORAGE_URL`` / ``DARKROOM_BROKER_URL``.
    sync_tensorboard: capture TensorBoard's SummaryWriter calls into the current run
        (`darkroom.tensorboard.patch`; docs/integrations/tensorboard.md).
    entity, anonymous, settings, save_code, ...: W&B's, accepted and unused (darkroom has no server).

    Raises
    ------
    ConfigError: a setting is malformed (the message names the variable).
    InvalidInput: the project name or id is not accepted.
    ValueError: a `resume` or `reinit` not accepted; `resume` and the stored runs disagree.
    TypeError: an argument neither darkroom nor W&B takes.
    """
    unknown = sorted(set(unused) - set(_UNUSED))
    if unknown:
        raise TypeError(f"init() got an unexpected keyword argument {unknown[0]!r}")
    reinit = {None: "finish_previous", "default": "finish_previous", True: "finish_previous",
              False: "return_previous"}.get(reinit, reinit)  # type: ignore[call-overload]
    if reinit not in REINIT:
        raise ValueError(f"init(reinit={reinit!r}); accepted: {', '.join(REINIT)}, True or False")
    previous = current()
    if previous is not None and previous._pid == os.getpid():
        if reinit == "return_previous":
            return previous
        if reinit == "finish_previous":
            previous.finish()
    mode = "offline" if mode == "dryrun" else mode  # W&B's old name for offline
    settings = Settings.from_env(storage_url=storage_url, broker_url=broker_url)
    project = project or settings.project
    how = check_resume(resume, id)
    prior = None
    if id is not None:
        id = paths.check_name("run", id)
        if mode != "disabled":
            base = Path(dir or settings.run_dir).expanduser().resolve()
            prior = find_prior(settings, paths.check_name("project", project), id, how,
                               base / paths.segment(project) / id)
    meta = {"tags": [str(t) for t in tags or ()], "group": group, "job_type": job_type, "notes": notes}
    run = Run(project, name, config, mode, dir, settings, run_id=id, prior=prior,
              meta={k: v for k, v in meta.items() if v})
    _current.append(run)
    if sync_tensorboard:
        from darkroom.integration.tensorboard import patch

        patch()
    if run._sender is not None and settings.embedded and mode == "online":
        _warm_later(run)
    return run


# A run alive this long without media starts its embedded workers anyway (in a notebook or a REPL,
# at once): the cells that log media come seconds after init(), and find the workers' imports done
# (~0.3-0.6 s each).  Shorter runs (scripts, tests) never start a worker they do not use.
WARM_AFTER_S = 1.0


def _warm_later(run: Run) -> None:
    def warm() -> None:
        if run._report is None and run._sender is not None:
            run._sender.delivery.warm()

    interactive = "ipykernel" in sys.modules or hasattr(sys, "ps1")  # a notebook or a REPL: cells come later
    timer = threading.Timer(0.0 if interactive else WARM_AFTER_S, warm)
    timer.daemon = True
    timer.name = "darkroom-warm-workers"
    timer.start()


def current() -> Run | None:
    return _current[-1] if _current else None


class BeforeInit:
    """`darkroom.config` or `darkroom.summary` while no run is open: reading or setting anything raises
    an error that says to call `darkroom.init()` first (not a bare ``'NoneType' object has no attribute``)."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _refuse(self, what: str) -> RuntimeError:
        return RuntimeError(f"darkroom.{self._name}{what} used before darkroom.init(); call init() first")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise self._refuse(f".{attr}")

    def __setattr__(self, attr: str, value: Any) -> None:
        raise self._refuse(f".{attr}")

    def __getitem__(self, key: Any) -> Any:
        raise self._refuse(f"[{key!r}]")

    def __setitem__(self, key: Any, value: Any) -> None:
        raise self._refuse(f"[{key!r}]")

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<darkroom.{self._name}: no run; call darkroom.init() first>"


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """`Run.log` on the current run."""
    run = current()
    if run is None:
        raise RuntimeError("darkroom.log() called before darkroom.init()")
    run.log(data, step=step, commit=commit)


def finish(wait: bool = True, timeout: float | None = None, exit_code: int | None = None,
           quiet: bool | None = None) -> FinishReport | None:
    """`Run.finish` on the current run (None if there is none); `exit_code` and `quiet` as W&B's."""
    run = current()
    return run.finish(wait=wait, timeout=timeout, quiet=bool(quiet), exit_code=exit_code) if run else None


def login(key: str | None = None, relogin: bool | None = None, host: str | None = None, anonymous: Any = None,
          timeout: Any = None, verify: bool = False, **unused: Any) -> bool:
    """W&B's ``wandb.login()``: darkroom has no accounts, so there is nothing to log in to; returns True.

    Where runs go is set by ``DARKROOM_STORAGE_URL`` (and ``DARKROOM_BROKER_URL`` for a fleet), or by
    `init`'s `storage_url`.
    """
    return True


def define_metric(name: str, step_metric: Any = None, **kwargs: Any) -> Any:
    """`Run.define_metric` on the current run."""
    run = current()
    if run is None:
        raise RuntimeError("darkroom.define_metric() called before darkroom.init()")
    return run.define_metric(name, step_metric, **kwargs)
