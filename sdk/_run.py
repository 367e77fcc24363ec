"""A run: `init`, `log` with the step rules, `summary`, `config`, `finish`.

The step rules are MEDIA_TYPES.md's ``run.log`` section.  Media values are
handed to the sender at once, even in a row that stays open; only the history
row waits for its step to close.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import socket
import string
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from darkroom._config import Config
from darkroom._exit import open_runs
from darkroom._guard import (
    DarkroomStrictError,
    DarkroomWarning,
    raise_background_warnings,
    strict,
    warn,
)
from darkroom._histogram import Histogram, resolve
from darkroom._media import Media
from darkroom._plotly import Plotly, is_plotly_figure
from darkroom._metrics import Metric, Metrics, define
from darkroom._report import FinishReport, wait_for_conversions
from darkroom._resume import Prior
from darkroom._sender import MediaWork, ObjectWork, RowWork, Sender
from darkroom._spool import Spool
from darkroom._summary import Summary
from darkroom._table import Table
from darkroom._values import check_key, is_dataframe, plain_value
from darkroom.pipeline import audio_layout, item_bounds, paths
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.history import media_ref
from darkroom.pipeline.timestamps import iso_time
from darkroom.pipeline.settings import Settings, without_password
from darkroom.plot import figure_image

MODES = ("online", "offline", "disabled")
_ID_CHARS = string.ascii_lowercase + string.digits
_PLAIN = (int, float, bool, str, type(None))  # row values neither media nor anything made into media
_current: list["Run"] = []


class Run:
    """One training run.  Made by `darkroom.init`."""

    def __init__(self, project: str, name: str | None, config: dict[str, Any] | None, mode: str,
                 dir: str | os.PathLike | None, settings: Settings, run_id: str | None = None,
                 prior: Prior | None = None, meta: dict[str, Any] | None = None):
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}; accepted: {', '.join(MODES)}")
        self.project = paths.check_name("project", project) if mode != "disabled" else project
        self.id = run_id or "".join(secrets.choice(_ID_CHARS) for _ in range(8))
        self.name = name or (prior.name if prior else None) or self.id
        self.path = f"{self.project}/{self.id}"
        self.mode = mode
        self.settings = settings
        self._config_changed = False
        self.config = Config({**(prior.config if prior else {}), **dict(Config(config or {}))},
                             on_change=lambda: setattr(self, "_config_changed", True))
        self.summary, self._meta = Summary(self), dict(meta or {})
        self.tags, self.group, self.job_type, self.notes = (tuple(self._meta.get("tags", ())), self._meta.get("group"),
                                                            self._meta.get("job_type"), self._meta.get("notes"))
        self._metrics, self._prior_metrics = Metrics(), dict(prior.metrics) if prior else {}
        self._step = prior.next_step if prior else 0
        self._row: dict[str, Any] = {}
        self._start = time.time() - (prior.runtime if prior else 0.0)
        self.summary._data.update(prior.summary if prior else {})
        self._lock = threading.RLock()
        self._report: FinishReport | None = None
        self._expected: dict[tuple[int, str, int], str] = {}
        # (step, key) -> (revision, item count) of the media sent for the open row: a key
        # logged again before the row closes is sent as the next revision, so the last wins.
        self._row_media: dict[tuple[int, str], tuple[int, int]] = {}
        self._revisions: dict[tuple[int, str, int], int] = {}  # items sent again so: the revision that counts
        self.dir: Path | None = None
        self._sender: Sender | None = None
        # A run belongs to the process that made it: a child made with
        # os.fork() has none of its threads, and must neither log to it nor finish it.
        self._pid = os.getpid()
        self._warned_fork = False
        if mode == "disabled":
            return
        base = Path(dir or settings.run_dir).expanduser().resolve()
        self.dir = base / paths.segment(self.project) / self.id
        self.dir.mkdir(parents=True, exist_ok=True)
        local = {"project": self.project, "run": self.id, "storage_url": settings.resolved_storage_url(),
                 "broker_url": without_password(settings.broker_url), "mode": mode}
        (self.dir / "run.json").write_text(json.dumps(local, indent=1))
        self._sender = Sender(self.project, self.id, settings, Spool(self.dir / "spool", fsync=settings.spool_fsync),
                              online=mode == "online")
        self._write_run_json("running")
        open_runs.add(self)

    # -- logging -------------------------------------------------------------
    def log(self, data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Log a row of values (scalars, media, lists of media) at the current step.

        No `step`: joins the open row, which is written and closed unless
        ``commit=False``.  ``step=n``: equal to the current step joins the open
        row (closed only with ``commit=True``); greater closes it and moves on;
        smaller is refused with a warning and nothing of the call is kept.
        """
        if self._sender is None or self._forked():
            return
        try:
            self._log(data, step, commit)
        except DarkroomStrictError:
            raise
        except Exception as e:  # the guard: nothing after construction raises into the training loop
            if strict():
                raise
            warn(f"darkroom: log() at step {self._step} failed: {type(e).__name__}: {e}; nothing of it kept")

    def _forked(self) -> bool:
        """True in a child made with os.fork() (said once): a run belongs to the process that made it."""
        if os.getpid() == self._pid:
            return False
        if not self._warned_fork:
            self._warned_fork = True
            warnings.warn(f"darkroom: this process (pid {os.getpid()}) was forked from the one that started run "
                          f"{self.path} (pid {self._pid}); a run belongs to the process that made it, so nothing "
                          "logged here is kept: log from the parent, or call darkroom.init() in the child for a "
                          "run of its own", DarkroomWarning, stacklevel=3)
        return True

    def define_metric(self, name: str, step_metric: str | Metric | None = None, step_sync: bool | None = None,
                      hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
                      overwrite: bool | None = None) -> Metric:
        """Declare `name`'s x-axis (`step_metric`) and summary, as W&B's (sdk/_metrics.py); kept in run.json."""
        metric = define(name, step_metric, step_sync, hidden, summary, goal)
        with self._lock:
            self._metrics.add(metric)
            self._config_changed = True
        return metric

    def _log(self, data: dict[str, Any], step: int | None, commit: bool | None) -> None:
        with self._lock:
            if self._report is not None:
                warn(f"darkroom: run {self.path} is finished; log() ignored")
                return
            if not isinstance(data, dict):
                warn(f"darkroom: log() takes a dict of {{key: value}}; got {type(data).__name__}; nothing logged")
                return
            if step is not None:
                if isinstance(step, (bool, float)) or not isinstance(step, (int, np.integer)) or step < 0:
                    warn(f"darkroom: log(step={step!r}): accepted: an int >= 0; nothing logged")
                    return
                step = int(step)
                if step < self._step:
                    warn(f"darkroom: log(step={step}) is below the current step {self._step}; "
                         "steps only move forward, so nothing in this call was kept")
                    return
                if step > self._step:
                    self._commit()
                    self._step = step
            for key, value in self._metrics.sync(data).items():
                try:
                    check_key(key)
                    row_value = self._row_value(key, value, self._step)
                except (InvalidInput, TypeError, ValueError, RecursionError) as e:
                    if strict():
                        raise
                    text = e.message if isinstance(e, InvalidInput) else str(e)
                    warn(f"darkroom: key {key!r} at step {self._step} not logged: {text}")
                    continue
                self._row[key] = row_value
                own, aggregate = self._metrics.summary_value(key, row_value)
                self.summary._data[key] = aggregate if own else row_value
                if own and aggregate is None:
                    del self.summary._data[key]
            if (step is None and commit is not False) or (step is not None and commit):
                self._commit()
                self._step += 1

    def _row_value(self, key: str, value: Any, step: int) -> Any:
        """What the history row holds for `value`; media are handed to the sender now."""
        if type(value) in _PLAIN:  # the common case first: log() is on the training thread
            return plain_value(value)
        if not isinstance(value, Media):
            value = figure_image(value) or value  # a matplotlib figure or pyplot: drawn here, stored as PNG
            if is_dataframe(value):
                value = Table(dataframe=value)
            elif is_plotly_figure(value):  # W&B stores a Plotly figure logged directly as wandb.Plotly
                value = Plotly(value)
        if isinstance(value, Media):
            self._send_media(key, step, [value])
            return media_ref(value.kind, step, key, 1, is_list=False)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, Media) for v in value):
            kinds = {v.kind for v in value}
            if len(kinds) > 1:
                raise ValueError(f"a list under one key must hold one media type; got {sorted(kinds)}")
            self._send_media(key, step, list(value))
            return media_ref(value[0].kind, step, key, len(value), is_list=True)
        return plain_value(value)

    def _send_media(self, key: str, step: int, items: list[Media], indices: list[int] | None = None) -> None:
        for media in items:  # what a media contains (a table's image cells) goes first
            for child_key, children, child_indices in media._children(key, step):
                self._send_media(child_key, step, children, child_indices)
        items = [media._as_logged(key, step) for media in items]
        bound = self.settings.limits.max_items_per_key
        if len(items) > bound:
            raise ValueError(f"{len(items)} items under one key; the bound is {bound} (DARKROOM_MAX_ITEMS_PER_KEY)")
        if items[0].kind == "audio":
            audio_layout.check_clip_count(len(items), key, step)
        if indices is not None:  # a table's cells, under a key of the table's making
            item_bounds.check_key(key)
        for media in items:  # the convert message's bounds, in the words a worker would use (key checked by _log)
            item_bounds.check_content(media.caption, media._related, media._extra)
            item_bounds.check_json("options", media._options, item_bounds.MAX_EXTRA_DEPTH,
                                   item_bounds.MAX_EXTRA_CHARS)
        if len(items) > 50:
            warn(f"darkroom: {len(items)} {items[0].kind}s under key {key!r} at step {step}; all are kept "
                 "(viewers may show them slowly)")
        if self._sender is None:  # a disabled run: `run.summary[k] = Image(...)` keeps the reference only
            return
        indices = list(indices if indices is not None else range(len(items)))
        revision, earlier = self._row_media.get((step, key), (0, 0))
        for index in range(earlier):  # what the key held before in this row is no longer logged
            self._expected.pop((step, key, index), None)
        for index in indices:
            self._expected[(step, key, index)] = items[0].kind
            if revision:
                self._revisions[(step, key, index)] = revision + 1
        self._row_media[(step, key)] = (revision + 1, max(indices, default=-1) + 1)
        self._sender.put(MediaWork(step, key, items[0].kind, items, indices, revision + 1),
                         sum(m.nbytes for m in items))

    def _commit(self) -> None:
        self._row_media.clear()
        if self._config_changed and self._sender is not None:  # run.config or a metric changed since
            self._write_run_json("running")
        if not self._row or self._sender is None:
            return
        now = time.time()
        row = {**self._row, "_step": self._step, "_timestamp": now, "_runtime": now - self._start}
        self._row = {}
        self._sender.put(RowWork(row), 1024 + sum(v.nbytes for v in row.values() if isinstance(v, Histogram)))

    # -- finishing -----------------------------------------------------------
    def finish(self, wait: bool = True, timeout: float | None = None, quiet: bool = False,
               exit_code: int | None = None) -> FinishReport:
        """Write the open row, drain the spool, wait for conversions; return the report.

        Parameters
        ----------
        wait: wait for the conversions (embedded runs always wait: their workers end with the run).
        timeout: seconds to wait at most; what is not done by then is reported pending.
        quiet: print nothing (the report line and progress bars go to stderr otherwise).
        exit_code: W&B's; kept in run.json as ``exit_code`` (the run is ``finished`` whatever it is).
        """
        if self._sender is not None and self._forked():
            return FinishReport(run=self.path, converted=0, failed=[], pending=0)
        with self._lock:
            if self._report is not None:
                return self._report
            if self._sender is None:
                self._report = FinishReport(run=self.path, converted=0, failed=[], pending=0)
                _forget_current(self)
                return self._report
            self._commit()
            self._put_summary()
            if exit_code is not None:
                self._meta["exit_code"] = exit_code
            self._write_run_json("finished")
            deadline = None if timeout is None else time.monotonic() + timeout
            self._sender.flush(timeout)
            must_wait = wait or self.settings.embedded
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            report = wait_for_conversions(
                self, self._expected, self._sender, wait=must_wait and self.mode == "online",
                revisions=self._revisions, timeout=left, quiet=quiet,
            )
            self._sender.close(timeout=30)
            self._report = report
            open_runs.discard(self)
            _forget_current(self)
            if not quiet:
                report.print_line(self)
            raise_background_warnings()
            return report

    def _put_summary(self) -> None:
        assert self._sender is not None
        summary = {}
        for key, value in self.summary._data.items():  # one value JSON cannot hold costs only itself
            try:
                value = resolve(value)
                json.dumps(value, default=str)
            except (TypeError, ValueError, RecursionError) as e:
                warn(f"darkroom: summary key {key!r} not stored: {type(e).__name__}: {e}")
                continue
            summary[key] = value
        body = json.dumps(summary, default=str).encode()
        self._sender.put(ObjectWork(paths.summary_key(self.project, self.id), body), len(body))

    def _write_run_json(self, state: str) -> None:
        assert self._sender is not None
        import darkroom

        self._config_changed = False
        info = {
            "project": self.project, "run": self.id, "name": self.name, "config": self.config.as_dict(),
            "metrics": {**self._prior_metrics, **self._metrics.to_json()}, **self._meta,
            "state": state, "created_at": iso_time(self._start), "host": socket.gethostname(),
            "python": platform.python_version(), "darkroom": darkroom.__version__, "mode": self.mode,
        }
        if state == "finished":
            info["finished_at"] = iso_time(time.time())
            info["runtime"] = time.time() - self._start
        body = json.dumps(info, default=str).encode()
        self._sender.put(ObjectWork(paths.run_json_key(self.project, self.id), body), len(body))

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()

    @property
    def step(self) -> int:
        """W&B's ``run.step``: the step the next ``log()`` without `step` joins."""
        return self._step

    def __repr__(self) -> str:
        return f"<darkroom.Run {self.path} mode={self.mode} step={self._step}>"


# -- module-level API ----------------------------------------------------------


def _forget_current(run: Run) -> None:
    # Not only the newest: runs may finish in any order, and a finished run
    # must not become `darkroom.run` again when a newer one finishes.
    if run in _current:
        _current.remove(run)
