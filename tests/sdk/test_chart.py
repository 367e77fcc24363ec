"""W&B's custom charts (darkroom.plot.line ... and darkroom.plot_table), logged and read back from storage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import darkroom


def logged(**charts) -> tuple[dict, darkroom.Api]:
    run = darkroom.init(project="charts")
    run.log(charts)
    report = run.finish(quiet=True)
    assert report.failed == [] and report.pending == 0
    reader = darkroom.Api().run(run.path)
    return {key: reader.manifests(key=key)[0] for key in charts}, reader


def test_every_chart_type_is_stored_as_its_table_and_spec(embedded_env):
    table = darkroom.Table(columns=["step", "loss", "split", "label"],
                           data=[[i, 1.0 / (i + 1), "train" if i % 2 else "val", f"c{i}"] for i in range(6)])
    manifests, reader = logged(
        line=darkroom.plot.line(table, "step", "loss", stroke="split", title="Loss"),
        scatter=darkroom.plot.scatter(table, "step", "loss"),
        bar=darkroom.plot.bar(table, "label", "loss", title="Per class"),
        hist=darkroom.plot.histogram(table, "loss"),
    )
    line = manifests["line"]
    assert line["kind"] == "chart" and line["status"] == "ok"
    assert line["chart"]["type"] == "line" and line["chart"]["title"] == "Loss"
    assert line["chart"]["fields"] == {"x": "step", "y": "loss", "stroke": "split"}
    stored = reader.table(line)
    assert stored["columns"] == ["step", "loss", "split"]  # only the columns the chart draws
    assert stored["data"][:2] == [[0, 1.0, "val"], [1, 0.5, "train"]]
    assert reader.table(manifests["bar"])["columns"] == ["label", "loss"]
    assert manifests["bar"]["chart"]["fields"] == {"label": "label", "value": "loss"}
    assert reader.table(manifests["hist"])["data"] == [[1.0 / (i + 1)] for i in range(6)]
    assert manifests["scatter"]["chart"]["type"] == "scatter"


def test_line_series_stores_one_row_per_point_as_w_and_b_does(embedded_env):
    chart = darkroom.plot.line_series(xs=[0, 1, 2], ys=[[1, 2, 3], np.array([3.0, np.nan, 1.0])],
                                      keys=["up", "down"], title="Two", xname="epoch")
    manifests, reader = logged(series=chart)
    stored = reader.table(manifests["series"])
    assert stored["columns"] == ["step", "lineKey", "lineVal"]
    assert stored["data"] == [[0, "up", 1], [1, "up", 2], [2, "up", 3], [0, "down", 3.0], [1, "down", None],
                              [2, "down", 1.0]]
    assert manifests["series"]["chart"]["string_fields"] == {"title": "Two", "xname": "epoch"}
    separate = darkroom.plot.line_series([[0, 1], [5, 6, 7]], [[1, 1], [2, 2, 2]])
    assert [list(row[:2]) for row in separate._payload.value["data"]] == [[0, "key_0"], [1, "key_0"], [5, "key_1"],
                                                                     [6, "key_1"], [7, "key_1"]]


def test_plot_table_with_w_and_b_presets_as_ultralytics_calls_it(embedded_env):
    frame = pd.DataFrame({"class": ["a", "a", "b"], "y": [0.9, 0.8, 0.7], "x": [0.0, 0.5, 1.0]})
    chart = darkroom.plot_table("wandb/area-under-curve/v0", darkroom.Table(dataframe=frame),
                                fields={"x": "x", "y": "y", "class": "class"},
                                string_fields={"title": "PR", "x-axis-title": "Recall", "y-axis-title": "Precision"})
    manifests, reader = logged(pr=chart)
    spec = manifests["pr"]["chart"]
    assert spec["type"] == "line" and spec["fields"] == {"x": "x", "y": "y", "stroke": "class"}
    assert spec["vega_spec_name"] == "wandb/area-under-curve/v0" and spec["title"] == "PR"
    assert reader.table(manifests["pr"])["data"] == [[0.0, 0.9, "a"], [0.5, 0.8, "a"], [1.0, 0.7, "b"]]


def test_a_vega_spec_of_ones_own_is_kept_with_its_data_and_a_warning(embedded_env):
    table = darkroom.Table(columns=["step", "value", "note"], data=[[0, 1.5, "a"], [1, 2.5, "b"]])
    with pytest.warns(darkroom.DarkroomWarning, match="'carey/new_chart'.*kept, spec name and data"):
        chart = darkroom.plot_table("carey/new_chart", table, {"x": "step", "y": "value"},
                                    string_fields={"title": "Mine"})
    manifests, reader = logged(mine=chart)
    spec = manifests["mine"]["chart"]
    assert spec["type"] == "custom" and spec["vega_spec_name"] == "carey/new_chart" and spec["title"] == "Mine"
    assert reader.table(manifests["mine"])["data"] == [[0, 1.5], [1, 2.5]]


def test_a_chart_snapshots_its_columns_when_made():
    table = darkroom.Table(columns=["x", "y"], data=[[0, 1], [1, 2]])
    chart = darkroom.plot.line(table, "x", "y")
    table.add_data(2, 3)
    table.data[0][1] = 100
    assert [list(row) for row in chart._payload.value["data"]] == [[0, 1], [1, 2]]


def test_refusals_name_the_argument_and_what_is_accepted():
    table = darkroom.Table(columns=["x", "name"], data=[[0, "a"]])
    with pytest.raises(ValueError, match="field y='loss' is not a column of the table; columns: x, name"):
        darkroom.plot.line(table, "x", "loss")
    with pytest.raises(ValueError, match="field y='name' must be a column of numbers; it holds string values"):
        darkroom.plot.scatter(table, "x", "name")
    with pytest.raises(TypeError, match="takes a darkroom.Table .* got list"):
        darkroom.plot.bar([[1, 2]], "x", "name")
    with pytest.raises(ValueError, match="field q='nope' is not a column of the table"):
        darkroom.plot_table("me/custom/v1", table, {"q": "nope"})
    with pytest.raises(ValueError, match="line 0 \\('key_0'\\) has 2 xs and 3 ys"):
        darkroom.plot.line_series([0, 1], [[1, 2, 3]])
    with pytest.raises(ValueError, match="infinite"):
        darkroom.plot.line_series([0, 1], [[1, np.inf]])
    images = darkroom.Table(columns=["x", "img"], data=[[0, darkroom.Image(np.zeros((2, 2), np.uint8))]])
    with pytest.raises(ValueError, match="column 'img' holds image values; accepted: numbers, str or bool"):
        darkroom.plot.bar(images, "img", "x")
