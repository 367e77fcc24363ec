"""`darkroom reprocess` on a fleet: Redis, S3 and real worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import darkroom
from darkroom.pipeline import paths
from waiting import wait_for

pytestmark = pytest.mark.integration


def cli(fleet: Any, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "darkroom._cli", *args, "--json"],
                         env=fleet.subprocess_env(), capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def logged_run(fleet: Any, steps: int) -> Any:
    worker = fleet.start_worker(queues="image")
    run = darkroom.init(project="fleetrp")
    for step in range(steps):
        run.log({"img": darkroom.Image(np.full((8, 8), step, np.uint8))})
    assert run.finish(timeout=120, quiet=True).converted == steps
    return run, worker


def manifest_objects(run: Any) -> list[str]:
    storage = darkroom.Api().storage
    return sorted(storage.list(paths.manifests_prefix(run.project, run.id)))


def test_a_batch_goes_out_in_chunks_and_wait_follows_it_to_the_end(any_fleet: Any) -> None:
    fleet = any_fleet  # Redis and RabbitMQ: chunk messages, and `darkroom status` reading either broker
    run, _ = logged_run(fleet, 40)
    out = cli(fleet, "reprocess", "fleetrp", "--set", "file_type=jpg", "--wait", "--timeout", "120")
    assert out["plan"]["items"] == 40
    assert out["sent"]["messages"] == 2  # 40 images in chunks of at most 32
    assert out["outcome"] == {"items": 40, "converted": 40, "failed": 0, "pending": 0, "superseded": 0}
    reader = darkroom.Api().run(run.path)
    assert {(m["revision"], m["artifact"]["format"]) for m in reader.manifests()} == {(2, "jpg")}
    status = cli(fleet, "status", "fleetrp")
    (batch,) = status["runs"][0]["batches"]
    assert (batch["batch"], batch["converted"], batch["pending"]) == (out["plan"]["batch"], 40, 0)


def test_sent_twice_before_any_worker_runs_it_converges_to_one_new_revision(fleet: Any) -> None:
    run, worker = logged_run(fleet, 12)
    fleet.stop_workers()
    first = cli(fleet, "reprocess", "fleetrp", "--set", "file_type=jpg")
    # Nothing converted yet, as after a reprocess killed half-way: the same
    # command plans the same items at the same revision again.
    second = cli(fleet, "reprocess", "fleetrp", "--set", "file_type=jpg")
    assert first["plan"]["items"] == second["plan"]["items"] == 12
    status = cli(fleet, "status", "fleetrp")
    assert status["queues"]["darkroom.image"] == 2
    age = status["oldest_waiting_seconds"]["darkroom.image"]
    assert age is not None and 0 <= age < 120
    assert all(b["pending"] == 12 for b in status["runs"][0]["batches"])

    worker = fleet.start_worker(queues="image")
    last: list[dict[str, Any]] = []

    def batches_done() -> bool:
        last[:] = [cli(fleet, "status", "fleetrp")]
        return all(b["pending"] == 0 for b in last[0]["runs"][0]["batches"])

    wait_for(batches_done, "darkroom status to show no item pending", timeout=120, every=0.5,
             context=lambda: f"{last}\n{worker.log_path.read_text()}")
    # One manifest object per revision: 12 at revision 1, 12 at revision 2, none at 3.
    names = [k.rsplit("/", 1)[1] for k in manifest_objects(run)]
    assert sorted(set(names)) == ["0.json", "0.r2.json"] and len(names) == 24
    again = cli(fleet, "reprocess", "fleetrp", "--set", "file_type=jpg")
    assert again["plan"]["items"] == 0 and again["plan"]["unchanged"] == 12
