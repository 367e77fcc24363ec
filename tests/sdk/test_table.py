import io

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
