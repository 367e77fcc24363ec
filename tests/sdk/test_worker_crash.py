"""An item whose conversion ends the worker process (a codec crash, an out-of-memory kill, the time limit)
is not tried forever.

The embedded default, for real: the test kills the worker process with
SIGKILL, as the kernel's OOM killer does, each time it starts converting one
item, and checks that the item fails with ``worker_crashed`` after two
ended workers while every other item of the run, its own request's
included, converts.  Then the same with the time limit stopping the worker.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import darkroom


def kill_worker_on_each_start(run: darkroom.Run, ident: str, kills: int) -> tuple[threading.Thread, list[int]]:
    """Kill the embedded worker each time the item `ident` starts converting, `kills` times;
    the list gets the pids killed."""
    killed: list[int] = []

    def watch() -> None:
        deadline, done = time.monotonic() + 60, 0
        while done < kills and time.monotonic() < deadline:
            dispatch = run._sender.dispatch
            mark = Path(dispatch._marks) / hashlib.sha256(ident.encode()).hexdigest() if dispatch else None
            try:
                starts = int(mark.read_text()) if mark else 0
            except (FileNotFoundError, ValueError):  # not there yet, or being written
                starts = 0
            if starts == done + 1:  # the item's next start: its worker is converting it now
                for worker in list(dispatch._workers):
                    os.kill(worker.proc.pid, signal.SIGKILL)
                    killed.append(worker.proc.pid)
                done += 1
            time.sleep(0.002)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, killed


def test_an_item_that_ends_its_worker_twice_fails_and_the_rest_of_the_run_converts(embedded_env, monkeypatch):
    monkeypatch.setenv("DARKROOM_EMBEDDED_WORKERS", "1")
    run = darkroom.init(project="crash")
    killer, killed = kill_worker_on_each_start(run, f"crash/{run.id}/1/batch/1/r1", kills=2)
    run.log({"before": darkroom.Image(np.full((4, 4), 1, np.uint8))})
    slow = np.random.default_rng(0).integers(0, 256, (2048, 2048, 3), np.uint8)  # ~1 s of PNG: time to kill
    run.log({"batch": [darkroom.Image(np.full((4, 4), 2, np.uint8)), darkroom.Image(slow),
                       darkroom.Image(np.full((4, 4), 3, np.uint8))]})
    run.log({"after": darkroom.Image(np.full((4, 4), 4, np.uint8))})
    report = run.finish(quiet=True, timeout=120)
    killer.join(timeout=5)
    assert len(set(killed)) == 2, killed  # two workers, each killed converting the item
    reader = darkroom.Api().run(run.path)
    statuses = {(m["step"], m["key"], m["index"]): m["status"] for m in reader.manifests()}
    assert statuses == {(0, "before", 0): "ok", (1, "batch", 0): "ok", (1, "batch", 1): "failed",
                        (1, "batch", 2): "ok", (2, "after", 0): "ok"}
    error = reader.manifest(1, "batch", 1)["error"]
    assert error["code"] == "worker_crashed"
    assert "ended 2 times while converting this item" in error["message"]
    assert report.converted == 4 and len(report.failed) == 1 and not report.pending


def test_an_item_over_the_time_limit_stops_two_workers_then_fails_and_the_run_goes_on(embedded_env, monkeypatch):
    monkeypatch.setenv("DARKROOM_EMBEDDED_WORKERS", "1")
    monkeypatch.setenv("DARKROOM_TASK_TIME_LIMIT", "1")
    run = darkroom.init(project="slow")
    slow = np.random.default_rng(1).integers(0, 256, (4096, 4096, 3), np.uint8)  # seconds of PNG
    with pytest.warns(darkroom.DarkroomWarning, match=r"spent over 1 s \(DARKROOM_TASK_TIME_LIMIT\)"):
        run.log({"batch": [darkroom.Image(np.full((4, 4), 2, np.uint8)), darkroom.Image(slow)]})
        run.log({"after": darkroom.Image(np.full((4, 4), 4, np.uint8))})
        report = run.finish(quiet=True, timeout=120)
    reader = darkroom.Api().run(run.path)
    statuses = {(m["step"], m["key"], m["index"]): m["status"] for m in reader.manifests()}
    assert statuses == {(0, "batch", 0): "ok", (0, "batch", 1): "failed", (1, "after", 0): "ok"}
    error = reader.manifest(0, "batch", 1)["error"]
    assert error["code"] == "worker_crashed" and "DARKROOM_TASK_TIME_LIMIT" in error["message"]
    assert report.converted == 2 and len(report.failed) == 1 and not report.pending
