"""run.log's step and row rules (MEDIA_TYPES.md, `run.log`), read back with darkroom.Api.

Every test finishes its run and reads the history from storage, so a rule is
checked where a user would see it, not in the run's memory.
"""

from __future__ import annotations

import re
import time
import warnings

import numpy as np
import pytest

import darkroom
from darkroom.pipeline.errors import InvalidInput
from waiting import wait_for


def history(run: darkroom.Run) -> list[dict]:
    run.finish(quiet=True)
    return list(darkroom.Api().run(run.path).scan_history())


def user_keys(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def darkroom_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, darkroom.DarkroomWarning)]


# -- steps ------------------------------------------------------------------------------


def test_log_without_a_step_writes_one_row_per_call_and_advances_the_step(embedded_env):
    run = darkroom.init(project="rules")
    for i in range(3):
        run.log({"loss": 1.0 / (i + 1)})
    rows = history(run)
    assert [r["_step"] for r in rows] == [0, 1, 2]
    assert [r["loss"] for r in rows] == [1.0, 0.5, pytest.approx(1 / 3)]


def test_commit_false_accumulates_into_one_row_until_a_committing_call(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    run.log({"c": 3})
    run.log({"d": 4})
    rows = history(run)
    assert [user_keys(r) for r in rows] == [{"a": 1, "b": 2, "c": 3}, {"d": 4}]
    assert [r["_step"] for r in rows] == [0, 1]


def test_an_explicit_step_equal_to_the_current_one_joins_the_open_row_which_stays_open(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"a": 1}, step=0)
    run.log({"b": 2}, step=0)
    run.log({"c": 3}, step=0, commit=False)
    run.log({"d": 4})  # no step: joins the still-open row 0, then closes it
    run.log({"e": 5})
    rows = history(run)
    assert [(r["_step"], user_keys(r)) for r in rows] == [(0, {"a": 1, "b": 2, "c": 3, "d": 4}), (1, {"e": 5})]


def test_commit_true_with_an_explicit_step_closes_the_row_and_moves_to_the_next_step(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"a": 1}, step=4)
    run.log({"b": 2}, step=4, commit=True)
    run.log({"c": 3})
    rows = history(run)
    assert [(r["_step"], user_keys(r)) for r in rows] == [(4, {"a": 1, "b": 2}), (5, {"c": 3})]


def test_a_greater_step_writes_the_open_row_and_becomes_the_current_step(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"a": 1}, step=2)
    run.log({"b": 2}, step=7)
    run.log({"c": 3}, step=7)
    rows = history(run)
    assert [(r["_step"], user_keys(r)) for r in rows] == [(2, {"a": 1}), (7, {"b": 2, "c": 3})]


def test_a_greater_step_after_a_committed_row_writes_no_empty_row(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"a": 1})  # row 0 written; step 1 open and empty
    run.log({"b": 2}, step=5)
    assert [r["_step"] for r in history(run)] == [0, 5]


def test_a_smaller_step_is_refused_with_a_warning_naming_both_steps_and_nothing_of_the_call_is_kept(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"a": 1}, step=3)
    with pytest.warns(darkroom.DarkroomWarning) as record:
        run.log({"a": 99, "late": 2, "img": darkroom.Image(np.zeros((2, 2), np.uint8))}, step=1)
    text = darkroom_warnings(record)[0]
    assert "log(step=1)" in text and "current step 3" in text and "nothing in this call was kept" in text
    report = run.finish(quiet=True)
    reader = darkroom.Api().run(run.path)
    assert [(r["_step"], user_keys(r)) for r in reader.scan_history()] == [(3, {"a": 1})]
    assert reader.summary == {"a": 1}
    assert reader.manifests() == [] and report.converted == 0 and report.pending == 0


@pytest.mark.parametrize("step", [-1, 1.5, True, "2"])
def test_a_step_that_is_not_a_non_negative_int_is_refused_and_nothing_is_kept(embedded_env, step):
    run = darkroom.init(project="rules")
    with pytest.warns(darkroom.DarkroomWarning, match=r"log\(step=.*\): accepted: an int >= 0; nothing logged"):
        run.log({"a": 1}, step=step)
    run.log({"b": 2})
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(0, {"b": 2})]


