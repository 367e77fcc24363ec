"""Autoscaling on the backlog, on this machine: a small controller plays KEDA's part (docs/operations.md).

It reads `darkroom exporter`'s metrics, starts `darkroom worker` processes for
a queue group when its backlog (waiting + unacknowledged) grows, and sends
SIGTERM to one when it shrinks, while 4 training processes log images and
videos in bursts.  Afterwards every item was converted exactly once and none
was lost, counted both from the runs' manifests and from the workers' own
metrics, and no worker was stopped while converting (no crash mark was hit,
every worker exited 0).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

import darkroom
from test_metrics import free_port, samples
from test_scale_in import _counted
from waiting import wait_for

pytestmark = pytest.mark.integration

GROUPS = {"image,data": ("darkroom.image", "darkroom.data"), "video,audio": ("darkroom.video", "darkroom.audio")}
MAX_PER_GROUP = 3
BURSTS, STEPS = 2, 3  # per training process; each step logs 2 images and 1 video

_TRAINING = textwrap.dedent("""
    import json, sys, time, numpy as np, darkroom
    run = darkroom.init(project="autoscale")
    print(run.path, flush=True)
    rng = np.random.default_rng(int(sys.argv[1]))
    logged = 0
    for burst in range(int(sys.argv[2])):
        for _ in range(int(sys.argv[3])):
            run.log({"img": [darkroom.Image(rng.integers(0, 256, (32, 32, 3), np.uint8)) for _ in range(2)],
                     "clip": darkroom.Video(rng.integers(0, 256, (6, 3, 16, 16), np.uint8), fps=4, format="gif")})
            logged += 3
        # Between bursts, wait for this burst's conversions: the backlog falls, and the fleet scales in.
        assert run._sender.flush(timeout=120)
        deadline = time.monotonic() + 180
        while len(darkroom.Api().run(run.path).entries()) < logged and time.monotonic() < deadline:
            time.sleep(0.2)
    report = run.finish(timeout=180, quiet=True)
    print(json.dumps({"logged": logged, "converted": report.converted, "failed": len(report.failed),
                      "pending": report.pending}), flush=True)
""")


class Controller:
    """KEDA's part: desired replicas = ceil(backlog / concurrency) per group, concurrency 1, 0..MAX_PER_GROUP."""

    def __init__(self, fleet, exporter_port: int):
        self.fleet, self.exporter_port = fleet, exporter_port
        self.running: dict[str, list[tuple[subprocess.Popen, str]]] = {g: [] for g in GROUPS}
        self.stopped: list[subprocess.Popen] = []
        self.folders: list[str] = []
        self.lower_since: dict[str, int] = dict.fromkeys(GROUPS, 0)
        self.most = 0
        self.scale_ins = 0

    def backlog(self) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.exporter_port}/metrics", timeout=30) as r:
            got = samples(r.read())
        assert got[("darkroom_broker_up", ())] == 1
        return {group: sum(got[(f"darkroom_queue_messages_{what}", (("queue", q),))]
                           for q in queues for what in ("waiting", "unacknowledged"))
                for group, queues in GROUPS.items()}

    def step(self) -> None:
        for group, backlog in self.backlog().items():
            desired = min(MAX_PER_GROUP, math.ceil(backlog))
            running = self.running[group]
            if desired > len(running):
                for _ in range(desired - len(running)):
                    folder = str(self.fleet.tmp_path / f"metrics-{len(self.folders)}")
                    self.folders.append(folder)
                    proc = self.fleet.start_worker(queues=group, wait=False,
                                                   args=("--metrics-port", str(free_port())),
                                                   PROMETHEUS_MULTIPROC_DIR=folder)
                    running.append((proc, folder))
                self.lower_since[group] = 0
            elif desired < len(running):
                # As the HPA's stabilization window: scale in only on a second reading in a row.
                self.lower_since[group] += 1
                if self.lower_since[group] >= 2:
                    proc, _ = running.pop()  # the newest, busy or not: the orchestrator does not know
                    os.kill(proc.pid, signal.SIGTERM)
                    self.stopped.append(proc)
                    self.scale_ins += 1
                    self.lower_since[group] = 0
        self.most = max(self.most, sum(len(r) for r in self.running.values()))

    def stop_all(self) -> None:
        for group in GROUPS:
            for proc, _ in self.running[group]:
                os.kill(proc.pid, signal.SIGTERM)
                self.stopped.append(proc)
            self.running[group] = []


def test_a_controller_scales_workers_on_the_exporters_backlog_and_every_item_converts_exactly_once(fleet, tmp_path):
    port = free_port()
    exporter_log = tmp_path / "exporter.log"
    exporter = subprocess.Popen(
        [sys.executable, "-m", "darkroom._cli", "exporter", "--host", "127.0.0.1", "--port", str(port), "--no-storage"],
        env=fleet.subprocess_env(), stdout=open(exporter_log, "w"), stderr=subprocess.STDOUT,
        start_new_session=True, cwd=tmp_path)
    script = tmp_path / "train.py"
    script.write_text(_TRAINING)
    trainers = []
    controller = Controller(fleet, port)
    try:
        wait_for(lambda: b"darkroom exporter: http" in exporter_log.read_bytes(), "the exporter to serve",
                 timeout=60, context=exporter_log.read_text)
        trainers = [subprocess.Popen([sys.executable, str(script), str(seed), str(BURSTS), str(STEPS)],
                                     env=fleet.subprocess_env(), cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True) for seed in range(4)]
        deadline = time.monotonic() + 300
        while any(t.poll() is None for t in trainers):  # KEDA's polling loop, every half second
            assert time.monotonic() < deadline, "the training processes did not finish in 300 s"
            controller.step()
            time.sleep(0.5)
        scale_ins_while_logging = controller.scale_ins
        controller.stop_all()
        codes = [proc.wait(timeout=120) for proc in controller.stopped]
    finally:
        controller.stop_all()
        for proc in [*trainers, exporter]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    reports = []
    for t in trainers:
        path, report = t.stdout.read().strip().splitlines()
        reports.append((path, json.loads(report)))
    logged = BURSTS * STEPS * 3
    assert all(r == {"logged": logged, "converted": logged, "failed": 0, "pending": 0} for _, r in reports), reports
    for path, _ in reports:  # exactly once in storage: one manifest per item, first revision only
        manifests = darkroom.Api().run(path).manifests()
        assert len(manifests) == logged and {m["revision"] for m in manifests} == {1}
        assert {m["status"] for m in manifests} == {"ok"}
    assert controller.most >= 2 and scale_ins_while_logging >= 1, (controller.most, scale_ins_while_logging)
    # Every worker left gracefully: exit 0, or a SIGTERM while Python itself was still starting (before
    # darkroom's CLI ran: no log line yet, nothing held), which the default action ends with -15.
    for proc, code in zip(controller.stopped, codes):
        assert code == 0 or (code == -signal.SIGTERM and not proc.log_path.read_text()), (code, proc.log_path)
    # (A worker stopped before it started made no folder: it counted nothing.)
    counted = [_counted(folder) for folder in controller.folders if Path(folder).is_dir()]
    total = {kind: sum(c.get(("darkroom_items_converted_total", (("kind", kind),)), 0) for c in counted)
             for kind in ("image", "video")}
    # Exactly once, from the workers' own counts: no conversion was cut by a scale-in and done again.
    assert total == {"image": 4 * BURSTS * STEPS * 2, "video": 4 * BURSTS * STEPS}
    assert not any(k[0] == "darkroom_crash_marks_hit_total" for c in counted for k in c)
    assert not any(k[0] == "darkroom_items_failed_total" for c in counted for k in c)
