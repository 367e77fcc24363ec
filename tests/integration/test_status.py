"""`darkroom status` against Redis, S3 and a worker process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import darkroom

pytestmark = pytest.mark.integration


def _status(fleet, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "darkroom._cli", "status", *args, "--json"],
                         env=fleet.subprocess_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_status_shows_waiting_messages_then_the_worker_and_the_runs_counts(fleet):
    run = darkroom.init(project="watch")
    for step in range(5):
        run.log({"img": darkroom.Image(np.full((8, 8), step, dtype=np.uint8))})
    run.log({"bad": darkroom.Image(np.full((8, 8), np.nan))})
    assert run._sender.flush(timeout=60)

    before = _status(fleet, "watch")
    assert before["queues"]["darkroom.image"] == 6 and before["workers"] == {}
    assert before["runs"] == [{"run": run.path, "state": "running", "logged": 6, "converted": 0,
                               "failed": 0, "pending": 6, "batches": []}]

    worker = fleet.start_worker(queues="image")
    report = run.finish(timeout=60, quiet=True)
    assert report.converted == 5 and len(report.failed) == 1
    after = _status(fleet, "watch/*")
    assert after["queues"]["darkroom.image"] == 0
    assert any(queues == ["darkroom.image"] for queues in after["workers"].values()), after["workers"]
    assert after["runs"] == [{"run": run.path, "state": "finished", "logged": 6, "converted": 5,
                              "failed": 1, "pending": 0, "batches": []}]
    assert worker.poll() is None
    assert _status(fleet, "other-project")["runs"] == []