def test_a_numpy_integer_step_is_accepted(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"a": 1}, step=np.int64(3), commit=True)
    assert [r["_step"] for r in history(run)] == [3]


# -- rows --------------------------------------------------------------------------------


def test_a_key_repeated_in_one_row_keeps_the_last_value(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"loss": 1.0}, commit=False)
    run.log({"loss": 2.0}, commit=False)
    run.log({"loss": 3.0, "acc": 0.5})
    rows = history(run)
    assert [user_keys(r) for r in rows] == [{"loss": 3.0, "acc": 0.5}]


def test_media_under_a_key_repeated_in_one_row_keeps_the_last_value(embedded_env, monkeypatch):
    monkeypatch.setenv("DARKROOM_EMBEDDED_WORKERS", "2")  # the two values may convert side by side
    run = darkroom.init(project="rules")
    big = np.random.default_rng(0).integers(0, 256, (600, 600, 3), np.uint8)  # slower than the second
    run.log({"img": darkroom.Image(big, caption="first"),
             "many": [darkroom.Image(np.zeros((2, 2))) for _ in range(3)]}, commit=False)
    run.log({"img": darkroom.Image(np.full((2, 2), 7, np.uint8), caption="last"),
             "many": [darkroom.Image(np.ones((3, 3)))]})
    run.summary["best"] = darkroom.Image(np.zeros((2, 2)), caption="old")
    run.summary["best"] = darkroom.Image(np.zeros((2, 2)), caption="new")
    report = run.finish(quiet=True)
    assert (report.converted, report.failed, report.pending) == (3, [], 0)
    reader = darkroom.Api().run(run.path)
    (row,) = reader.scan_history()
    assert row["img"]["caption"] == "last" and row["img"]["revision"] == 2
    assert [m["artifact"]["width"] for m in row["many"]] == [3]
    assert reader.manifest(0, "img", 0)["caption"] == "last"
    assert reader.summary["best"]["caption"] == "new"


def test_a_failed_last_value_is_reported_failed_though_the_first_converted_later(embedded_env, monkeypatch):
    from darkroom.pipeline import paths

    monkeypatch.setenv("DARKROOM_EMBEDDED_WORKERS", "2")  # each value has a worker of its own
    run = darkroom.init(project="rules")
    big = np.random.default_rng(0).integers(0, 256, (2048, 2048, 3), np.uint8)  # ~1 s of PNG
    run.log({"x": darkroom.Image(big)}, commit=False)
    run.log({"x": darkroom.Image(np.full((2, 2), np.nan))})  # fails at once; the first value converts after
    storage = darkroom.Api().storage
    first, last = (paths.manifest_key(run.project, run.id, 0, "x", 0, revision) for revision in (1, 2))
    wait_for(lambda: storage.exists(last), "the last value's failed manifest", timeout=60)
    # The case itself: the first value was still converting when the last one had failed.
    assert not storage.exists(first), "the first value converted before the last failed: make it slower"
    report = run.finish(quiet=True)
    assert storage.exists(first), "the first value never converted"
    assert report.converted == 0 and [(f.key, f.code) for f in report.failed] == [("x", "non_finite")]


def test_rows_carry_step_timestamp_and_runtime(embedded_env):
    before = time.time()
    run = darkroom.init(project="rules")
    started = time.time()  # the run's clock starts between `before` and here
    run.log({"a": 1})
    between = time.time()
    run.log({"a": 2})
    rows = history(run)
    after = time.time()
    for row in rows:
        assert before <= row["_timestamp"] <= after
        assert 0 <= row["_runtime"] <= after - before
        assert row["_timestamp"] - started <= row["_runtime"] <= row["_timestamp"] - before
    # Each row's time is its own log() call's: the first before the clock read between the calls, the
    # second after it, whatever the machine's speed.
    assert started <= rows[0]["_timestamp"] <= between <= rows[1]["_timestamp"]
    assert rows[1]["_runtime"] > rows[0]["_runtime"]


