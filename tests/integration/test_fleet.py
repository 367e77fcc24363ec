"""The distributed deployment end to end: real redis-server, moto S3, `darkroom worker` processes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import darkroom
from darkroom.pipeline import paths
from waiting import wait_for

pytestmark = pytest.mark.integration


def _images(n: int, seed: int = 0, size: int = 24) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(data)))


def _manifest_count(reader) -> int:
    return sum(1 for _ in reader.storage.list(paths.manifests_prefix(reader.project, reader.run)))


def _crash_mark(project: str, run: str, step: int, key: str, index: int) -> str:
    """The Redis key a fleet worker sets while it converts the item (workers/crash_marks.py):
    it appears when the item starts converting and is removed when the conversion ends."""
    return f"darkroom:converting:{project}/{run}/{step}/{key}/{index}/r1"


def _children(proc: subprocess.Popen) -> list[int]:
    """The pool children of a prefork worker's main process."""
    return [int(pid) for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]


def test_two_hundred_images_are_converted_by_worker_processes_and_decode_to_their_pixels(fleet):
    fleet.start_worker(concurrency=1)
    fleet.start_worker(concurrency=1)
    images = _images(200)
    run = darkroom.init(project="fleet", config={"n": 200})
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1),
                 "examples": [darkroom.Image(images[step * 4 + i], caption=f"{step}-{i}") for i in range(4)]})
    report = run.finish(timeout=180, quiet=True)
    assert (report.converted, report.failed, report.pending) == (200, [], 0)

    reader = darkroom.Api().run(run.path)
    assert reader.storage.url.startswith("s3://")
    manifests = reader.manifests(key="examples")
    assert len(manifests) == 200 == _manifest_count(reader)
    for m in manifests:
        i = m["step"] * 4 + m["index"]
        assert m["status"] == "ok" and m["kind"] == "image" and m["caption"] == f"{m['step']}-{m['index']}"
        assert (m["artifact"]["width"], m["artifact"]["height"], m["artifact"]["mode"]) == (24, 24, "RGB")
        data = reader.read(m)
        assert hashlib.sha256(data).hexdigest() == m["artifact"]["sha256"]
        np.testing.assert_array_equal(_decode(data), images[i])
    rows = list(reader.scan_history())
    assert [r["_step"] for r in rows] == list(range(50))
    assert rows[7]["examples"][2]["caption"] == "7-2"


def test_a_worker_killed_mid_task_has_its_task_redelivered_and_completed_once(fleet):
    import redis

    # A short visibility timeout so the redelivery comes within the test
    # (STACK_NOTES.md): production keeps it above the longest time limit.
    env = {"DARKROOM_VISIBILITY_TIMEOUT": "6", "DARKROOM_TASK_TIME_LIMIT": "5"}
    first = fleet.start_worker(**env)
    # One task holding 40 large noise images keeps a worker busy for seconds.
    images = _images(40, seed=1, size=384)
    run = darkroom.init(project="crash")
    run.log({"big": [darkroom.Image(a) for a in images]})
    run._sender.flush(timeout=60)
    # Killed while it converts one of the first half of the items: at least 20 are left undone.
    client = redis.Redis.from_url(fleet.redis.url)
    early = [_crash_mark("crash", run.id, 0, "big", i) for i in range(20)]
    wait_for(lambda: client.exists(*early), "the worker to start converting one of the first 20 items",
             timeout=60, context=first.log_path.read_text)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    reader = darkroom.Api().run(run.path)
    done_by_first = _manifest_count(reader)
    assert done_by_first < 40, "the kill came too late to interrupt the task"

    second = fleet.start_worker(**env)
    report = run.finish(timeout=120, quiet=True)
    assert (report.converted, report.failed, report.pending) == (40, [], 0)
    assert "received" in second.log_path.read_text()
    # Deterministic manifest keys: one object per item, first revision only.
    keys = list(reader.storage.list(paths.manifests_prefix(reader.project, reader.run)))
    assert len(keys) == 40
    assert sorted(m["index"] for m in reader.manifests()) == list(range(40))
    assert {m["revision"] for m in reader.manifests()} == {1}
    for m in reader.manifests():
        np.testing.assert_array_equal(_decode(reader.read(m)), images[m["index"]])


