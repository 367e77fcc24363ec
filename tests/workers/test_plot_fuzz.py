"""workers/converters/plot.py under random inputs: every outcome is an Output or an InvalidInput
with a message, never another exception or a hang."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload
from darkroom.workers.converters.plot import PlotOptions, convert
from darkroom.workers.converters.plot_points import COLUMNS

from converter_harness import fuzz_settings

pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # random label text

FUZZ = fuzz_settings(50)
CHARTS = st.sampled_from(sorted(COLUMNS))
LIMITS = Limits(max_table_cells=3000)  # small, so the bound is hit as well as passed

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=30)


def outcome(chart: str, data: bytes, **options: Any) -> None:
    try:
        out = convert(ItemInput(Payload(data, "application/json", "json")), PlotOptions(chart=chart, **options), LIMITS)
    except InvalidInput as e:
        assert e.code and e.message
        return
    assert isinstance(out, Output) and out.data.startswith(b"\x89PNG")
    table = json.loads(out.related[0].data)
    assert table["columns"] == list(COLUMNS[chart])
    assert 3 * len(table["data"]) <= LIMITS.max_table_cells


@st.composite
def arrays(draw: st.DrawFn, ndim: int) -> Any:
    """Mostly well-formed numeric arrays of random sizes and dtypes, sometimes ragged or odd."""
    shape = draw(st.lists(st.integers(0, 12), min_size=ndim, max_size=ndim))
    kind = draw(st.sampled_from(["int", "float", "bool", "special"]))
    size = int(np.prod(shape))
    if kind == "int":
        values = draw(st.lists(st.integers(-3, 12), min_size=size, max_size=size))
    elif kind == "bool":
        values = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    else:
        floats = st.floats(-2, 2) if kind == "float" else st.sampled_from([0.5, float("nan"), float("inf"), -1e308])
        values = draw(st.lists(floats, min_size=size, max_size=size))
    array = np.array(values, dtype=object).reshape(shape).tolist()
    if ndim == 2 and array and draw(st.booleans()) and draw(st.booleans()):
        array[0] = array[0][:-1]  # ragged
    return array


@st.composite
def chart_inputs(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """Consistent inputs of random sizes, one field in three then replaced by a random array or JSON."""
    chart = draw(CHARTS)
    n, classes = draw(st.integers(1, 12)), draw(st.integers(1, 5))
    indices = st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)
    scores = st.lists(st.lists(st.floats(0, 1), min_size=classes, max_size=classes), min_size=n, max_size=n)
    chosen = st.lists(st.integers(0, classes - 1), min_size=1, max_size=4)
    names = st.lists(st.one_of(st.text(max_size=6), st.integers(0, 9)), min_size=classes, max_size=classes)
    cells = st.one_of(st.floats(-1e6, 1e6), st.just(float("nan")), st.floats(allow_infinity=False))
    if chart in ("roc", "pr"):
        inputs = {"y_true": draw(indices), "y_probas": draw(scores), "labels": draw(st.one_of(st.none(), names)),
                  "classes_to_plot": draw(st.one_of(st.none(), chosen))}
    elif chart == "confusion_matrix":
        inputs = {"y_true": draw(indices), "class_names": draw(st.one_of(st.none(), names))}
        inputs[draw(st.sampled_from(["preds", "probs"]))] = draw(draw(st.sampled_from([indices, scores])))
    else:
        inputs = {"x_labels": draw(names), "y_labels": draw(st.lists(st.text(max_size=3), min_size=n, max_size=n)),
                  "matrix_values": draw(st.lists(st.lists(cells, min_size=classes,
                                                          max_size=classes), min_size=n, max_size=n))}
    if draw(st.integers(0, 2)) == 0:
        inputs[draw(st.sampled_from(sorted(inputs)))] = draw(st.one_of(arrays(1), arrays(2), json_values))
    return chart, inputs


@FUZZ
@given(chart_inputs(), st.booleans())
def test_random_shapes_and_values_give_an_output_or_an_invalid_input(
        case: tuple[str, dict[str, Any]], show_text: bool) -> None:
    chart, inputs = case
    outcome(chart, json.dumps(inputs).encode(), show_text=show_text)


@FUZZ
@given(CHARTS, json_values)
def test_random_json_gives_an_output_or_an_invalid_input(chart: str, value: Any) -> None:
    outcome(chart, json.dumps(value).encode())


@FUZZ
@given(CHARTS, st.binary(max_size=200))
def test_random_and_truncated_bytes_give_an_invalid_input(chart: str, data: bytes) -> None:
    valid = json.dumps({"y_true": [0, 1], "y_probas": [[0.2, 0.8], [0.6, 0.4]]}).encode()
    outcome(chart, data)
    outcome(chart, valid[: len(data) % len(valid)])
