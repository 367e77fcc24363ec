"""A run: `init`, `log` with the step rules, `summary`, `config`, `finish`.

The step rules are MEDIA_TYPES.md's ``run.log`` section.  Media values are
handed to the sender at once, even in a row that stays open; only the history
row waits for its step to close.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import secrets
import socket
import string
import sys
import threading
import time
import weakref
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np

from darkroom._guard import DarkroomStrictError, strict, warn
from darkroom._histogram import Histogram, resolve
from darkroom._media import Media
from darkroom._report import FinishReport, wait_for_conversions
from darkroom._sender import MediaWork, ObjectWork, RowWork, Sender
from darkroom._spool import Spool
from darkroom._table import Table
from darkroom.plot import figure_image
from darkroom.pipeline import paths
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.history import media_ref
from darkroom.pipeline.settings import Settings

MODES = ("online", "offline", "disabled")
_MAX_ITEMS_PER_KIND = {"audio": 100}  # MEDIA_TYPES.md, Audio: at most 100 clips per key per step
_ID_CHARS = string.ascii_lowercase + string.digits
_current: list["Run"] = []
_open_runs: "weakref.WeakSet[Run]" = weakref.WeakSet()
_EXIT_TIMEOUT = 120.0  # seconds an open run may take to finish at interpreter exit


class Summary(MutableMapping):
    """Each key's last logged value, unless set here; a set value holds until the key is logged again."""

    def __init__(self, run: "Run"):
        self._run = run
        self._data: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        _check_key(key)
        self._data[key] = self._run._row_value(f"_summary/{key}", value, self._run._step)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"


