"""`darkroom reprocess`: plan, record, send (fleet) or convert (embedded), and follow a batch.

The plan lives in `darkroom.pipeline.reprocess`; this module does what needs
the SDK's side: checking options against the converters before anything is
sent, the Celery group of chunks, the embedded workers, and the progress bar.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from darkroom.pipeline.errors import InvalidInput, Transient
from darkroom.pipeline.reprocess import Plan, Selection, chunks, plan, progress, record
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import Storage

# An embedded conversion that meets an unreachable storage is tried this often.
_EMBEDDED_ATTEMPTS = 3


def parse_sets(sets: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["format=webm", "fps=8"]`` -> ``{"format": "webm", "fps": 8}``; values are JSON when they parse.

    Raises
    ------
    InvalidInput: an entry without ``=``.
    """
    options: dict[str, Any] = {}
    for text in sets:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise InvalidInput("invalid_option", f"--set {text!r} is not OPTION=VALUE (e.g. --set fps=8)")
        try:
            options[name.strip()] = json.loads(value)
        except ValueError:
            options[name.strip()] = value
    return options


def parse_steps(text: str | None) -> tuple[int | None, int | None]:
    """``"A:B"`` -> (A, B): steps A <= step < B, either side may be empty."""
    if not text:
        return (None, None)
    start, sep, stop = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return (int(start) if start.strip() else None, int(stop) if stop.strip() else None)
    except ValueError:
        raise InvalidInput("invalid_option", f"--steps {text!r} is not A:B (e.g. 100:200, 100:, :50)") from None


def check_options(kind: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The converter's version and its stored form of `options`; InvalidInput if it refuses them."""
    from darkroom.workers.converters import converter_for

    converter = converter_for(kind)
    try:
        parsed = converter.parse_options(options)
    except InvalidInput as e:
        raise InvalidInput(e.code, f"{kind} converter refuses the options {options}: {e.message}") from None
    return converter.version, parsed.model_dump(mode="json")


def make_plan(storage: Storage, selection: Selection) -> Plan:
    return plan(storage, selection, check_options)


def send(result: Plan, selection: Selection, storage: Storage, settings: Settings, quiet: bool) -> dict[str, Any]:
    """Record the batch, then send it (fleet) or convert it here (embedded)."""
    record(storage, result, selection)
    if settings.embedded:
        return _convert_embedded(result, settings, quiet)
    return _send_chunks(result, settings)


def _send_chunks(result: Plan, settings: Settings) -> dict[str, Any]:
    from celery import group
    from kombu.exceptions import OperationalError

    from darkroom.pipeline.errors import BrokerUnavailable
    from darkroom.pipeline.timestamps import now_iso
    from darkroom.pipeline.queue import CHUNK_TASK_NAME, make_celery, queue_for

    app = make_celery(settings)
    parts = chunks(result.requests)
    sent_at = now_iso()
    signatures = [
        app.signature(CHUNK_TASK_NAME, args=[[{**r.to_json(), "sent_at": sent_at} for r in part]])
        .set(queue=queue_for(part[0].kind))
        for part in parts
    ]
    started = time.perf_counter()
    try:
        group(signatures).apply_async()
    except (OperationalError, OSError) as e:
        raise BrokerUnavailable(f"the broker did not take the batch ({e}); nothing is lost: run the "
                                "same command again") from e
    finally:
        app.close()
    return {"messages": len(parts), "enqueue_seconds": round(time.perf_counter() - started, 4)}


class _Answer:
    """The receipt the embedded dispatch answers (`darkroom._dispatch.Receipt`)."""

    def __init__(self, delivered: Any, failed: Any):
        self.delivered, self.failed = delivered, failed


def _convert_embedded(result: Plan, settings: Settings, quiet: bool) -> dict[str, Any]:
    from darkroom._embedded import EmbeddedDispatch

    dispatch = EmbeddedDispatch(settings)
    outcome = {"converted": 0, "failed": 0, "not_sent": 0}
    lock = threading.Condition()
    left = [len(result.requests)]
    bar = Bar(result.item_count, f"reprocessing {result.batch}", enabled=not quiet)

    def submit(request: dict[str, Any], attempt: int) -> None:
        def done(results: list[tuple[str, str]] | None) -> None:
            with lock:
                for status, _ in results or []:
                    outcome["converted" if status == "ok" else "failed"] += 1
                left[0] -= 1
                lock.notify_all()

        def error(e: Exception) -> None:
            if attempt + 1 < _EMBEDDED_ATTEMPTS:
                threading.Thread(target=submit, args=(request, attempt + 1), daemon=True).start()
                return
            with lock:
                outcome["not_sent"] += len(request["items"])
                left[0] -= 1
                lock.notify_all()

        try:
            dispatch.send(request, _Answer(done, error))
        except Transient as e:
            error(e)

    try:
        for r in result.requests:
            submit(r.to_json(), 0)
            bar.update(outcome["converted"], outcome["failed"])
        with lock:
            while left[0] > 0:
                lock.wait(timeout=0.2)
                bar.update(outcome["converted"], outcome["failed"])
    finally:
        bar.close()
        dispatch.close()
    return outcome


def wait(result: Plan, storage: Storage, timeout: float | None, quiet: bool) -> dict[str, int]:
    """Follow a sent batch in the runs' indexes until no item is pending (or `timeout`)."""
    from darkroom.pipeline.reader import RunReader

    batch_items = {run: {"items": items} for run, items in result.items.items()}
    deadline = None if timeout is None else time.monotonic() + timeout
    bar = Bar(result.item_count, f"batch {result.batch}", enabled=not quiet)
    try:
        while True:
            totals = {"items": 0, "converted": 0, "failed": 0, "pending": 0, "superseded": 0}
            for run, batch in batch_items.items():
                project, run_id = run.split("/", 1)
                counts = progress(batch, RunReader(storage, project, run_id).entries())
                for name in totals:
                    totals[name] += counts[name]
            bar.update(totals["converted"] + totals["superseded"], totals["failed"])
            if totals["pending"] == 0 or (deadline is not None and time.monotonic() >= deadline):
                return totals
            time.sleep(0.5)
    finally:
        bar.close()


class Bar:
    """done / failed / pending with rate and ETA on a terminal; nothing otherwise."""

    def __init__(self, total: int, label: str, enabled: bool):
        self._progress: Any = None
        if enabled and total and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TextColumn("failed {task.fields[failed]}  pending {task.fields[pending]}  "
                           "{task.fields[rate]} items/s"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._task = self._progress.add_task(label, total=total, failed=0, pending=total, rate="-")
            self._total = total
            self._started = time.monotonic()
            self._progress.start()

    def update(self, done: int, failed: int) -> None:
        if self._progress:
            finished = done + failed
            elapsed = max(1e-6, time.monotonic() - self._started)
            self._progress.update(self._task, completed=finished, failed=failed,
                                  pending=self._total - finished, rate=f"{finished / elapsed:.1f}")

    def close(self) -> None:
        if self._progress:
            self._progress.stop()
