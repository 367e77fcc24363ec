"""Plots: ROC and PR curves, confusion matrices and heatmaps computed from the raw inputs,
stored as a PNG with the points as a related table (MEDIA_TYPES.md, Plots).

The points are computed with numpy (no sklearn); the PNG is drawn with
matplotlib's Agg canvas on a `Figure` made here, never through pyplot, so no
global backend or figure registry is touched and nothing is left open.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.optional import optional_import
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import Converter, ItemInput, Output, RelatedOutput
from darkroom.workers.converters.plot_points import (
    COLUMNS,
    Points,
    confusion_points,
    curve_points,
    heatmap_points,
)

VERSION = "1"
TITLES = {"roc": "ROC", "pr": "Precision v. Recall", "confusion_matrix": "Confusion Matrix", "heatmap": ""}
FIGSIZE, DPI = (6.4, 4.8), 100  # matplotlib's default size: a 640 x 480 PNG
# Beyond these the PNG stays readable by leaving things out (the table keeps everything):
_MAX_LEGEND = 20  # legend entries
_MAX_TICKS = 40  # tick labels per axis, thinned evenly
_MAX_LABEL_CHARS = 30  # characters of a tick or legend label
_MAX_TEXT_CELLS = 400  # cells whose value is written in them: 20 x 20 stay legible at 640 x 480
_POINTS = {"roc": curve_points, "pr": curve_points, "confusion_matrix": confusion_points, "heatmap": heatmap_points}


class PlotOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chart: Literal["roc", "pr", "confusion_matrix", "heatmap"]
    title: str | None = None  # None: the chart's default (TITLES)
    show_text: bool = False  # heatmap: write each cell's value


def convert(item: ItemInput, options: PlotOptions, limits: Limits) -> Output:
    """Compute a chart's points from its JSON inputs; render them to PNG.

    Raises
    ------
    InvalidInput (``invalid_plot``, ``too_large``, ``missing_dependency``): what is
        wrong with which input, and what is accepted.
    """
    try:
        inputs = json.loads(item.payload.data)
    except (ValueError, RecursionError) as e:
        raise InvalidInput("invalid_plot", f"plot payload is not JSON ({e})") from None
    if not isinstance(inputs, dict):
        raise InvalidInput("invalid_plot", f"plot payload must be a JSON object of inputs; got {type(inputs).__name__}")
    points = _POINTS[options.chart](options.chart, inputs, limits)
    title = TITLES[options.chart] if options.title is None else options.title
    png, width, height = _render(points, title, options.show_text)
    table = {"columns": list(COLUMNS[options.chart]), "column_types": points.column_types, "data": points.rows}
    return Output(
        data=png,
        format="png",
        media_type="image/png",
        measurements={"width": width, "height": height, "chart": options.chart},
        warnings=points.warnings,
        related=[RelatedOutput(
            role="table",
            data=json.dumps(table, separators=(",", ":"), allow_nan=False).encode(),
            format="json",
            media_type="application/json",
            info={"rows": len(points.rows), "columns": len(table["columns"])},
        )],
    )


# -- drawing ---------------------------------------------------------------------


def _render(points: Points, title: str, show_text: bool) -> tuple[bytes, int, int]:
    matplotlib = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # parse_math off: a label such as "cost $5 or $6" is text, not (invalid) mathtext.
    # chunksize: Agg refuses single paths of very many points without it.
    with matplotlib.rc_context({"text.parse_math": False, "agg.path.chunksize": 10_000}):
        figure = Figure(figsize=FIGSIZE, dpi=DPI)
        canvas = FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        if points.curves is not None:
            _draw_curves(axes, points)
        else:
            _draw_matrix(figure, axes, points, show_text or points.chart == "confusion_matrix")
        axes.set_title(title)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
    width, height = canvas.get_width_height()
    return buffer.getvalue(), int(width), int(height)


def _draw_curves(axes: Any, points: Points) -> None:
    assert points.curves is not None
    lines = [axes.plot(x, y, linewidth=1.5)[0] for _, x, y in points.curves]
    if points.chart == "roc":
        axes.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1)
        axes.set_xlabel("False positive rate")
        axes.set_ylabel("True positive rate")
    else:
        axes.set_xlabel("Recall")
        axes.set_ylabel("Precision")
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    if len(points.curves) <= _MAX_LEGEND:
        # Handles and labels given explicitly: a label starting with "_" would otherwise be left out.
        axes.legend(lines, [_short(name) for name, _, _ in points.curves],
                    loc="lower right" if points.chart == "roc" else "lower left", fontsize="small")
    else:
        points.warnings.append(f"legend not drawn: {len(points.curves)} classes (at most {_MAX_LEGEND}); "
                               "the table names every point's class")


def _draw_matrix(figure: Any, axes: Any, points: Points, write_values: bool) -> None:
    assert points.matrix is not None and points.x_labels is not None and points.y_labels is not None
    matrix = np.ma.masked_invalid(points.matrix)
    confusion = points.chart == "confusion_matrix"
    image = axes.imshow(matrix, cmap="Blues" if confusion else "viridis", aspect="auto", interpolation="nearest")
    figure.colorbar(image, ax=axes)
    _ticks(axes.set_xticks, points.x_labels, rotation=45, ha="right")
    _ticks(axes.set_yticks, points.y_labels)
    axes.set_xlabel("Predicted" if confusion else "x")
    axes.set_ylabel("Actual" if confusion else "y")
    if not write_values:
        return
    if matrix.size > _MAX_TEXT_CELLS:
        if not confusion:  # asked for with show_text
            points.warnings.append(f"show_text: values not written, {matrix.size} cells (at most {_MAX_TEXT_CELLS})")
        return
    # White on the dark half of the colour map: high counts in Blues, low values in viridis.
    middle = (float(matrix.min()) + float(matrix.max())) / 2 if matrix.count() else 0.0
    for (row, column), value in np.ndenumerate(points.matrix):
        if math.isfinite(value):
            text = f"{value:.0f}" if confusion else f"{value:.3g}"
            axes.text(column, row, text, ha="center", va="center", fontsize="small",
                      color="white" if (value > middle) == confusion else "black")


def _ticks(set_ticks: Callable[..., Any], labels: list[str], **style: Any) -> None:
    step = max(1, math.ceil(len(labels) / _MAX_TICKS))
    positions = list(range(0, len(labels), step))
    set_ticks(positions, [_short(labels[i]) for i in positions], fontsize="small", **style)


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL_CHARS else label[: _MAX_LABEL_CHARS - 1] + "\u2026"


def _matplotlib() -> Any:
    return optional_import("matplotlib", "plots need matplotlib", "plots")


CONVERTER = Converter(name="plot", version=VERSION, options_model=PlotOptions, convert=convert)
