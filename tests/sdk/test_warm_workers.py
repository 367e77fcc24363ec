"""A notebook's run starts its embedded workers ahead of its first media (after WARM_AFTER_S of life),
and a short run starts none; a worker started ahead and never used ends with the run."""

from __future__ import annotations

import numpy as np

import darkroom
import darkroom._session as session
from waiting import wait_for


def test_a_run_alive_past_warm_after_s_starts_its_workers_before_any_media(embedded_env, monkeypatch):
    monkeypatch.setattr(session, "WARM_AFTER_S", 0.0)
    monkeypatch.setenv("DARKROOM_EMBEDDED_WORKERS", "2")
    run = darkroom.init(project="warm")
    delivery = run._sender.delivery
    wait_for(lambda: delivery.dispatch is not None and len(delivery.dispatch._workers) == 2,
             "the embedded workers started ahead of any media", 30)
    workers = list(delivery.dispatch._workers)
    run.log({"img": darkroom.Image(np.zeros((4, 4), np.uint8))})
    report = run.finish(quiet=True)
    assert report.converted == 1 and report.failed == []
    wait_for(lambda: all(w.proc.poll() is not None for w in workers), "both workers ended with the run", 30)
    assert sum(w.used for w in workers) == 1


def test_a_run_without_media_that_ends_at_once_starts_no_worker(embedded_env, monkeypatch):
    monkeypatch.setattr(session, "WARM_AFTER_S", 3600.0)
    run = darkroom.init(project="warm")
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    assert run._sender.delivery.dispatch is None
    assert [r["loss"] for r in darkroom.Api().run(run.path).scan_history()] == [1.0]
