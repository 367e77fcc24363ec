"""darkroom.Plotly (W&B's wandb.Plotly) and Plotly figures logged directly, read back from storage."""

from __future__ import annotations

import base64
import json

import numpy as np
import plotly.graph_objects as go
import pytest

import darkroom


def stored(**values):
    run = darkroom.init(project="plotly")
    run.log(values)
    report = run.finish(quiet=True)
    reader = darkroom.Api().run(run.path)
    return report, reader, {key: reader.manifests(key=key)[0] for key in values}


def values(encoded) -> list:
    """A trace's array as plotly stores it: a list, or (plotly >= 6) a typed array ``{dtype, bdata}``."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"]).tolist()
    return encoded


def test_a_figure_wrapped_or_logged_directly_is_stored_as_its_json(embedded_env):
    fig = go.Figure(go.Scatter(x=np.arange(3), y=np.array([1.0, 4.0, 9.0]), name="squares"))
    fig.update_layout(title="Squares")
    report, reader, manifests = stored(wrapped=darkroom.Plotly(fig), direct=fig,
                                       from_dict=darkroom.Plotly({"data": [{"type": "bar", "y": np.arange(2)}]}))
    assert report.failed == [] and report.converted == 3
    for key in ("wrapped", "direct"):
        m = manifests[key]
        assert m["kind"] == "plotly" and m["untrusted"] is True and m["artifact"]["traces"] == 1
        figure = json.loads(reader.read(m))
        assert values(figure["data"][0]["y"]) == [1.0, 4.0, 9.0] and figure["data"][0]["name"] == "squares"
        assert figure["layout"]["title"]["text"] == "Squares"
    assert json.loads(reader.read(manifests["from_dict"]))["data"] == [{"type": "bar", "y": [0, 1]}]
    assert manifests["from_dict"]["artifact"]["trace_types"] == ["bar"]


def test_the_figure_is_snapshotted_when_wrapped():
    fig = go.Figure(go.Scatter(y=[1, 2]))
    item = darkroom.Plotly(fig)
    fig.data[0].y = [5, 6]
    assert json.loads(item._payload.data)["data"][0]["y"] == [1, 2]


def test_refusals_say_what_is_accepted():
    import matplotlib.figure

    with pytest.raises(TypeError, match="got a matplotlib object: log it directly"):
        darkroom.Plotly(matplotlib.figure.Figure())
    with pytest.raises(ValueError, match="'data' list of traces"):
        darkroom.Plotly({"layout": {}})
    with pytest.raises(TypeError, match="got str"):
        darkroom.Plotly("<div>")
    with pytest.raises(ValueError, match="not JSON data"):
        darkroom.Plotly({"data": [{"y": object()}]})


def test_the_converter_refuses_what_is_not_a_figure():
    from darkroom.pipeline.errors import InvalidInput
    from darkroom.pipeline.settings import Limits
    from darkroom.workers.converters import ItemInput, Payload
    from darkroom.workers.converters.plotly import PlotlyOptions, convert

    def run(data: bytes):
        return convert(ItemInput(Payload(data, "application/json", "json")), PlotlyOptions(), Limits())

    for data, text in [(b"{", "not JSON"), (b"[1]", "must be {'data'"), (b'{"data": [1]}', "trace 0 is a int"),
                       (b'{"data": [], "layout": 3}', "layout is a int")]:
        with pytest.raises(InvalidInput, match=text):
            run(data)
    assert run(b'{"data": [], "layout": {}}').warnings == ["the figure has no traces: nothing to draw"]
