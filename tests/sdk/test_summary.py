"""run.summary: each key's last logged value unless set; persisted in summary.json (MEDIA_TYPES.md)."""

from __future__ import annotations

import io
from collections.abc import MutableMapping

import numpy as np
import pytest

import darkroom


def stored_summary(run: darkroom.Run) -> dict:
    run.finish(quiet=True)
    return darkroom.Api().run(run.path).summary


def test_the_summary_holds_each_keys_last_logged_value(embedded_env):
    run = darkroom.init(project="summ")
    run.log({"loss": 3.0, "acc": 0.1})
    run.log({"loss": 2.0})
    run.log({"loss": 1.0}, step=7)
    assert dict(run.summary) == {"loss": 1.0, "acc": 0.1}
    assert stored_summary(run) == {"loss": 1.0, "acc": 0.1}


def test_an_explicit_summary_value_wins_until_that_key_is_logged_again(embedded_env):
    run = darkroom.init(project="summ")
    run.log({"loss": 3.0, "acc": 0.1})
    run.summary["loss"] = 0.5
    run.summary.update({"acc": 0.9, "best_epoch": 4})
    run.log({"acc": 0.2})  # only acc is logged again
    assert dict(run.summary) == {"loss": 0.5, "acc": 0.2, "best_epoch": 4}
    assert stored_summary(run) == {"loss": 0.5, "acc": 0.2, "best_epoch": 4}


def test_the_summary_is_a_mutable_mapping_whose_deleted_keys_are_not_stored(embedded_env):
    run = darkroom.init(project="summ")
    assert isinstance(run.summary, MutableMapping)
    run.log({"a": 1, "b": np.float64(2.5)})
    del run.summary["a"]
    assert len(run.summary) == 1 and list(run.summary) == ["b"] and "a" not in run.summary
    assert repr(run.summary).startswith("Summary({'b': ") and "'a'" not in repr(run.summary)
    assert stored_summary(run) == {"b": 2.5}


def test_an_explicit_summary_value_is_made_json_like_a_logged_one(embedded_env):
    run = darkroom.init(project="summ")
    run.summary["hist"] = np.arange(3)
    run.summary["nested"] = {"x": np.int32(2), 3: [np.float32(0.5)]}
    assert stored_summary(run) == {"hist": [0, 1, 2], "nested": {"x": 2, "3": [0.5]}}


def test_media_can_be_a_summary_value_set_explicitly_or_logged(embedded_env):
    from PIL import Image as PILImage

    run = darkroom.init(project="summ")
    run.log({"sample": darkroom.Image(np.zeros((4, 4), np.uint8))})
    run.log({"sample": darkroom.Image(np.full((4, 4), 99, np.uint8))})
    run.summary["best"] = darkroom.Image(np.full((3, 2, 3), 200, np.uint8), caption="best so far")
    report = run.finish(quiet=True)
    assert report.failed == [] and report.converted == 3
    reader = darkroom.Api().run(run.path)
    summary = reader.summary
    assert summary["sample"]["status"] == "ok" and summary["sample"]["step"] == 1
    assert summary["best"]["status"] == "ok" and summary["best"]["caption"] == "best so far"
    with PILImage.open(io.BytesIO(reader.read(summary["sample"]))) as png:
        assert np.array(png).min() == 99
    with PILImage.open(io.BytesIO(reader.read(summary["best"]))) as png:
        assert png.size == (2, 3) and np.array(png).min() == 200


def test_a_summary_of_a_list_of_media_resolves_to_a_list_of_manifests(embedded_env):
    run = darkroom.init(project="summ")
    run.log({"examples": [darkroom.Image(np.full((2, 2), i, np.uint8)) for i in range(3)]})
    summary = stored_summary(run)
    assert [m["index"] for m in summary["examples"]] == [0, 1, 2]
    assert {m["status"] for m in summary["examples"]} == {"ok"}


def test_the_summary_of_a_disabled_run_takes_values_and_media_without_storing_anything(embedded_env, tmp_path):
    run = darkroom.init(project="summ", mode="disabled")
    run.summary["loss"] = 1.0
    run.summary["best"] = darkroom.Image(np.zeros((2, 2), np.uint8))
    run.log({"loss": 0.5})
    assert run.summary["loss"] == 1.0  # a disabled run logs nothing, so nothing overrides it
    assert run.finish(quiet=True).converted == 0
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()


def test_a_summary_key_is_checked_like_a_log_key(embedded_env):
    run = darkroom.init(project="summ")
    try:
        with pytest.raises(Exception, match="log keys must not be empty"):
            run.summary[""] = 1
        with pytest.raises(TypeError, match="object is not loggable"):
            run.summary["x"] = object()
        assert dict(run.summary) == {}
    finally:
        run.finish(quiet=True)
