"""workers/converters/chart.py: a custom chart's table and spec checked again and stored."""

from __future__ import annotations

import json

import pytest

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Payload, converter_for
from darkroom.workers.converters.chart import ChartOptions, convert


def run(table: dict | bytes, limits: Limits | None = None, **options):
    data = table if isinstance(table, bytes) else json.dumps(table).encode()
    return convert(ItemInput(Payload(data, "application/json", "json")), ChartOptions(**options), limits or Limits())


LINE = {"chart": "line", "fields": {"x": "step", "y": "loss"}, "title": "Loss"}


def test_a_line_chart_stores_its_table_and_its_spec_in_the_manifest():
    out = run({"columns": ["step", "loss"], "data": [[0, 1.0], [1, NaN := float("nan")], [2, 0.5]]}, **LINE)
    stored = json.loads(out.data)
    assert stored == {"columns": ["step", "loss"], "column_types": {"step": "number", "loss": "number"},
                      "data": [[0, 1.0], [1, None], [2, 0.5]]}
    assert out.manifest_fields["chart"] == {"type": "line", "fields": {"x": "step", "y": "loss"}, "title": "Loss",
                                            "string_fields": {}, "split_table": False}
    assert out.measurements["rows"] == 3 and out.measurements["chart"] == "line"
    assert converter_for("chart").options_model is ChartOptions and NaN != NaN


@pytest.mark.parametrize("table, options, code, text", [
    ({"columns": ["a"], "data": [[1]]}, {"chart": "line", "fields": {"x": "a", "y": "b"}},
     "invalid_chart", "field y='b' is not a column of the table; columns: a"),
    ({"columns": ["a", "b"], "data": [[1, "x"]]}, {"chart": "scatter", "fields": {"x": "a", "y": "b"}},
     "invalid_chart", "field y='b' must be a column of numbers; it holds string values"),
    ({"columns": ["a"], "data": [[1]]}, {"chart": "bar", "fields": {"value": "a"}},
     "invalid_chart", "bar chart needs the field 'label'"),
    ({"columns": ["a"], "data": [[[1, 2]]]}, {"chart": "histogram", "fields": {"value": "a"}},
     "invalid_chart", "holds json values"),
    ({"columns": ["a"], "data": [[1], ["x"]]}, {"chart": "histogram", "fields": {"value": "a"}},
     "invalid_table", "chart table row 1"),
    ({"columns": ["a", "a"], "data": []}, {"chart": "histogram", "fields": {"value": "a"}},
     "invalid_table", "distinct"),
])
def test_refusals_name_the_field_column_or_row_and_what_is_accepted(table, options, code, text):
    with pytest.raises(InvalidInput) as info:
        run(table, **options)
    assert info.value.code == code and text in info.value.message


def test_a_payload_that_is_not_a_table_and_a_table_over_the_cell_bound_fail():
    with pytest.raises(InvalidInput, match="not JSON"):
        run(b"{nope", chart="histogram", fields={"value": "a"})
    with pytest.raises(InvalidInput) as info:
        run({"columns": ["a"], "data": [[i] for i in range(11)]}, Limits(max_table_cells=10),
            chart="histogram", fields={"value": "a"})
    assert info.value.code == "too_large" and "DARKROOM_MAX_TABLE_CELLS" in info.value.message


def test_an_empty_chart_is_stored_with_a_warning():
    out = run({"columns": ["a"], "data": []}, chart="histogram", fields={"value": "a"})
    assert json.loads(out.data)["data"] == [] and out.warnings == ["the chart's table has no rows: nothing to draw"]
