import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image as PILImage

import darkroom


def _finish(run):
    report = run.finish(quiet=True)
    return report, darkroom.Api().run(run.path)


def test_a_table_with_an_image_per_row_stores_json_and_converts_each_image(embedded_env):
    images = [np.full((4, 5, 3), i * 40, dtype=np.uint8) for i in range(3)]
    table = darkroom.Table(columns=["id", "label", "picture"])
    for i, a in enumerate(images):
        table.add_data(i, f"row {i}", darkroom.Image(a))
    run = darkroom.init(project="tables")
    run.log({"samples": table})
    report, reader = _finish(run)
    assert report.failed == [] and report.pending == 0 and report.converted == 4
    manifest = reader.manifests(key="samples")[0]
    assert manifest["kind"] == "table" and manifest["artifact"]["rows"] == 3
    assert manifest["artifact"]["column_types"] == {"id": "number", "label": "string", "picture": "image"}
    resolved = reader.table(manifest)
    assert resolved["columns"] == ["id", "label", "picture"]
    for i, row in enumerate(resolved["data"]):
        assert row[:2] == [i, f"row {i}"]
        cell = row[2]
        assert cell["kind"] == "image" and cell["status"] == "ok"
        pixels = np.asarray(PILImage.open(io.BytesIO(reader.read(cell))))
        np.testing.assert_array_equal(pixels, images[i])


def test_a_dataframe_logged_directly_becomes_a_table(embedded_env):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    run = darkroom.init(project="tables")
    run.log({"frame": frame})
    report, reader = _finish(run)
    assert report.converted == 1
    stored = reader.table(reader.manifests(key="frame")[0])
    assert stored["data"] == [[1, "x"], [2, "y"]] and stored["columns"] == ["a", "b"]


def test_default_columns_and_null_cells_are_kept(embedded_env):
    table = darkroom.Table(data=[[1, None, "e"], [None, 2.5, "f"]])
    assert table.columns == ["Input", "Output", "Expected"]
    run = darkroom.init(project="tables")
    run.log({"t": table})
    _, reader = _finish(run)
    assert reader.table(reader.manifests(key="t")[0])["data"] == [[1, None, "e"], [None, 2.5, "f"]]


def test_a_cell_of_another_type_than_its_column_is_refused_naming_the_column():
    table = darkroom.Table(columns=["score"])
    table.add_data(0.5)
    with pytest.raises(ValueError, match="Table row 1: column 'score' holds number values; got a string"):
        table.add_data("high")


def test_a_row_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="a row of 2 values for 3 columns"):
        darkroom.Table(columns=["a", "b", "c"], data=[[1, 2]])


def test_more_rows_than_max_rows_is_an_error_not_a_truncation(monkeypatch):
    monkeypatch.setattr(darkroom.Table, "MAX_ROWS", 3)
    table = darkroom.Table(columns=["x"], data=[[1], [2], [3]])
    with pytest.raises(ValueError, match=r"3 rows, its maximum \(Table.MAX_ROWS\)"):
        table.add_data(4)


def test_the_worker_checks_a_table_again_and_fails_it_with_a_message():
    from darkroom.pipeline.errors import InvalidInput
    from darkroom.pipeline.settings import Limits
    from darkroom.workers.converters import ItemInput, Payload
    from darkroom.workers.converters.table import TableOptions, convert

    def run(payload: bytes, **limits):
        return convert(ItemInput(Payload(payload, "application/json", "json")), TableOptions(), Limits(**limits))

    with pytest.raises(InvalidInput, match="table row 1: column 'a' holds number values; got a string"):
        run(b'{"columns": ["a"], "data": [[1], ["x"]]}')
    with pytest.raises(InvalidInput, match="DARKROOM_MAX_TABLE_CELLS"):
        run(b'{"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}', max_table_cells=3)
    with pytest.raises(InvalidInput, match="not JSON"):
        run(b"\xff\xfe")
    out = run(b'{"columns": ["a"], "data": [[1], [null]]}')
    assert out.measurements == {"rows": 2, "columns": 1, "column_types": {"a": "number"}}


def _strict_json(data: bytes):
    """`data` parsed as strict JSON: NaN and Infinity tokens are refused."""

    def refuse(token: str):
        raise ValueError(f"{token} is not JSON")

    return json.loads(data, parse_constant=refuse)


def _stored(reader, manifest):
    """A stored table as ``{"columns", "column_types", "data"}``, each of its files parsed as strict JSON."""
    header = _strict_json(reader.read(manifest))
    rows = [_strict_json(line) for line in reader.read(manifest, "rows").splitlines()]
    return {"columns": header["columns"], "column_types": header["column_types"], "data": rows}