def test_finish_writes_the_open_row(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"a": 1})
    run.log({"b": 2}, step=5)  # row 5 stays open
    run.log({"c": 3}, commit=False)  # and this joins it
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(0, {"a": 1}), (5, {"b": 2, "c": 3})]


def test_numpy_and_torch_scalars_and_small_arrays_become_plain_json(embedded_env):
    torch = pytest.importorskip("torch")
    run = darkroom.init(project="rules")
    run.log({"f32": np.float32(1.5), "i64": np.int64(7), "one": np.array([[2.5]]), "small": np.arange(4),
             "t": torch.tensor(0.25), "tv": torch.arange(3), "nested": {"x": [np.int8(1), None, "s"]}})
    (row,) = history(run)
    assert user_keys(row) == {"f32": 1.5, "i64": 7, "one": 2.5, "small": [0, 1, 2, 3], "t": 0.25,
                              "tv": [0, 1, 2], "nested": {"x": [1, None, "s"]}}


def test_a_value_that_cannot_be_logged_is_dropped_with_a_warning_and_the_rest_of_the_row_is_kept(embedded_env):
    run = darkroom.init(project="rules")
    with pytest.warns(darkroom.DarkroomWarning) as record:
        run.log({"big": {1, 2}, "obj": object(), "ok": 1})
    texts = darkroom_warnings(record)
    assert any("key 'big' at step 0 not logged: set is not loggable; accepted:" in t for t in texts)
    assert any("key 'obj' at step 0 not logged: object is not loggable; accepted:" in t for t in texts)
    assert [user_keys(r) for r in history(run)] == [{"ok": 1}]


def test_a_list_mixing_media_and_plain_values_is_dropped_with_a_warning(embedded_env):
    run = darkroom.init(project="rules")
    with pytest.warns(darkroom.DarkroomWarning, match=r"key 'mixed' at step 0 not logged"):
        run.log({"mixed": [darkroom.Image(np.zeros((2, 2))), 3], "ok": 1})
    assert [user_keys(r) for r in history(run)] == [{"ok": 1}]


# -- data and keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("data", [[("a", 1)], "a=1", None, 3])
def test_data_that_is_not_a_dict_is_refused_with_a_warning(embedded_env, data):
    run = darkroom.init(project="rules")
    with pytest.warns(darkroom.DarkroomWarning, match=r"log\(\) takes a dict of \{key: value\}; got \w+; nothing logged"):
        run.log(data)
    run.log({"a": 1})
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(0, {"a": 1})]


@pytest.mark.parametrize(
    ("bad_key", "reason"),
    [(5, "log keys must be str; got int 5"), (("a", "b"), "log keys must be str; got tuple"),
     ("", "log keys must not be empty"), ("loss\n", r"has a control character \('\\n' at 4\)"),
     ("a\x00b", r"has a control character \('\\x00' at 1\)"), ("x" * 257, "log key of 257 characters"),
     ("_step", r"log key '_step' is reserved: darkroom writes _step, _timestamp, _runtime"),
     ("_runtime", "is reserved"), ("_table/t/img", r"stores media under _summary/\.\.\. and _table/\.\.\."),
     ("_summary/best", "is reserved: .*; accepted: any other key")],
)
def test_a_bad_key_is_dropped_with_a_warning_naming_it_and_the_rest_of_the_row_is_kept(embedded_env, bad_key, reason):
    run = darkroom.init(project="rules")
    with pytest.warns(darkroom.DarkroomWarning) as record:
        run.log({"before": 1, bad_key: 2, "after": 3})
    (text,) = darkroom_warnings(record)
    assert f"key {bad_key!r} at step 0 not logged" in text
    assert re.search(reason, text), text
    assert [user_keys(r) for r in history(run)] == [{"before": 1, "after": 3}]


def test_a_reserved_summary_key_is_refused_and_other_underscore_keys_are_legal(embedded_env):
    run = darkroom.init(project="rules")
    with pytest.raises(InvalidInput, match="log key '_step' is reserved"):
        run.summary["_step"] = 99
    run.log({"_debug": 1})
    run.summary["_best"] = 2
    run.finish(quiet=True)
    reader = darkroom.Api().run(run.path)
    assert [r["_debug"] for r in reader.scan_history()] == [1] and reader.summary["_best"] == 2


