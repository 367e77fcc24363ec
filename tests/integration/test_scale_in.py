"""Graceful scale-in: what `darkroom worker` does on SIGTERM (workers/shutdown.py), on real Redis, S3 and workers."""

from __future__ import annotations

import base64
import json
import os
import signal

import numpy as np
import pytest

import darkroom
from waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    # The training process meets the same outages (its own warnings, tested in test_fleet.py).
    pytest.mark.filterwarnings("ignore:darkroom. (cannot send|sending resumed):darkroom.DarkroomWarning"),
]
QUEUE = "darkroom.image"


def _request_of(raw: bytes) -> dict:
    """The ConvertRequest a kombu message on Redis carries (protocol 2: body = [args, kwargs, embed])."""
    envelope = json.loads(raw)
    return json.loads(base64.b64decode(envelope["body"]))[0][0]


def _counted(folder) -> dict[tuple[str, tuple], float]:
    """The counters a worker's processes left in its multiprocess folder, summed as its /metrics would."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in registry.collect() for s in f.samples}


def _metered(fleet) -> tuple[tuple[str, ...], dict[str, str]]:
    """Worker arguments and environment for metrics kept in a folder the test reads after the worker exits."""
    from test_metrics import free_port

    folder = fleet.tmp_path / f"metrics-{len(fleet.workers)}"
    return ("--metrics-port", str(free_port())), {"PROMETHEUS_MULTIPROC_DIR": str(folder)}


def _mark(run, step: int, key: str, index: int) -> str:
    return f"darkroom:converting:{run.project}/{run.id}/{step}/{key}/{index}/r1"


def test_sigterm_mid_item_finishes_it_returns_the_held_message_at_once_and_exits_0_even_if_sent_twice(fleet):
    import redis

    from darkroom.pipeline.queue import TASK_NAME, make_celery
    from darkroom.pipeline.settings import Settings

    client = redis.Redis.from_url(fleet.redis.url)
    rng = np.random.default_rng(7)
    run = darkroom.init(project="scale-in")
    # ~0.5 s of PNG each: the request is still converting long after the SIGTERM is handled.
    run.log({"slow": [darkroom.Image(rng.integers(0, 256, (1536, 1536, 3), np.uint8)) for _ in range(6)]}, step=0)
    run.log({"held": darkroom.Image(rng.integers(0, 256, (8, 8, 3), np.uint8))}, step=1)
    assert run._sender.flush(timeout=60)
    # No worker yet: both messages wait.  Take them off, to hand them to the worker in a set order.
    raw_held, raw_slow = client.lpop(QUEUE), client.lpop(QUEUE)
    held = _request_of(raw_held)
    assert (held["key"], _request_of(raw_slow)["key"]) == ("held", "slow")

    args, env = _metered(fleet)
    worker = fleet.start_worker(pool="prefork", concurrency=1, args=args, **env)
    # A message the worker holds without starting it: a retry waiting out its countdown is one.
    eta = make_celery(Settings.from_env()).send_task(TASK_NAME, args=[held], queue=QUEUE, countdown=3600)
    wait_for(lambda: f"[{eta.id}] received" in worker.log_path.read_text(), "the worker to hold the ETA message",
             timeout=30, context=worker.log_path.read_text)
    client.lpush(QUEUE, raw_slow)
    wait_for(lambda: client.exists(_mark(run, 0, "slow", 0)), "the worker to start converting the slow request",
             timeout=60, context=worker.log_path.read_text)
    os.kill(worker.pid, signal.SIGTERM)

    back = wait_for(lambda: client.lindex(QUEUE, 0), "the held message back in its queue", timeout=30,
                    context=worker.log_path.read_text)
    assert json.loads(back)["headers"]["id"] == eta.id and _request_of(back) == held
    os.kill(worker.pid, signal.SIGTERM)  # a second SIGTERM changes nothing: the request still finishes
    assert worker.wait(timeout=120) == 0
    log = worker.log_path.read_text()
    # Returned at once: before the request being converted ended, not when the connection closed after it.
    returned_at = log.index("returned 1 message(s) held and not started")
    assert returned_at < log.index("succeeded in"), log
    reader = darkroom.Api().run(run.path)
    assert [m["status"] for m in reader.manifests(key="slow")] == ["ok"] * 6
    assert reader.manifests(key="held") == []  # held, never started
    assert client.llen(QUEUE) == 1 and client.hlen("unacked") == 0
    counted = _counted(env["PROMETHEUS_MULTIPROC_DIR"])
    assert counted[("darkroom_shutdown_returned_messages_total", ())] == 1
    assert counted[("darkroom_items_converted_total", (("kind", "image"),))] == 6
    run.finish(wait=False, quiet=True)


def test_sigterm_during_a_storage_retry_returns_every_message_and_none_is_lost(fleet):
    import redis

    client = redis.Redis.from_url(fleet.redis.url)
    rng = np.random.default_rng(8)
    images = [rng.integers(0, 256, (16, 16, 3), np.uint8) for _ in range(4)]
    run = darkroom.init(project="retrying")
    for step, a in enumerate(images):
        run.log({"img": darkroom.Image(a)}, step=step)
    assert run._sender.flush(timeout=60)
    fleet.s3.stop()
    try:
        args, env = _metered(fleet)
        worker = fleet.start_worker(pool="threads", concurrency=2, args=args, **env)
        # Storage down: the tasks fail and wait out their retry countdown in the worker.
        wait_for(lambda: "] retry: Retry in" in worker.log_path.read_text(), "a task's retry in the worker's log",
                 timeout=60, context=worker.log_path.read_text)
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        assert client.hlen("unacked") == 0
        assert client.llen(QUEUE) == 4  # each request once: an original, or the retry that replaced it
        counted = _counted(env["PROMETHEUS_MULTIPROC_DIR"])
        assert counted[("darkroom_task_retries_total", (("cause", "storage_unavailable"),))] >= 1
        assert ("darkroom_items_converted_total", (("kind", "image"),)) not in counted
    finally:
        fleet.s3.start()
    fleet.start_worker()
    report = run.finish(timeout=120, quiet=True)
    assert (report.converted, report.failed, report.pending) == (4, [], 0)


def test_sigterm_before_the_worker_has_connected_exits_0_and_loses_nothing(fleet):
    fleet.redis.stop()
    try:
        worker = fleet.start_worker(wait=False)
        wait_for(lambda: "consumer: Cannot connect to" in worker.log_path.read_text(),
                 "the worker to report the broker unreachable", timeout=60, context=worker.log_path.read_text)
        run = darkroom.init(project="early-term")
        with pytest.warns(darkroom.DarkroomWarning, match="stay in the spool"):
            run.log({"img": darkroom.Image(np.full((8, 8), 7, np.uint8))})
            wait_for(lambda: run._sender.outage, "the sender to report the broker outage", timeout=15)
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert "Traceback" not in worker.log_path.read_text()
    finally:
        fleet.redis.start()
    fleet.start_worker()
    # (The sender's "sending resumed" warning comes whenever it next tries: not asserted on.)
    report = run.finish(timeout=120, quiet=True)
    assert (report.converted, report.failed, report.pending) == (1, [], 0)
