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
from pathlib import Path

import numpy as np
import pytest

import darkroom
from waiting import wait_for


def embedded_workers() -> dict[int, Path]:
    """This process's live embedded workers: pid -> the folder of crash marks named on its command line
    (``python -m darkroom.workers.embedded --marks FOLDER``)."""
    found: dict[int, Path] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):  # ended meanwhile
            continue
        if ppid == os.getpid() and b"darkroom.workers.embedded" in argv and b"--marks" in argv[:-1]:
            found[int(proc.name)] = Path(os.fsdecode(argv[argv.index(b"--marks") + 1]))
    return found


def starts(mark: Path) -> int:
    """How many times the item of this crash mark has started converting (workers/crash_marks.py)."""
    try:
        return int(mark.read_text())
    except (FileNotFoundError, ValueError):  # not there yet, or being written
        return 0


def kill_worker_on_each_start(ident: str, kills: int) -> list[int]:
    """Kill the embedded workers each time the item `ident` starts converting, `kills` times;
    return the pids killed.

    The item's crash mark appears (or counts up) as a worker starts converting
    it, the worker's own signal; the item is made to convert for about a
    second, so the worker is still converting it when it is killed.
    """
    name = hashlib.sha256(ident.encode()).hexdigest()
    killed: list[int] = []
    for start in range(1, kills + 1):
        def converting() -> list[int]:
            workers = embedded_workers()
            return [pid for pid, marks in workers.items() if starts(marks / name) == start]

        for pid in wait_for(converting, f"start {start} of item {ident} (its crash mark)", timeout=60):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


def test_an_item_that_ends_its_worker_twice_fails_and_the_rest_of_the_run_converts(embedded_env, monkeypatch):
    monkeypatch.setenv("DARKROOM_EMBEDDED_WORKERS", "1")
    run = darkroom.init(project="crash")
    run.log({"before": darkroom.Image(np.full((4, 4), 1, np.uint8))})
    slow = np.random.default_rng(0).integers(0, 256, (2048, 2048, 3), np.uint8)  # ~1 s of PNG: time to kill
    run.log({"batch": [darkroom.Image(np.full((4, 4), 2, np.uint8)), darkroom.Image(slow),
                       darkroom.Image(np.full((4, 4), 3, np.uint8))]})
    run.log({"after": darkroom.Image(np.full((4, 4), 4, np.uint8))})
    killed = kill_worker_on_each_start(f"crash/{run.id}/1/batch/1/r1", kills=2)
    report = run.finish(quiet=True, timeout=120)
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
