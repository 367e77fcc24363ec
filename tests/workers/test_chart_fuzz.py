"""workers/converters/chart.py and plotly.py under random inputs: every outcome is an Output or an
InvalidInput with a message, never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from darkroom.pipeline.chart_layout import FIELDS
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload
from darkroom.workers.converters.chart import ChartOptions
from darkroom.workers.converters.chart import convert as convert_chart
from darkroom.workers.converters.plotly import PlotlyOptions
from darkroom.workers.converters.plotly import convert as convert_plotly

from converter_harness import fuzz_settings

FUZZ = fuzz_settings(60)
LIMITS = Limits(max_table_cells=200)  # small, so the bound is hit as well as passed
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=25)
COLUMN = st.sampled_from(["x", "y", "s", "k"])


def item(data: bytes) -> ItemInput:
    return ItemInput(Payload(data, "application/json", "json"))


@st.composite
def chart_cases(draw: st.DrawFn) -> tuple[bytes, ChartOptions]:
    chart = draw(st.sampled_from(sorted(FIELDS)))
    required, optional = FIELDS[chart]
    fields = {f: draw(COLUMN) for f in required + tuple(o for o in optional if draw(st.booleans()))}
    columns = draw(st.lists(COLUMN, max_size=4, unique=True))
    rows = draw(st.lists(st.lists(st.one_of(st.floats(-10, 10), st.integers(-5, 5), st.text(max_size=3),
                                            st.none(), json_values), min_size=len(columns), max_size=len(columns)),
                         max_size=60))
    table: Any = {"columns": columns, "data": rows}
    if draw(st.integers(0, 5)) == 0:
        table = draw(json_values)  # not a table at all
    return json.dumps(table).encode(), ChartOptions(chart=chart, fields=fields)


@FUZZ
@given(chart_cases())
def test_a_chart_is_stored_or_refused_with_a_message(case: tuple[bytes, ChartOptions]) -> None:
    data, options = case
    try:
        out = convert_chart(item(data), options, LIMITS)
    except InvalidInput as e:
        assert e.code in ("invalid_chart", "invalid_table", "too_large") and e.message
        return
    assert isinstance(out, Output)
    stored = json.loads(out.data)
    assert set(options.fields.values()) <= set(stored["columns"])
    assert len(stored["data"]) * max(1, len(stored["columns"])) <= LIMITS.max_table_cells


@FUZZ
@given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=64),
                 st.lists(st.one_of(json_values, st.dictionaries(st.text(max_size=4), json_values, max_size=3)),
                          max_size=5).map(lambda traces: json.dumps({"data": traces, "layout": {}}).encode())))
def test_a_plotly_figure_is_stored_or_refused_with_a_message(data: bytes) -> None:
    try:
        out = convert_plotly(item(data), PlotlyOptions(), Limits())
    except InvalidInput as e:
        assert e.code in ("invalid_plotly", "too_large") and e.message
        return
    figure = json.loads(out.data)
    assert all(isinstance(t, dict) for t in figure["data"]) and out.measurements["traces"] == len(figure["data"])
