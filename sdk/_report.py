"""What `finish()` returns: items converted, failed (with their errors) and pending."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import TYPE_CHECKING, Any

from darkroom._guard import warn
from darkroom.pipeline import paths
from darkroom.pipeline.errors import DarkroomError

if TYPE_CHECKING:
    from darkroom._run import Run
    from darkroom._sender import Sender


@dataclasses.dataclass(frozen=True)
class Failure:
    """One item that could not be converted."""

    key: str
    step: int
    index: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.key!r} step {self.step} [{self.index}]: {self.message}"


@dataclasses.dataclass(frozen=True)
class FinishReport:
    """The outcome of a run's media: counts, each failure, and what is still pending."""

    run: str
    converted: int
    failed: list[Failure]
    pending: int
    spooled: int = 0  # entries still in the local spool (offline, or the backend stayed down)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.pending and not self.spooled

    def print_line(self, run: "Run") -> None:
        where = run.settings.resolved_storage_url()
        line = (f"darkroom: run {self.run}: {self.converted} converted, {len(self.failed)} failed, "
                f"{self.pending} pending -> {where}/{paths.run_prefix(run.project, run.id)}")
        if self.spooled:
            line += f"\n  {self.spooled} item(s) still spooled; send them with: darkroom sync {run.dir}"
        print(line, file=sys.stderr)
        for failure in self.failed[:10]:
            print(f"  failed: {failure}", file=sys.stderr)
        if len(self.failed) > 10:
            print(f"  ... and {len(self.failed) - 10} more (darkroom show {self.run})", file=sys.stderr)


def wait_for_conversions(run: "Run", expected: dict[tuple[int, str, int], str], sender: "Sender",
                         wait: bool, timeout: float | None, quiet: bool,
                         revisions: dict[tuple[int, str, int], int] | None = None) -> FinishReport:
    """Poll the run's manifests until every expected item has one (or `timeout`).

    `revisions`: items logged again in the same row, and the revision that holds their last value;
    an older revision's manifest is not their outcome.  The manifests found
    also let the sender forget the spool entries they answer.
    """
    if not expected:  # nothing to wait for: no manifest to read (and the reader's pydantic models not to import)
        return FinishReport(run=run.path, converted=0, failed=[], pending=0, spooled=sender.unsent())
    from darkroom.pipeline.reader import RunReader

    reader = RunReader(sender.storage, run.project, run.id)
    deadline = None if timeout is None else time.monotonic() + timeout
    seen: dict[tuple[int, str, int], tuple[str, str, str]] = {}
    total = len(expected)
    bar = _Progress(total, f"converting {run.path}", enabled=wait and not quiet and total > 0)
    delay = 0.1
    warned = False
    try:
        while True:
            try:
                _collect(reader, run, expected, sender, seen, revisions or {})
            except DarkroomError as e:  # storage unreachable while waiting: keep waiting, say so once
                if not warned:
                    warn(f"darkroom: cannot read the run's manifests yet ({e}); still waiting", 2)
                    warned = True
            bar.update(len(seen))
            if len(seen) == total or not wait:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(delay)
            delay = min(1.0, delay * 1.5)
    finally:
        bar.close()
    failures = [Failure(key, step, index, code, message)
                for (step, key, index), (status, code, message) in sorted(seen.items())
                if status == "failed"]
    converted = sum(1 for status, _, _ in seen.values() if status == "ok")
    return FinishReport(run=run.path, converted=converted, failed=failures,
                        pending=total - len(seen), spooled=sender.unsent())


def _collect(reader: Any, run: "Run", expected: dict[tuple[int, str, int], str], sender: "Sender",
             seen: dict[tuple[int, str, int], tuple[str, str, str]],
             revisions: dict[tuple[int, str, int], int]) -> None:
    """Add to `seen` the expected items whose manifests are now stored."""
    found = reader.entries() if run.mode == "online" else {}
    sender.acknowledge({ident: entry.revision for ident, entry in found.items()})
    for (step, key, index) in expected:
        ident = (step, key, index)
        if ident in seen:
            continue
        entry = found.get((step, paths.segment(key), index))
        if entry is None or entry.revision < revisions.get(ident, 1):
            continue
        outcome = sender.outcomes.get(ident, entry.revision)
        if entry.status == "ok" or (outcome is not None and outcome[0] == "ok"):
            seen[ident] = ("ok", "", "")
        else:
            error = entry.manifest().get("error") or {}
            seen[ident] = (entry.status, error.get("code", ""), error.get("message", ""))


class _Progress:
    """A rich progress bar on a terminal; nothing otherwise."""

    def __init__(self, total: int, label: str, enabled: bool):
        self._progress: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=True)
            self._task = self._progress.add_task(label, total=total)
            self._progress.start()

    def update(self, done: int) -> None:
        if self._progress:
            self._progress.update(self._task, completed=done)

    def close(self) -> None:
        if self._progress:
            self._progress.stop()
