"""`darkroom.Plotly`: a Plotly figure, stored as its JSON and drawn by the viewer with plotly.js.

As W&B's ``wandb.Plotly(fig)``; a Plotly figure logged directly becomes one.
The figure is serialised on the caller's thread, as W&B does: it is the
snapshot (the caller may change the figure once log() returns), made with
plotly's own encoder, which the figure's module has loaded already.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np

from darkroom._media import BytesSnapshot, Media


def is_plotly_figure(value: Any) -> bool:
    """A plotly ``Figure`` (or ``FigureWidget``), recognised without importing plotly."""
    return type(value).__module__.split(".")[0] == "plotly" and hasattr(value, "to_plotly_json")


class Plotly(Media):
    """A Plotly figure to log.

    Parameters
    ----------
    val: a ``plotly.graph_objects.Figure``, or its dict form (``{"data": [...], "layout": {...}}``).

    Raises
    ------
    TypeError: anything else (a matplotlib figure: log it directly, it is stored as an image).
    ValueError: a dict without a ``data`` list, or values JSON cannot hold.
    """

    kind = "plotly"

    def __init__(self, val: Any):
        super().__init__(None)
        if is_plotly_figure(val):
            import plotly.io

            text = plotly.io.to_json(val, validate=False)
        elif isinstance(val, dict):
            if not isinstance(val.get("data"), (list, tuple)):
                raise ValueError("Plotly takes a figure dict with a 'data' list of traces; got keys "
                                 f"{sorted(map(str, val))[:8]}")
            try:
                text = json.dumps(val, default=_json_default)
            except (TypeError, ValueError) as e:
                raise ValueError(f"Plotly figure dict is not JSON data: {e}") from None
        elif type(val).__module__.split(".")[0] == "matplotlib":
            raise TypeError("Plotly takes a Plotly figure; got a matplotlib object: log it directly "
                            "(run.log({'chart': fig}) stores it as an image), or darkroom.Image(fig)")
        else:
            raise TypeError(f"Plotly takes a plotly.graph_objects.Figure or its dict form; got {type(val).__name__}")
        self._payload = BytesSnapshot(text.encode(), "json", "application/json")

    def __repr__(self) -> str:
        return f"<darkroom.Plotly {self.nbytes} bytes>"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} {obj!r:.60} is not JSON data")