def test_a_table_changed_after_it_is_logged_stores_what_it_held_when_logged(embedded_env):
    table = darkroom.Table(columns=["id", "meta"])
    table.add_data(1, {"x": 1})
    run = darkroom.init(project="tables")
    run.log({"t": table}, step=1)
    table.data[0][1]["x"] = 999
    table.add_data(2, {"x": 2})
    run.log({"t": table}, step=2)
    table.add_column("ok", [True, False])
    run.log({"t": table}, step=3)
    report, reader = _finish(run)
    assert report.failed == [] and report.converted == 3
    stored = {m["step"]: _stored(reader, m) for m in reader.manifests(key="t")}
    assert stored[1]["columns"] == ["id", "meta"] and stored[1]["data"] == [[1, {"x": 1}]]
    assert stored[2]["columns"] == ["id", "meta"] and stored[2]["data"] == [[1, {"x": 999}], [2, {"x": 2}]]
    assert stored[3]["columns"] == ["id", "meta", "ok"]
    assert stored[3]["data"] == [[1, {"x": 999}, True], [2, {"x": 2}, False]]


def test_a_column_added_after_logging_leaves_the_logged_table_valid(embedded_env):
    table = darkroom.Table(columns=["a", "b"], data=[[1, "x"]])
    run = darkroom.init(project="tables")
    run.log({"t": table})
    table.add_column("c", [2.5])
    report, reader = _finish(run)
    assert report.failed == []
    assert _stored(reader, reader.manifests(key="t")[0]) == {
        "columns": ["a", "b"], "column_types": {"a": "number", "b": "string"}, "data": [[1, "x"]]}


def test_a_table_whose_log_failed_does_not_store_that_attempt_at_its_next_log(embedded_env, monkeypatch):
    monkeypatch.setenv("DARKROOM_MAX_ITEMS_PER_KEY", "2")
    table = darkroom.Table(columns=["n", "picture"])
    for i in range(3):
        table.add_data(i, darkroom.Image(np.full((2, 2), i, dtype=np.uint8)))
    run = darkroom.init(project="tables")
    with pytest.warns(darkroom.DarkroomWarning, match="3 items under one key; the bound is 2"):
        run.log({"t": table}, step=1)
    del table.data[2]
    run.log({"t": table}, step=2)
    report, reader = _finish(run)
    assert report.failed == []
    (manifest,) = reader.manifests(key="t")
    assert manifest["step"] == 2 and [row[0] for row in reader.table(manifest)["data"]] == [0, 1]


def test_missing_values_in_a_dataframe_type_nothing_and_are_stored_as_json_null(embedded_env):
    frame = pd.DataFrame({
        "s": ["x", None, "z"],
        "n": [1.0, float("nan"), 3.0],
        "i": pd.array([1, None, 3], dtype="Int64"),
        "t": pd.array(["a", pd.NA, "c"], dtype="string"),
    })
    table = darkroom.Table(dataframe=frame)
    assert table.column_types == {"s": "string", "n": "number", "i": "number", "t": "string"}
    run = darkroom.init(project="tables")
    run.log({"frame": table, "direct": frame})
    report, reader = _finish(run)
    assert report.failed == [] and report.converted == 2
    for key in ("frame", "direct"):
        stored = _stored(reader, reader.manifests(key=key)[0])
        assert stored["data"] == [["x", 1.0, 1, "a"], [None, None, None, None], ["z", 3.0, 3, "c"]]


def test_pandas_nat_and_numpy_nat_are_missing_values_too():
    table = darkroom.Table(columns=["when"], data=[[pd.NaT], [np.datetime64("NaT")], ["never"]])
    assert table.data == [[None], [None], ["never"]] and table.column_types == {"when": "string"}


def test_a_nan_inside_a_list_or_dict_cell_is_stored_as_null(embedded_env):
    table = darkroom.Table(columns=["v"], data=[[{"loss": float("nan"), "xs": [np.float64("nan"), 1.0]}]])
    run = darkroom.init(project="tables")
    run.log({"t": table})
    _, reader = _finish(run)
    assert _stored(reader, reader.manifests(key="t")[0])["data"] == [[{"loss": None, "xs": [None, 1.0]}]]


def test_an_infinite_number_is_refused_naming_the_row_and_column():
    table = darkroom.Table(columns=["loss"], data=[[0.5]])
    with pytest.raises(ValueError, match=r"Table row 1: column 'loss': inf cannot be stored \(JSON has no infinity\)"):
        table.add_data(float("inf"))
    with pytest.raises(ValueError, match=r"Table row 0: column 'curve': -inf cannot be stored"):
        table.add_column("curve", [np.float32(-np.inf)])
