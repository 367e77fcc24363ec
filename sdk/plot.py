"""`darkroom.plot`: charts computed by the worker (ROC, PR, confusion matrix, heatmap) and figures.

W&B's custom charts (`line`, `scatter`, `bar`, `histogram`, `line_series`) are
`darkroom._chart`'s, drawn by the viewer from their table.

The chart functions keep the raw inputs as JSON (copied on the caller's
thread, serialised on the sender thread) and check only what is cheap:
argument types, shapes and lengths.  The worker computes the points into a
table and renders a PNG (MEDIA_TYPES.md, Plots).  Neither sklearn nor
matplotlib is imported here.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any, ParamSpec

import numpy as np

from darkroom._chart import Chart as Chart
from darkroom._chart import bar as bar
from darkroom._chart import histogram as histogram
from darkroom._chart import line as line
from darkroom._chart import line_series as line_series
from darkroom._chart import scatter as scatter
from darkroom._image import Image, _is_figure
from darkroom._media import Media, array_from, json_copy
from darkroom._table import JsonSnapshot
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline import plot_inputs

CHARTS = ("roc", "pr", "confusion_matrix", "heatmap")
# Memory a JSON value held as Python lists takes per number (a float object and its pointer).
_BYTES_PER_VALUE = 32
_P = ParamSpec("_P")


class Plot(Media):
    """A chart the worker computes and renders: made by `roc_curve`, `pr_curve`,
    `confusion_matrix` or `heatmap`, not directly.

    The payload is the raw inputs as JSON; ``options["chart"]`` names the chart.
    """

    kind = "plot"

    def __init__(self, chart: str, inputs: dict[str, Any], values: int, title: str | None = None,
                 show_text: bool = False):
        super().__init__(None)
        if chart not in CHARTS:
            raise ValueError(f"Plot chart={chart!r}; accepted: {', '.join(CHARTS)}")
        self.chart = chart
        self._payload = JsonSnapshot(inputs, nbytes=_BYTES_PER_VALUE * values + 4096)
        self._options = {"chart": chart, "title": title}
        if chart == "heatmap":
            self._options["show_text"] = bool(show_text)

    def __repr__(self) -> str:
        return f"<darkroom.plot.Plot {self.chart}>"


def _caller_errors(chart: Callable[_P, Plot]) -> Callable[_P, Plot]:
    """Raise the worker's rules (darkroom.pipeline.plot_inputs) as the caller's ValueError."""

    @functools.wraps(chart)
    def checked(*args: _P.args, **kwargs: _P.kwargs) -> Plot:
        try:
            return chart(*args, **kwargs)
        except InvalidInput as e:
            raise ValueError(e.message) from None

    return checked


def roc_curve(y_true: Any, y_probas: Any, labels: Any = None, classes_to_plot: Any = None,
              title: str | None = None, split_table: bool = False) -> Plot:
    """A receiver operating characteristic curve per class (one-vs-rest).

    Parameters
    ----------
    y_true: (n,) true class indices, 0..C-1.
    y_probas: (n, C) scores, a column per class.
    labels: C class names (default: the class indices).
    classes_to_plot: class indices to draw (default: the classes present in `y_true`).
    title: the chart's title (default "ROC").
    split_table: W&B's (a separate table section in its UI); accepted, unused: the points are the plot's table.

    Returns
    -------
    A `Plot`; the worker stores a PNG and a table with columns ``class, fpr, tpr``.

    Raises
    ------
    TypeError, ValueError: an argument of the wrong type or shape, named.
    """
    return _curve("roc", "roc_curve", y_true, y_probas, labels, classes_to_plot, title)


def pr_curve(y_true: Any, y_probas: Any, labels: Any = None, classes_to_plot: Any = None,
             interp_size: int = 21, title: str | None = None, split_table: bool = False) -> Plot:
    """A precision-recall curve per class (one-vs-rest).

    Parameters and Raises are those of `roc_curve`; the default title is
    "Precision v. Recall" and the table's columns are ``class, precision, recall``.
    `interp_size` (W&B's: it interpolates each curve to that many points) is
    checked and not applied: darkroom keeps every threshold, so no point of the
    curve is made up.
    """
    if isinstance(interp_size, bool) or not isinstance(interp_size, (int, np.integer)) or interp_size < 2:
        raise ValueError(f"pr_curve interp_size={interp_size!r}; accepted: an int >= 2")
    return _curve("pr", "pr_curve", y_true, y_probas, labels, classes_to_plot, title)


@_caller_errors
def confusion_matrix(y_true: Any = None, preds: Any = None, probs: Any = None, class_names: Any = None,
                     title: str | None = None, split_table: bool = False) -> Plot:
    """A confusion matrix of true classes against predicted ones.

    Parameters
    ----------
    y_true: (n,) true class indices.
    preds: (n,) predicted class indices; or
    probs: (n, C) scores, the prediction being each row's argmax.  Exactly one of the two.
    class_names: names of the classes 0..C-1 (C of them with `probs`); default: the
        indices found in `y_true` and `preds` (0..C-1 with `probs`).
    title: the chart's title (default "Confusion Matrix").

    Returns
    -------
    A `Plot`; the worker stores a PNG and a table with columns ``Actual, Predicted, nPredictions``.

    Raises
    ------
    TypeError, ValueError: no `y_true`, both or neither of `preds`/`probs`, a wrong shape or length.
    """
    what = "confusion_matrix"
    if y_true is None:
        raise TypeError(f"{what} needs y_true: the true class indices, shape (n,)")
    plot_inputs.preds_or_probs(preds is not None, probs is not None, what)
    truth = _vector(y_true, f"{what} y_true")
    n = len(truth)
    inputs: dict[str, Any] = {"y_true": truth.tolist(), "preds": None, "probs": None, "class_names": None}
    if preds is not None:
        predicted = _vector(preds, f"{what} preds", n)
        plot_inputs.values_within(2 * n, _limits().max_table_cells, what)
        inputs["preds"] = predicted.tolist()
        values, classes = 2 * n, None
    else:
        scores = _scores(probs, n, f"{what} probs")
        plot_inputs.values_within(n + scores.size, _limits().max_table_cells, what)
        inputs["probs"] = scores.tolist()
        values, classes = n + scores.size, scores.shape[1]
    if class_names is not None:
        names = _names(class_names, f"{what} class_names")
        plot_inputs.names_per_class(len(names), classes, f"{what} class_names", "probs")
        inputs["class_names"] = names
    return Plot("confusion_matrix", inputs, values, title=_title(title, what))


@_caller_errors
def heatmap(x_labels: Any, y_labels: Any, matrix_values: Any, show_text: bool = False) -> Plot:
    """A heatmap of a matrix with labelled columns (x) and rows (y).

    Parameters
    ----------
    x_labels: W labels, one per column.
    y_labels: H labels, one per row.
    matrix_values: an (H, W) array: ``matrix_values[j][i]`` is the value at
        ``(x_labels[i], y_labels[j])``; NaN is a missing value.
    show_text: write each cell's value in it.

    Returns
    -------
    A `Plot`; the worker stores a PNG and a table with columns ``x, y, value``.

    Raises
    ------
    TypeError, ValueError: labels that are not a list, a matrix not of shape (H, W).
    """
    xs = _names(x_labels, "heatmap x_labels")
    ys = _names(y_labels, "heatmap y_labels")
    _bounded(matrix_values, "heatmap matrix_values")
    matrix = array_from(matrix_values, "heatmap matrix_values")
    if matrix is None:
        raise TypeError(f"heatmap matrix_values must be a 2-D array; got {type(matrix_values).__name__}")
    plot_inputs.matrix_shape(matrix.shape, len(ys), len(xs), "heatmap matrix_values")
    if not isinstance(show_text, bool):
        raise TypeError(f"heatmap show_text must be a bool; got {type(show_text).__name__}")
    inputs = {"x_labels": xs, "y_labels": ys, "matrix_values": matrix.tolist()}
    return Plot("heatmap", inputs, matrix.size, show_text=show_text)


def figure_image(value: Any) -> Image | None:
    """An `Image` of a matplotlib figure, or of pyplot's current figure when `value`
    is the `matplotlib.pyplot` module; None for anything else.

    The figure is drawn now, on the caller's thread (a figure is not thread-safe);
    the worker encodes the pixels.  matplotlib is not imported to find out.
    """
    if isinstance(value, types.ModuleType):
        if value.__name__ != "matplotlib.pyplot":
            return None
        value = value.gcf()
    if not _is_figure(value):
        return None
    return Image(value)


# -- cheap checks on the caller's thread ------------------------------------------


@_caller_errors
def _curve(chart: str, what: str, y_true: Any, y_probas: Any, labels: Any, classes_to_plot: Any,
           title: str | None) -> Plot:
    truth = _vector(y_true, f"{what} y_true")
    scores = _scores(y_probas, len(truth), f"{what} y_probas")
    plot_inputs.values_within(len(truth) + scores.size, _limits().max_table_cells, what)
    classes = scores.shape[1]
    inputs: dict[str, Any] = {"y_true": truth.tolist(), "y_probas": scores.tolist(),
                              "labels": None, "classes_to_plot": None}
    if labels is not None:
        names = _names(labels, f"{what} labels")
        plot_inputs.names_per_class(len(names), classes, f"{what} labels", "y_probas")
        inputs["labels"] = names
    if classes_to_plot is not None:
        chosen = array_from(classes_to_plot, f"{what} classes_to_plot")
        if chosen is None or chosen.ndim != 1 or chosen.size == 0 or chosen.dtype.kind not in "iu":
            raise TypeError(f"{what} classes_to_plot must be a non-empty list of class indices (int); "
                            f"got {classes_to_plot!r:.80}")
        plot_inputs.indices_within(int(chosen.min()), int(chosen.max()), classes,
                                   f"{what} classes_to_plot", "the columns of y_probas")
        inputs["classes_to_plot"] = chosen.tolist()
    return Plot(chart, inputs, len(truth) + scores.size, title=_title(title, what))


def _limits() -> Any:
    from darkroom.pipeline.settings import Settings

    return Settings.from_env().limits


def _bounded(data: Any, what: str) -> None:
    """Refuse an input larger than the bound by its shape, before it is copied."""
    shape = getattr(data, "shape", None)
    if shape is not None:
        count = int(np.prod([int(k) for k in shape], dtype=np.int64))
        plot_inputs.values_within(count, _limits().max_table_cells, what)


def _vector(data: Any, what: str, n: int | None = None) -> np.ndarray:
    _bounded(data, what)
    array = array_from(data, what)
    if array is None:
        raise TypeError(f"{what} must be array-like of class indices; got {type(data).__name__}")
    plot_inputs.vector_length(array.shape, what, n)
    return array


def _scores(data: Any, n: int, what: str) -> np.ndarray:
    _bounded(data, what)
    array = array_from(data, what)
    if array is None:
        raise TypeError(f"{what} must be a 2-D array of scores; got {type(data).__name__}")
    plot_inputs.score_classes(array.shape, n, what)
    return array


def _names(data: Any, what: str) -> list[Any]:
    if isinstance(data, np.ndarray):
        data = data.tolist()
    if not isinstance(data, (list, tuple)):
        raise TypeError(f"{what} must be a list of str or numbers; got {type(data).__name__}")
    names = json_copy(list(data), what)
    bad = [n for n in names if isinstance(n, (list, dict)) or n is None]
    if bad:
        raise TypeError(f"{what} must be a list of str or numbers; got {bad[0]!r:.60}")
    return names


def _title(title: Any, what: str) -> str | None:
    if title is not None and not isinstance(title, str):
        raise TypeError(f"{what} title must be a str; got {type(title).__name__}")
    return title