def test_keys_with_slashes_spaces_and_dot_dot_are_legal_and_read_back_as_given(embedded_env, recwarn):
    keys = ["val/loss", "driving scene", "..", "../../etc/passwd", "a/./b", "ünï cødé"]
    run = darkroom.init(project="rules")
    run.log({key: i for i, key in enumerate(keys)} | {"val/../examples": darkroom.Image(np.full((3, 3), 7, np.uint8))})
    (row,) = history(run)
    assert darkroom_warnings(recwarn) == []
    assert {k: row[k] for k in keys} == {key: i for i, key in enumerate(keys)}
    manifest = row["val/../examples"]
    assert manifest["status"] == "ok" and manifest["key"] == "val/../examples"
    assert "/../" not in manifest["artifact"]["uri"]


# -- strict mode -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [(lambda run: run.log([1]), r"log\(\) takes a dict"),
     (lambda run: run.log({5: 1}), "log keys must be str; got int 5"),
     (lambda run: run.log({"": 1}), "log keys must not be empty"),
     (lambda run: run.log({"a\tb": 1}), "control character"),
     (lambda run: run.log({"o": object()}), "object is not loggable"),
     (lambda run: (run.log({"a": 1}, step=2), run.log({"a": 1}, step=1)), r"log\(step=1\) is below the current step 2")],
)
def test_darkroom_strict_makes_refused_log_calls_raise(embedded_env, monkeypatch, call, message):
    monkeypatch.setenv("DARKROOM_STRICT", "1")
    run = darkroom.init(project="rules")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", darkroom.DarkroomWarning)  # a warning is not enough
            with pytest.raises((RuntimeError, InvalidInput, TypeError), match=message):
                call(run)
    finally:
        run.finish(quiet=True)


# -- the module-level API and finished runs ------------------------------------------------------


def test_darkroom_log_run_and_summary_follow_the_current_run(embedded_env):
    run = darkroom.init(project="rules")
    try:
        assert darkroom.run is run
        darkroom.log({"a": 1})
        darkroom.log({"a": 2}, step=4, commit=True)
        assert darkroom.summary is run.summary and darkroom.summary["a"] == 2
        report = darkroom.finish()
    finally:
        run.finish(quiet=True)
    assert report is run.finish()  # finishing again returns the same report
    assert darkroom.run is None and not darkroom.summary
    with pytest.raises(RuntimeError, match=r"darkroom.summary\['a'\] used before darkroom.init"):
        darkroom.summary["a"]
    assert [r["_step"] for r in darkroom.Api().run(run.path).scan_history()] == [0, 4]


def test_darkroom_log_before_init_raises_naming_init(embedded_env):
    assert darkroom.run is None
    with pytest.raises(RuntimeError, match=r"darkroom.log\(\) called before darkroom.init\(\)"):
        darkroom.log({"a": 1})


def test_logging_to_a_finished_run_warns_and_keeps_nothing(embedded_env):
    run = darkroom.init(project="rules")
    run.log({"a": 1})
    run.finish(quiet=True)
    with pytest.warns(darkroom.DarkroomWarning, match=rf"run {run.path} is finished; log\(\) ignored"):
        run.log({"b": 2})
    assert [user_keys(r) for r in darkroom.Api().run(run.path).scan_history()] == [{"a": 1}]


def test_finishing_a_disabled_run_makes_it_no_longer_the_current_run(embedded_env):
    run = darkroom.init(project="rules", mode="disabled")
    assert darkroom.run is run
    run.finish()
    assert darkroom.run is None


def test_runs_finished_out_of_order_leave_no_finished_run_current(embedded_env):
    first = darkroom.init(project="rules")
    second = darkroom.init(project="rules")
    assert darkroom.run is second
    first.finish(quiet=True)
    assert darkroom.run is second
    second.finish(quiet=True)
    assert darkroom.run is None