def test_an_item_that_ends_its_pool_process_twice_fails_and_the_rest_of_its_request_converts(fleet):
    """A codec crash or an OOM kill, as SIGKILL to the prefork child converting one item: Celery
    redelivers the task (reject_on_worker_lost); the item's mark in Redis counts the ended children."""
    import redis

    worker = fleet.start_worker(pool="prefork")
    run = darkroom.init(project="poison")
    mark = _crash_mark("poison", run.id, 0, "batch", 1)
    client, killed = redis.Redis.from_url(fleet.redis.url), []
    # ~1 s of PNG, far longer than wait_for's checks: the child is still converting it when killed.
    slow = np.random.default_rng(0).integers(0, 256, (2048, 2048, 3), np.uint8)
    run.log({"batch": [darkroom.Image(np.full((4, 4), 2, np.uint8)), darkroom.Image(slow),
                       darkroom.Image(np.full((4, 4), 3, np.uint8))]})
    for start in (1, 2):  # each start of the item: kill the child converting it
        wait_for(lambda: int(client.get(mark) or 0) == start, f"start {start} of item batch[1] ({mark})",
                 timeout=90, context=worker.log_path.read_text)
        children = _children(worker)
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        killed.extend(children)
    report = run.finish(timeout=120, quiet=True)
    reader = darkroom.Api().run(run.path)
    assert [m["status"] for m in reader.manifests()] == ["ok", "failed", "ok"]
    assert reader.manifest(0, "batch", 1)["error"]["code"] == "worker_crashed"
    assert (report.converted, len(report.failed), report.pending) == (2, 1, 0)
    assert client.exists(mark) == 0
    assert len(set(killed)) == 2


def test_items_logged_while_the_broker_is_down_are_spooled_and_sent_when_it_returns(any_fleet):
    fleet = any_fleet  # Redis and RabbitMQ (publisher confirms: a publish to a stopped node raises)
    fleet.start_worker()
    fleet.redis.stop()
    try:
        images = _images(20, seed=2)
        run = darkroom.init(project="broker-outage")
        with pytest.warns(darkroom.DarkroomWarning, match="stay in the spool"):
            for step, a in enumerate(images):
                run.log({"img": darkroom.Image(a), "step_value": step})
            wait_for(lambda: run._sender.outage, "the sender to report the broker outage", timeout=10)
        assert run._sender.outage is not None
        assert len(run._sender.spool) > 0
    finally:
        fleet.redis.start()
    with pytest.warns(darkroom.DarkroomWarning, match="sending resumed"):
        report = run.finish(timeout=120, quiet=True)
    assert (report.converted, report.failed, report.pending, report.spooled) == (20, [], 0, 0)
    reader = darkroom.Api().run(run.path)
    for m in reader.manifests(key="img"):
        np.testing.assert_array_equal(_decode(reader.read(m)), images[m["step"]])


def test_items_logged_while_s3_is_down_are_retried_and_nothing_is_lost(fleet):
    images = _images(30, seed=3)
    run = darkroom.init(project="s3-outage")
    for step in range(10):
        run.log({"img": darkroom.Image(images[step])})
    # Sent before the outage, so the outage's warning comes from what is logged during it;
    # with no worker yet, their tasks wait in Redis for the outage.
    assert run._sender.flush(timeout=60)
    fleet.s3.stop()
    try:
        with pytest.warns(darkroom.DarkroomWarning, match="stay in the spool"):
            for step in range(10, 30):
                run.log({"img": darkroom.Image(images[step])})
            wait_for(lambda: run._sender.outage, "the sender to report the storage outage", timeout=15)
        worker = fleet.start_worker()
        # Down while the worker takes the tasks: they fail and retry with backoff (Celery logs each retry).
        wait_for(lambda: "] retry: Retry in " in worker.log_path.read_text(), "a task's retry in the worker's log",
                 timeout=60, context=worker.log_path.read_text)
    finally:
        fleet.s3.start()
    report = run.finish(timeout=180, quiet=True)
    assert (report.converted, report.failed, report.pending, report.spooled) == (30, [], 0, 0)
    reader = darkroom.Api().run(run.path)
    for m in reader.manifests(key="img"):
        np.testing.assert_array_equal(_decode(reader.read(m)), images[m["step"]])


_TRAINING = textwrap.dedent("""
    import sys, time, numpy as np, darkroom
    run = darkroom.init(project="killed")
    print(run.dir, flush=True)
    rng = np.random.default_rng(4)
    for step in range(int(sys.argv[1])):
        run.log({"loss": float(step), "img": [darkroom.Image(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(2)]})
    print("logged", flush=True)
    # The write-ahead promise: what reached the spool survives.  Its sending may still go on.
    deadline = time.monotonic() + 60
    while run._sender.in_memory() and time.monotonic() < deadline:
        time.sleep(0.01)
    print("spooled" if not run._sender.in_memory() else "not spooled after 60 s", flush=True)
    time.sleep(600)
""")