class Run:
    """One training run.  Made by `darkroom.init`."""

    def __init__(self, project: str, name: str | None, config: dict[str, Any] | None, mode: str,
                 dir: str | os.PathLike | None, settings: Settings, run_id: str | None = None):
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}; accepted: {', '.join(MODES)}")
        self.project = paths.check_name("project", project) if mode != "disabled" else project
        self.id = run_id or "".join(secrets.choice(_ID_CHARS) for _ in range(8))
        self.name = name or self.id
        self.path = f"{self.project}/{self.id}"
        self.mode = mode
        self.settings = settings
        self.config: dict[str, Any] = dict(config or {})
        self.summary = Summary(self)
        self._step = 0
        self._row: dict[str, Any] = {}
        self._start = time.time()
        self._lock = threading.RLock()
        self._report: FinishReport | None = None
        self._expected: dict[tuple[int, str, int], str] = {}
        # (step, key) -> (revision, item count) of the media sent for the open row: a key
        # logged again before the row closes is sent as the next revision, so the last wins.
        self._row_media: dict[tuple[int, str], tuple[int, int]] = {}
        self._revisions: dict[tuple[int, str, int], int] = {}  # items sent again so: the revision that counts
        self.dir: Path | None = None
        self._sender: Sender | None = None
        if mode == "disabled":
            return
        base = Path(dir or os.environ.get("DARKROOM_DIR") or "./darkroom-runs").expanduser().resolve()
        self.dir = base / paths.segment(self.project) / self.id
        self.dir.mkdir(parents=True, exist_ok=True)
        local = {"project": self.project, "run": self.id, "storage_url": settings.resolved_storage_url(),
                 "broker_url": _without_password(settings.broker_url), "mode": mode}
        (self.dir / "run.json").write_text(json.dumps(local, indent=1))
        self._sender = Sender(self.project, self.id, settings, Spool(self.dir / "spool"), online=mode == "online")
        self._write_run_json("running")
        _open_runs.add(self)

    # -- logging -------------------------------------------------------------
    def log(self, data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Log a row of values (scalars, media, lists of media) at the current step.

        No `step`: joins the open row, which is written and closed unless
        ``commit=False``.  ``step=n``: equal to the current step joins the open
        row (closed only with ``commit=True``); greater closes it and moves on;
        smaller is refused with a warning and nothing of the call is kept.
        """
        if self._sender is None:
            return
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
            for key, value in data.items():
                try:
                    _check_key(key)
                    row_value = self._row_value(key, value, self._step)
                except (InvalidInput, TypeError, ValueError) as e:
                    if strict():
                        raise
                    text = e.message if isinstance(e, InvalidInput) else str(e)
                    warn(f"darkroom: key {key!r} at step {self._step} not logged: {text}")
                    continue
                self._row[key] = row_value
                self.summary._data[key] = row_value
            if (step is None and commit is not False) or (step is not None and commit):
                self._commit()
                self._step += 1

    def _row_value(self, key: str, value: Any, step: int) -> Any:
        """What the history row holds for `value`; media are handed to the sender now."""
        value = figure_image(value) or value  # a matplotlib figure or pyplot: drawn here, stored as PNG
        if _is_dataframe(value):
            value = Table(dataframe=value)
        if isinstance(value, Media):
            self._send_media(key, step, [value])
            return media_ref(value.kind, step, key, 1, is_list=False)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, Media) for v in value):
            kinds = {v.kind for v in value}
            if len(kinds) > 1:
                raise ValueError(f"a list under one key must hold one media type; got {sorted(kinds)}")
            self._send_media(key, step, list(value))
            return media_ref(value[0].kind, step, key, len(value), is_list=True)
        return _plain_value(value)

    def _send_media(self, key: str, step: int, items: list[Media], indices: list[int] | None = None) -> None:
        for media in items:  # what a media contains (a table's image cells) goes first
            for child_key, children, child_indices in media._children(key, step):
                self._send_media(child_key, step, children, child_indices)
        items = [media._as_logged(key, step) for media in items]
        bound = self.settings.limits.max_items_per_key
        if len(items) > bound:
            raise ValueError(f"{len(items)} items under one key; the bound is {bound} (DARKROOM_MAX_ITEMS_PER_KEY)")
        kind_bound = _MAX_ITEMS_PER_KIND.get(items[0].kind)
        if kind_bound is not None and len(items) > kind_bound:
            raise ValueError(f"{len(items)} {items[0].kind} items under key {key!r} at step {step}; "
                             f"at most {kind_bound} per key per step")
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
        if not self._row or self._sender is None:
            return
        now = time.time()
        row = {**self._row, "_step": self._step, "_timestamp": now, "_runtime": now - self._start}
        self._row = {}
        self._sender.put(RowWork(row), 1024 + sum(v.nbytes for v in row.values() if isinstance(v, Histogram)))

    # -- finishing -----------------------------------------------------------
    def finish(self, wait: bool = True, timeout: float | None = None, quiet: bool = False) -> FinishReport:
        """Write the open row, drain the spool, wait for conversions; return the report.

        Parameters
        ----------
        wait: wait for the conversions (embedded runs always wait: their workers end with the run).
        timeout: seconds to wait at most; what is not done by then is reported pending.
        quiet: print nothing (the report line and progress bars go to stderr otherwise).
        """
        with self._lock:
            if self._report is not None:
                return self._report
            if self._sender is None:
                self._report = FinishReport(run=self.path, converted=0, failed=[], pending=0)
                _forget_current(self)
                return self._report
            self._commit()
            self._put_summary()
            self._write_run_json("finished")
            deadline = None if timeout is None else time.monotonic() + timeout
            delivered = self._sender.flush(timeout, progress=None)
            must_wait = wait or self.settings.embedded
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            report = wait_for_conversions(
                self, self._expected, self._sender, wait=must_wait and self.mode == "online",
                revisions=self._revisions,
                timeout=left, quiet=quiet, delivered=delivered,
            )
            self._sender.close(timeout=30)
            self._report = report
            _open_runs.discard(self)
            _forget_current(self)
            if not quiet:
                report.print_line(self)
            return report

    def _put_summary(self) -> None:
        assert self._sender is not None
        body = json.dumps(resolve(self.summary._data), default=str).encode()
        self._sender.put(ObjectWork(paths.summary_key(self.project, self.id), body), len(body))

    def _write_run_json(self, state: str) -> None:
        assert self._sender is not None
        import darkroom

        info = {
            "project": self.project, "run": self.id, "name": self.name, "config": self.config,
            "state": state, "created_at": _iso(self._start), "host": socket.gethostname(),
            "python": platform.python_version(), "darkroom": darkroom.__version__, "mode": self.mode,
        }
        if state == "finished":
            info["finished_at"] = _iso(time.time())
            info["runtime"] = time.time() - self._start
        body = json.dumps(info, default=str).encode()
        self._sender.put(ObjectWork(paths.run_json_key(self.project, self.id), body), len(body))

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()

    def __repr__(self) -> str:
        return f"<darkroom.Run {self.path} mode={self.mode} step={self._step}>"


def _is_dataframe(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "pandas" and type(value).__name__ == "DataFrame"


def _plain_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str, Histogram)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) or all(hasattr(value, n) for n in ("detach", "cpu", "numpy")):
        array = value if isinstance(value, np.ndarray) else value.detach().cpu().numpy()
        if array.size == 1:
            return array.reshape(-1)[0].item()
        if array.size <= 32:
            return array.reshape(-1).tolist()
        return Histogram(array, num_bins=32)  # binned on the sender thread
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    raise TypeError(f"{type(value).__name__} is not loggable; accepted: numbers, str, bool, None, "
                    "numpy scalars and small arrays, dicts and lists of those, and darkroom media "
                    "(Image) or lists of one media type")


def _iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _without_password(url: str | None) -> str | None:
    if not url or "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('@', 1)[1]}"


# -- module-level API ----------------------------------------------------------


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
    project = project or os.environ.get("DARKROOM_PROJECT") or "uncategorized"
    run = Run(project, name, config, mode, dir, settings)
    _current.append(run)
    return run


def _forget_current(run: Run) -> None:
    # Not only the newest: runs may finish in any order, and a finished run
    # must not become `darkroom.run` again when a newer one finishes.
    if run in _current:
        _current.remove(run)


_RESERVED_KEYS = ("_step", "_timestamp", "_runtime")
_RESERVED_PREFIXES = ("_summary/", "_table/")  # where summary media and a table's media cells are stored


def _check_key(key: Any) -> None:
    """Refuse a `log` or summary key that `paths.check_user_key` refuses, or a name darkroom writes itself.

    Raises
    ------
    InvalidInput (``invalid_key``)
    """
    paths.check_user_key(key)
    if key in _RESERVED_KEYS or key.startswith(_RESERVED_PREFIXES):
        raise InvalidInput("invalid_key", f"log key {key!r} is reserved: darkroom writes "
                           f"{', '.join(_RESERVED_KEYS)} in every row and stores media under "
                           f"{' and '.join(p + '...' for p in _RESERVED_PREFIXES)}; accepted: any other key")


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


def _leave_spooled(run: Run) -> None:
    """After Ctrl-C at exit: stop sending and spool what memory holds, then say how to send it."""
    sender = run._sender
    if sender is None:
        return
    held = sender.in_memory()
    if held:
        print(f"\ndarkroom: interrupted; writing {held} entr{'y' if held == 1 else 'ies'} of run {run.path} from "
              "memory to its spool (press Ctrl-C again to drop them)", file=sys.stderr, flush=True)
    try:
        lost = sender.stop_sending(timeout=_EXIT_TIMEOUT)
    except KeyboardInterrupt:
        lost = sender.in_memory()
    if lost:
        print(f"darkroom: {lost} entr{'y' if lost == 1 else 'ies'} of run {run.path} were not spooled and are lost",
              file=sys.stderr)
    where = f"what run {run.path} had not sent stays in its spool; send it with: darkroom sync {run.dir}"
    print(f"darkroom: {where}" if held else f"\ndarkroom: interrupted; {where}", file=sys.stderr)


@atexit.register
def _finish_open_runs() -> None:
    # A run left open is finished at interpreter exit: the spool is drained and
    # embedded conversions complete; a remote fleet converts the rest.
    interrupted = False
    for run in list(_open_runs):
        if interrupted:  # the user chose to leave: the other open runs are left spooled too
            _leave_spooled(run)
            continue
        try:
            if run._sender is not None and run._sender.backlog():
                print(f"darkroom: finishing run {run.path} at exit (up to {_EXIT_TIMEOUT:.0f} s); press Ctrl-C "
                      f"to stop and leave what is not sent in its spool for: darkroom sync {run.dir}",
                      file=sys.stderr, flush=True)
            # Bounded: with the backend gone, exit must not hang; what is not
            # delivered stays in the spool for `darkroom sync`.
            run.finish(wait=False, timeout=_EXIT_TIMEOUT)
        except DarkroomStrictError:
            raise
        except KeyboardInterrupt:  # the user chose to leave now: the spool keeps what is not sent
            interrupted = True
            _leave_spooled(run)
        except Exception as e:  # at exit there is no training loop left to protect, only data
            print(f"darkroom: could not finish run {run.path} at exit: {e}; "
                  f"send its spool with: darkroom sync {run.dir}", file=sys.stderr)
