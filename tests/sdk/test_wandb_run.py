"""W&B's run API as W&B code writes it: config object, login, init(id=, resume=), reinit, define_metric.

Each test reads what was stored back from storage (run.json, history, summary).
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

import darkroom


def stored(run: darkroom.Run):
    run.finish(quiet=True)
    return darkroom.Api().run(run.path)


def test_config_reads_and_sets_as_attributes_and_keys_and_is_stored(embedded_env):
    assert darkroom.login() is True and darkroom.login(key="anything", relogin=True) is True
    run = darkroom.init(project="wb", config={"lr": 0.1, "layers": np.int64(3)})
    assert darkroom.config is run.config
    assert run.config.lr == 0.1 and run.config["layers"] == 3 and type(run.config.layers) is int
    darkroom.config.batch_size = 32
    run.config["optimizer"] = "adam"
    run.config.update(argparse.Namespace(epochs=5, dropout=0.5))
    run.config.update({"shape": np.arange(3)})
    run.config.setdefaults({"lr": 9.0, "seed": 1})
    assert "seed" in run.config and run.config.lr == 0.1
    with pytest.raises(AttributeError, match="config has no key 'momentum'"):
        run.config.momentum
    run.log({"loss": 1.0})
    reader = stored(run)
    assert reader.config == {"lr": 0.1, "layers": 3, "batch_size": 32, "optimizer": "adam", "epochs": 5,
                             "dropout": 0.5, "shape": [0, 1, 2], "seed": 1}
    # No run is open: W&B's code reads config before init only by mistake, and is told so.
    assert not darkroom.config
    with pytest.raises(RuntimeError, match=r"darkroom.config.lr used before darkroom.init\(\); call init\(\) first"):
        darkroom.config.lr
    with pytest.raises(RuntimeError, match=r"darkroom.config\['lr'\] used before darkroom.init"):
        darkroom.config["lr"] = 1


def test_config_set_after_init_is_in_run_json_while_the_run_is_open(embedded_env):
    run = darkroom.init(project="wb", config={"a": 1})
    run.config.b = 2
    run.log({"x": 1})  # the row is written: so is the changed config
    run._sender.flush(30)
    assert darkroom.Api().run(run.path).info["state"] == "running"
    assert darkroom.Api().run(run.path).config == {"a": 1, "b": 2}
    run.finish(quiet=True)


def test_init_with_a_namespace_config_and_w_and_b_arguments_stores_tags_group_and_notes(embedded_env):
    run = darkroom.init(project="wb", config=argparse.Namespace(lr=0.3), entity="team", tags=["a", "b"],
                        group="sweep-1", job_type="train", notes="first", save_code=True)
    assert (run.tags, run.group, run.job_type, run.notes, run.step) == (("a", "b"), "sweep-1", "train", "first", 0)
    run.log({"x": 1})
    assert run.step == 1
    info = stored(run).info
    assert info["config"] == {"lr": 0.3}
    assert (info["tags"], info["group"], info["job_type"], info["notes"]) == (["a", "b"], "sweep-1", "train", "first")


def test_finish_takes_w_and_bs_exit_code_and_quiet(embedded_env):
    run = darkroom.init(project="wb")
    run.log({"x": 1})
    report = darkroom.finish(exit_code=1, quiet=True)
    assert report.converted == 0
    info = darkroom.Api().run(run.path).info
    assert info["state"] == "finished" and info["exit_code"] == 1


def test_init_refuses_an_argument_neither_darkroom_nor_w_and_b_takes(embedded_env):
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        darkroom.init(project="wb", colour="red")


def test_init_while_a_run_is_open_finishes_that_run_first(embedded_env):
    first = darkroom.init(project="wb")
    first.log({"x": 1})
    second = darkroom.init(project="wb")
    assert first._report is not None and darkroom.run is second
    assert darkroom.Api().run(first.path).info["state"] == "finished"
    assert [r["x"] for r in darkroom.Api().run(first.path).scan_history()] == [1]
    assert darkroom.init(project="wb", reinit="return_previous") is second
    third = darkroom.init(project="wb", reinit="create_new")
    assert second._report is None and darkroom.run is third
    third.finish(quiet=True)
    second.finish(quiet=True)
    with pytest.raises(ValueError, match="reinit='sometimes'.*finish_previous"):
        darkroom.init(project="wb", reinit="sometimes")


def test_resume_continues_the_steps_config_summary_and_media_of_a_stored_run(embedded_env):
    run = darkroom.init(project="wb", id="run-1", config={"lr": 0.1})
    for i in range(3):
        run.log({"loss": float(i), "img": darkroom.Image(np.full((2, 2), i, np.uint8))})
    run.summary["best"] = 7
    run.finish(quiet=True)

    again = darkroom.init(project="wb", id="run-1", resume="allow", config={"epochs": 2})
    assert again.config.lr == 0.1 and again.config.epochs == 2 and again.summary["best"] == 7
    again.log({"loss": 10.0, "img": darkroom.Image(np.full((2, 2), 9, np.uint8))})
    reader = stored(again)
    rows = list(reader.scan_history())
    assert [(r["_step"], r["loss"]) for r in rows] == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 10.0)]
    assert [m["step"] for m in reader.manifests(key="img")] == [0, 1, 2, 3]
    assert all(m["status"] == "ok" for m in reader.manifests(key="img"))
    assert reader.config == {"lr": 0.1, "epochs": 2}
    assert reader.summary["best"] == 7 and reader.summary["loss"] == 10.0


def test_resume_must_needs_a_stored_run_and_never_refuses_one(embedded_env):
    with pytest.raises(ValueError, match="no run wb/ghost in .* to resume"):
        darkroom.init(project="wb", id="ghost", resume="must")
    with pytest.raises(ValueError, match="resume='must'\\) needs id="):
        darkroom.init(project="wb", resume="must")
    run = darkroom.init(project="wb", id="kept")  # a new run with a chosen id
    run.log({"x": 1})
    run.finish(quiet=True)
    for resume in (None, "never"):
        with pytest.raises(ValueError, match="run wb/kept exists already.*resume='allow'"):
            darkroom.init(project="wb", id="kept", resume=resume)
    with pytest.raises(ValueError, match="resume='later'.*accepted"):
        darkroom.init(project="wb", id="kept", resume="later")
    again = darkroom.init(project="wb", id="kept", resume=True)
    again.log({"x": 2})
    assert [r["_step"] for r in stored(again).scan_history()] == [0, 1]


def test_define_metric_fills_the_step_metric_of_rows_and_is_stored_in_run_json(embedded_env):
    run = darkroom.init(project="wb")
    darkroom.define_metric("epoch")
    run.define_metric("val/*", step_metric="epoch")
    run.define_metric("loss", summary="min,last")
    run.define_metric("acc", summary="best", goal="maximize")
    for epoch in range(3):
        run.log({"epoch": epoch})
        run.log({"val/acc": 0.5 + epoch / 10, "loss": 3.0 - epoch, "acc": [0.2, 0.9, 0.4][epoch]})
    reader = stored(run)
    rows = [r for r in reader.scan_history() if "val/acc" in r]
    assert [(r["epoch"], r["val/acc"]) for r in rows] == [(0, 0.5), (1, 0.6), (2, 0.7)]
    metrics = reader.info["metrics"]
    assert metrics["val/*"] == {"step_metric": "epoch", "step_sync": True}
    assert metrics["acc"]["goal"] == "maximize"
    assert reader.summary["loss"] == {"min": 1.0, "last": 1.0}
    assert reader.summary["acc"] == {"best": 0.9}


def test_define_metric_refuses_what_w_and_b_would_not_mean(embedded_env):
    run = darkroom.init(project="wb")
    with pytest.raises(ValueError, match="summary='median'.*accepted: min, max"):
        run.define_metric("loss", summary="median")
    with pytest.raises(ValueError, match="needs goal="):
        run.define_metric("loss", summary="best")
    with pytest.raises(ValueError, match="step_metric='e\\*'"):
        run.define_metric("loss", step_metric="e*")
    run.finish(quiet=True)


def test_an_array_in_the_summary_is_kept_whole_and_summarised_by_its_statistics(embedded_env):
    import torch

    weights = np.arange(100, dtype=np.float32).reshape(10, 10)
    run = darkroom.init(project="wb")
    run.summary["weights"] = weights
    grads = torch.full((6, 6), 3.0)
    grads[0, 0] = float("nan")
    run.summary["grads"] = grads
    run.summary["small"] = np.arange(3)  # up to 32 values: a list, as in history
    weights[0, 0] = 1000  # the summary took a copy
    run.log({"weights_hist": np.arange(100)})  # logged in history: a histogram
    reader = stored(run)
    summary = reader.summary["weights"]
    assert summary["_type"] == "ndarray" and summary["shape"] == [10, 10] and summary["dtype"] == "float32"
    assert (summary["min"], summary["max"], summary["mean"]) == (0.0, 99.0, 49.5)
    assert summary["var"] == pytest.approx(np.arange(100).var())
    assert summary["percentiles"] == {str(p): pytest.approx(np.percentile(np.arange(100), p))
                                      for p in (5, 25, 50, 75, 95)}
    np.testing.assert_array_equal(reader.summary_array("weights"), np.arange(100, dtype=np.float32).reshape(10, 10))
    grads = reader.summary["grads"]
    assert grads["non_finite"] == 1 and grads["mean"] == 3.0 and reader.summary["small"] == [0, 1, 2]
    assert reader.summary["weights_hist"]["_type"] == "histogram"
    with pytest.raises(KeyError, match="not a stored array"):
        reader.summary_array("weights_hist")