def _train_then_kill(tmp_path: Path, env: dict[str, str], steps: int) -> Path:
    script = tmp_path / "train.py"
    script.write_text(_TRAINING)
    proc = subprocess.Popen([sys.executable, str(script), str(steps)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    run_dir = Path(proc.stdout.readline().strip())
    assert proc.stdout.readline().strip() == "logged"
    assert proc.stdout.readline().strip() == "spooled"  # everything logged is on disk: kill it now
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return run_dir


def _sync(tmp_path: Path, env: dict[str, str], run_dir: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "darkroom._cli", "sync", str(run_dir), "--json", "--timeout", "120"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)[0]


def test_a_training_process_killed_after_its_last_log_loses_nothing_on_a_fleet(fleet, tmp_path):
    # No worker yet: whatever the dead process managed to send waits in Redis.
    env = fleet.subprocess_env()
    run_dir = _train_then_kill(tmp_path, env, steps=40)
    fleet.start_worker()
    report = _sync(tmp_path, env, run_dir)
    assert report["failed"] == [] and report["spooled"] == 0
    project, run_id = run_dir.parent.name, run_dir.name
    reader = darkroom.Api().run(f"{project}/{run_id}")
    wait_for(lambda: len(reader.entries()) >= 80, "the run's index to name 80 items", timeout=120, every=0.2,
             context=lambda: f"it names {len(reader.entries())}; sync said {report}")
    manifests = reader.manifests(key="img")
    assert len(manifests) == 80 and all(m["status"] == "ok" for m in manifests)
    assert [r["_step"] for r in reader.scan_history()] == list(range(40))


def test_a_training_process_killed_after_its_last_log_loses_nothing_embedded(embedded_env, tmp_path):
    env = {k: v for k, v in os.environ.items()}
    run_dir = _train_then_kill(tmp_path, env, steps=40)
    report = _sync(tmp_path, env, run_dir)
    assert report["failed"] == [] and report["spooled"] == 0 and report["pending"] == 0
    reader = darkroom.Api().run(f"{run_dir.parent.name}/{run_dir.name}")
    manifests = reader.manifests(key="img")
    assert len(manifests) == 80 and all(m["status"] == "ok" for m in manifests)
    assert [r["_step"] for r in reader.scan_history()] == list(range(40))


def test_a_worker_rejects_malformed_and_foreign_messages_and_keeps_serving(fleet):
    from darkroom.pipeline.queue import TASK_NAME, make_celery
    from darkroom.pipeline.settings import Settings

    worker = fleet.start_worker()
    app = make_celery(Settings.from_env())
    good = _images(1, seed=5)[0]
    run = darkroom.init(project="hostile")
    run.log({"warmup": darkroom.Image(good)})
    run._sender.flush(timeout=60)
    reader = darkroom.Api().run(run.path)

    app.send_task(TASK_NAME, args=["not a request"], queue="darkroom.image")
    app.send_task(TASK_NAME, args=[{"schema": "darkroom.convert/1", "kind": "image"}], queue="darkroom.image")
    raw = wait_for(lambda: reader.manifests(key="warmup"), "the warmup image's manifest", timeout=60,
                   every=0.1, context=worker.log_path.read_text)[0]["source"]
    foreign = {**raw, "uri": raw["uri"].replace(fleet.bucket, "another-bucket"), "ext": "npy"}
    outside = {**raw, "uri": "file:///etc/passwd", "ext": "npy"}
    huge = {**raw, "bytes": 10**12, "ext": "npy"}
    request = {"schema": "darkroom.convert/1", "project": "hostile", "run": run.id, "step": 99,
               "key": "hostile", "kind": "image",
               "items": [{"index": i, "source": s} for i, s in enumerate([foreign, outside, huge])]}
    app.send_task(TASK_NAME, args=[request], queue="darkroom.image")
    run.log({"after": darkroom.Image(good)}, step=100)
    report = run.finish(timeout=60, quiet=True)
    assert report.converted == 2 and report.failed == []
    hostile = {m["index"]: m for m in reader.manifests(key="hostile")}
    assert hostile[0]["status"] == hostile[1]["status"] == hostile[2]["status"] == "failed"
    assert hostile[0]["error"]["code"] == "unsafe_uri" and "outside this storage" in hostile[0]["error"]["message"]
    assert hostile[1]["error"]["code"] == "unsafe_uri"
    assert hostile[2]["error"]["code"] == "too_large" and "DARKROOM_MAX_PAYLOAD_BYTES" in hostile[2]["error"]["message"]
    log = worker.log_path.read_text()
    assert "rejected a malformed message" in log
    assert worker.poll() is None
