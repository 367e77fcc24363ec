"""Plotly figures: the figure JSON checked (a data list of trace objects, a layout object) and stored.

The artifact is the figure as canonical JSON; the viewer draws it with the
plotly.js it ships, in a sandboxed frame (the manifest marks it untrusted, as
logged HTML: a figure's text may hold markup).
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import Converter, ItemInput, Output

VERSION = "1"
MAX_TRACES = 10_000  # plotly.js draws far fewer readably; beyond this it is not a chart


class PlotlyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def convert(item: ItemInput, options: PlotlyOptions, limits: Limits) -> Output:
    """Check a Plotly figure's JSON and store it canonically.

    Raises
    ------
    InvalidInput (``invalid_plotly``, ``too_large``): not JSON, no data list, a trace or layout that
        is not an object, too many traces.
    """
    try:
        figure = json.loads(item.payload.data, parse_constant=lambda token: None)  # NaN, Infinity: missing
    except (ValueError, RecursionError) as e:
        raise InvalidInput("invalid_plotly", f"Plotly figure is not JSON ({e})") from None
    if not isinstance(figure, dict) or not isinstance(figure.get("data"), list):
        raise InvalidInput("invalid_plotly", "Plotly figure must be {'data': [trace, ...], 'layout': {...}}")
    traces = figure["data"]
    if len(traces) > MAX_TRACES:
        raise InvalidInput("too_large", f"Plotly figure has {len(traces)} traces; accepted: at most {MAX_TRACES}")
    for i, trace in enumerate(traces):
        if not isinstance(trace, dict):
            raise InvalidInput("invalid_plotly", f"Plotly trace {i} is a {type(trace).__name__}, not an object")
    layout = figure.get("layout", {})
    if not isinstance(layout, dict):
        raise InvalidInput("invalid_plotly", f"Plotly layout is a {type(layout).__name__}, not an object")
    out = {"data": traces, "layout": layout}
    if isinstance(figure.get("frames"), list):
        out["frames"] = figure["frames"]
    types = sorted({t["type"] if isinstance(t.get("type"), str) else "scatter" for t in traces})
    try:
        data = json.dumps(out, separators=(",", ":"), allow_nan=False).encode()
    except (ValueError, RecursionError) as e:
        raise InvalidInput("invalid_plotly", f"Plotly figure cannot be stored as JSON ({e})") from None
    return Output(
        data=data,
        format="json", media_type="application/json",
        measurements={"traces": len(traces), "trace_types": types},
        warnings=[] if traces else ["the figure has no traces: nothing to draw"],
        manifest_fields={"untrusted": True},
    )


CONVERTER = Converter(name="plotly", version=VERSION, options_model=PlotlyOptions, convert=convert)
