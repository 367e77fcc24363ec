"""W&B's Table inputs and methods, as W&B code uses them; logged tables are read back from storage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import darkroom


def stored_table(table: darkroom.Table, key: str = "t") -> dict:
    run = darkroom.init(project="wbtable")
    run.log({key: table})
    report = run.finish(quiet=True)
    assert report.failed == [] and report.pending == 0
    reader = darkroom.Api().run(run.path)
    return reader.table(reader.manifests(key=key)[0])


def test_a_2d_array_as_data_is_one_row_per_array_row(embedded_env):
    table = darkroom.Table(columns=["a", "b"], data=np.array([[1, 2], [3, 4]], dtype=np.int64))
    assert table.data == [[1, 2], [3, 4]] and all(type(v) is int for row in table.data for v in row)
    assert stored_table(table)["data"] == [[1, 2], [3, 4]]


def test_a_dataframe_as_data_and_rows_as_a_keyword_are_taken(embedded_env):
    frame = pd.DataFrame({"x": [0.5, 1.5], "label": ["cat", "dog"]})
    from_frame = darkroom.Table(data=frame)
    assert from_frame.columns == ["x", "label"] and from_frame.data == [[0.5, "cat"], [1.5, "dog"]]
    from_rows = darkroom.Table(columns=["x", "label"], rows=[[0.5, "cat"]])
    from_positional = darkroom.Table(["x", "label"], [[0.5, "cat"]])
    assert from_rows.data == from_positional.data == [[0.5, "cat"]]
    assert stored_table(from_frame)["data"] == [[0.5, "cat"], [1.5, "dog"]]


def test_refusals_name_what_was_given_and_what_is_accepted():
    with pytest.raises(ValueError, match=r"must be 2-D \(rows, columns\); got shape \(3,\)"):
        darkroom.Table(columns=["a"], data=np.arange(3))
    with pytest.raises(TypeError, match="data= or rows="):
        darkroom.Table(columns=["a"], data=[[1]], rows=[[1]])
    with pytest.raises(TypeError, match="got set"):
        darkroom.Table(columns=["a"], data={1, 2})
    with pytest.raises(ValueError, match="log_mode='SOMETIMES'; accepted: IMMUTABLE, MUTABLE, INCREMENTAL"):
        darkroom.Table(columns=["a"], log_mode="SOMETIMES")
    table = darkroom.Table(columns=["a"], data=[[1]])
    with pytest.raises(ValueError, match="no column 'b'; columns: a"):
        table.get_column("b")
    with pytest.raises(ValueError, match="convert_to='torch'"):
        table.get_column("a", convert_to="torch")
    with pytest.raises(TypeError, match="fn returned int for row 0"):
        table.add_computed_columns(lambda i, row: 3)


def test_add_row_iterrows_get_column_get_index_and_get_dataframe():
    table = darkroom.Table(columns=["id", "score"])
    table.add_row(0, 0.25)
    table.add_data(1, 0.75)
    assert list(table.iterrows()) == [(0, [0, 0.25]), (1, [1, 0.75])]
    assert table.get_index() == [0, 1]
    assert table.get_column("score") == [0.25, 0.75]
    np.testing.assert_array_equal(table.get_column("score", convert_to="numpy"), np.array([0.25, 0.75]))
    frame = table.get_dataframe()
    assert list(frame.columns) == ["id", "score"] and frame["score"].tolist() == [0.25, 0.75]


def test_add_computed_columns_adds_each_returned_column_and_is_stored(embedded_env):
    table = darkroom.Table(columns=["a", "b"], data=[[1, 2], [3, 4]])
    table.add_computed_columns(lambda index, row: {"sum": row["a"] + row["b"], "index": index})
    assert table.columns == ["a", "b", "sum", "index"]
    stored = stored_table(table)
    assert stored["columns"] == ["a", "b", "sum", "index"]
    assert stored["data"] == [[1, 2, 3, 0], [3, 4, 7, 1]]


def test_a_table_without_columns_takes_columns_later(embedded_env):
    table = darkroom.Table(columns=[])
    assert table.columns == [] and table.data == []
    table.add_column("score", np.array([]), optional=True)
    assert table.columns == ["score"]
    filled = darkroom.Table(columns=["a"], data=[[1], [2]])
    filled.add_column("b", np.array([0.5, 1.5]))
    assert filled.data == [[1, 0.5], [2, 1.5]]
    table = darkroom.Table(columns=[], data=[])
    with pytest.raises(ValueError):
        table.add_data(1)  # a row longer than the (no) columns


def test_an_incremental_table_stores_only_the_rows_added_since_its_last_log(embedded_env):
    table = darkroom.Table(columns=["step", "picture"], log_mode="INCREMENTAL")
    run = darkroom.init(project="wbtable")
    for step in range(3):
        table.add_data(step, darkroom.Image(np.full((2, 2), step, np.uint8)))
        run.log({"preds": table})
    report = run.finish(quiet=True)
    assert report.failed == [] and report.converted == 6
    reader = darkroom.Api().run(run.path)
    manifests = reader.manifests(key="preds")
    assert [m["step"] for m in manifests] == [0, 1, 2]
    for step, manifest in enumerate(manifests):
        stored = reader.table(manifest)
        assert [row[0] for row in stored["data"]] == [step]
        assert stored["data"][0][1]["status"] == "ok"
        assert manifest["input"]["item"]["extra"] == {"log_mode": "INCREMENTAL", "first_row": step}
    whole = reader.incremental_table("preds")
    assert [row[0] for row in whole["data"]] == [0, 1, 2] and all(r[1]["status"] == "ok" for r in whole["data"])
    assert [row[0] for row in reader.incremental_table("preds", step=1)["data"]] == [0, 1]


def test_an_immutable_table_stores_every_row_at_each_log(embedded_env):
    table = darkroom.Table(columns=["x"])
    run = darkroom.init(project="wbtable")
    for step in range(2):
        table.add_data(step)
        run.log({"t": table})
    run.finish(quiet=True)
    reader = darkroom.Api().run(run.path)
    assert [reader.table(m)["data"] for m in reader.manifests(key="t")] == [[[0]], [[0], [1]]]


def test_array_and_tensor_cells_are_stored_as_their_lists(embedded_env):
    import torch

    table = darkroom.Table(columns=["id", "embedding"])
    table.add_data(0, np.array([0.5, 1.5]))
    table.add_data(1, torch.tensor([2.0, 3.0]))
    assert table.column_types["embedding"] == "json"
    assert stored_table(table)["data"] == [[0, [0.5, 1.5]], [1, [2.0, 3.0]]]
