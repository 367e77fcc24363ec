"""The points of a plot, computed with numpy from its untrusted JSON inputs: ROC and PR
curves (one-vs-rest per class), confusion counts and heatmap cells, bounded by
DARKROOM_MAX_TABLE_CELLS before the table is built.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.plot_inputs import (
    indices_within,
    matrix_shape,
    names_per_class,
    preds_or_probs,
    score_classes,
    vector_length,
)
from darkroom.pipeline.settings import Limits

COLUMNS = {
    "roc": ("class", "fpr", "tpr"),
    "pr": ("class", "precision", "recall"),
    "confusion_matrix": ("Actual", "Predicted", "nPredictions"),
    "heatmap": ("x", "y", "value"),
}
_NEEDS = {
    "roc": "y_true (n,) and y_probas (n, classes)",
    "pr": "y_true (n,) and y_probas (n, classes)",
    "confusion_matrix": "y_true (n,) and preds (n,) or probs (n, classes)",
    "heatmap": "x_labels, y_labels and matrix_values (len(y_labels), len(x_labels))",
}
MAX_MAGNITUDE = 1e300  # of a heatmap value
_EXACT_INTS = 2**53  # floats beyond this are not exact integers


@dataclasses.dataclass
class Points:
    """A chart's table rows and what to draw: curves, or a matrix with its labels."""

    chart: str
    rows: list[list[Any]]
    column_types: dict[str, str]
    warnings: list[str] = dataclasses.field(default_factory=list)
    curves: list[tuple[str, np.ndarray, np.ndarray]] | None = None  # (class, x, y) as drawn
    matrix: np.ndarray | None = None  # (rows, columns) floats, NaN where missing
    x_labels: list[str] | None = None
    y_labels: list[str] | None = None


# -- the curves ------------------------------------------------------------------


def _cumulative(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives at each distinct score, from the highest score down."""
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # the last sample of each distinct score
    tps = np.cumsum(positive, dtype=np.int64)[last]
    return tps, last + 1 - tps


def roc_points(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) from (0, 0) to (1, 1), as sklearn's ``roc_curve`` (drop_intermediate=True).

    `positive`: (n,) bool, with at least one True and one False; `scores`: (n,) finite floats.
    """
    tps, fps = _cumulative(positive, scores)
    if tps.size > 2:
        # Keep the corners only: a point on the straight line between its neighbours adds nothing.
        corners = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps = tps[corners], fps[corners]
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    return fps / fps[-1], tps / tps[-1]


def pr_points(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) by rising recall, starting at (1, 0), as sklearn's ``precision_recall_curve``
    read backwards.  `positive` has at least one True."""
    tps, fps = _cumulative(positive, scores)
    return np.r_[1.0, tps / (tps + fps)], np.r_[0.0, tps / tps[-1]]


def curve_points(chart: str, inputs: dict[str, Any], limits: Limits) -> Points:
    """One curve per plotted class, one-vs-rest: a class's samples against all others."""
    y_true = _class_indices(_field(inputs, "y_true", chart), "y_true")
    scores = _numbers(_field(inputs, "y_probas", chart), "y_probas", "(n, classes)").astype(np.float64)
    n, classes = len(y_true), score_classes(scores.shape, len(y_true), "y_probas")
    if not np.isfinite(scores).all():
        raise InvalidInput("invalid_plot", "y_probas holds NaN or infinite scores; accepted: finite numbers")
    _in_range(y_true, classes, "y_true", "the columns of y_probas")
    names = _labels(inputs.get("labels"), "labels", classes, "y_probas") or [str(k) for k in range(classes)]
    chosen = _chosen(inputs.get("classes_to_plot"), classes)
    if chosen is None:
        chosen = np.unique(y_true).tolist()
    roc = chart == "roc"
    points = Points(chart, [], {"class": "string", COLUMNS[chart][1]: "number", COLUMNS[chart][2]: "number"},
                    curves=[])
    for k in chosen:
        positive = y_true == k
        found = int(positive.sum())
        if found == 0:
            points.warnings.append(f"class {names[k]!r} not drawn: no sample of it in y_true "
                                   f"({'its TPR' if roc else 'its recall'} is undefined)")
            continue
        if roc and found == n:
            points.warnings.append(f"class {names[k]!r} not drawn: every sample in y_true is of it "
                                   "(its FPR is undefined)")
            continue
        first, second = (roc_points if roc else pr_points)(positive, scores[:, k])
        _bound(3 * (len(points.rows) + len(first)), limits)
        points.rows.extend([names[k], a, b] for a, b in zip(first.tolist(), second.tolist()))
        assert points.curves is not None
        points.curves.append((names[k], first, second) if roc else (names[k], second, first))
    if not points.curves:
        raise InvalidInput("invalid_plot", "no class to draw: " + "; ".join(points.warnings))
    return points


# -- the matrices ----------------------------------------------------------------


def confusion_points(chart: str, inputs: dict[str, Any], limits: Limits) -> Points:
    """Counts of (actual, predicted) pairs; every pair of classes is a row, zeros included."""
    y_true = _class_indices(_field(inputs, "y_true", chart), "y_true")
    preds, probs = inputs.get("preds"), inputs.get("probs")
    preds_or_probs(preds is not None, probs is not None, "a confusion matrix")
    classes: int | None = None
    if probs is not None:
        scores = _numbers(probs, "probs", "(n, classes)")
        classes = score_classes(scores.shape, len(y_true), "probs")
        if scores.dtype.kind == "f" and not np.isfinite(scores).all():
            raise InvalidInput("invalid_plot", "probs holds NaN or infinite scores; accepted: finite numbers")
        predicted = scores.argmax(axis=1)
    else:
        predicted = _class_indices(preds, "preds", len(y_true))
    names = _labels(inputs.get("class_names"), "class_names", classes, "probs")
    if names is not None:
        classes = len(names)
    if classes is not None:
        _bound(3 * classes * classes, limits)
        _in_range(y_true, classes, "y_true", "the classes")
        _in_range(predicted, classes, "preds", "the classes")
        actual = y_true
        names = names or [str(k) for k in range(classes)]
    else:
        # No names and no probs: the classes are the indices found, named by their value.
        values, inverse = np.unique(np.concatenate([y_true, predicted]), return_inverse=True)
        classes = len(values)
        _bound(3 * classes * classes, limits)
        names = [str(v) for v in values.tolist()]
        actual, predicted = inverse[: len(y_true)], inverse[len(y_true):]
    counts = np.bincount(actual * classes + predicted, minlength=classes * classes).reshape(classes, classes)
    table = counts.tolist()
    rows = [[names[i], names[j], table[i][j]] for i in range(classes) for j in range(classes)]
    return Points(chart, rows, {"Actual": "string", "Predicted": "string", "nPredictions": "number"},
                  matrix=counts.astype(np.float64), x_labels=names, y_labels=names)


def heatmap_points(chart: str, inputs: dict[str, Any], limits: Limits) -> Points:
    """A row per cell, row-major: ``[x_labels[i], y_labels[j], matrix_values[j][i]]``; NaN becomes null."""
    xs = _labels(_field(inputs, "x_labels", chart), "x_labels")
    ys = _labels(_field(inputs, "y_labels", chart), "y_labels")
    assert xs is not None and ys is not None
    _bound(3 * len(xs) * len(ys), limits)
    matrix = _numbers(_field(inputs, "matrix_values", chart), "matrix_values", "(rows, columns)").astype(np.float64)
    matrix_shape(matrix.shape, len(ys), len(xs), "matrix_values")
    if np.isinf(matrix).any():
        raise InvalidInput("invalid_plot", "matrix_values holds infinite values; accepted: finite numbers, "
                           "NaN for a missing value")
    largest = float(np.nanmax(np.abs(matrix), initial=0.0))
    if largest > MAX_MAGNITUDE:
        # matplotlib's colour bar ticker overflows (OverflowError) on ranges near the float maximum.
        raise InvalidInput("invalid_plot", f"matrix_values holds {largest:.3g} in magnitude; accepted: up to "
                           f"{MAX_MAGNITUDE:.0e}, the range a colour scale can draw")
    missing = int(np.isnan(matrix).sum())
    values = matrix.tolist()
    rows = [[x, y, None if values[j][i] != values[j][i] else values[j][i]]
            for j, y in enumerate(ys) for i, x in enumerate(xs)]
    points = Points(chart, rows, {"x": "string", "y": "string"}, matrix=matrix, x_labels=xs, y_labels=ys)
    if missing < matrix.size:
        points.column_types["value"] = "number"
    if missing:
        points.warnings.append(f"{missing} of {matrix.size} cells are NaN: stored as null, drawn blank")
    return points


# -- checking the inputs ---------------------------------------------------------------


def _field(inputs: dict[str, Any], name: str, chart: str) -> Any:
    if inputs.get(name) is None:
        raise InvalidInput("invalid_plot", f"plot payload has no {name!r}; a {chart} needs {_NEEDS[chart]}")
    return inputs[name]


def _numbers(value: Any, what: str, shape: str) -> np.ndarray:
    """The numbers of a JSON list as an array; `shape` is the accepted shape as the messages say it
    (the caller checks the array's shape with darkroom.pipeline.plot_inputs)."""
    if not isinstance(value, list):
        raise InvalidInput("invalid_plot", f"{what} must be a list of numbers {shape}; got {type(value).__name__}")
    try:
        array = np.array(value)
    except (ValueError, TypeError, OverflowError, RecursionError) as e:
        raise InvalidInput("invalid_plot", f"{what} is not an array of numbers {shape} ({e})") from None
    if array.dtype.kind not in "biuf":
        raise InvalidInput("invalid_plot", f"{what} holds {array.dtype} values; accepted: numbers {shape}")
    return array


def _class_indices(value: Any, what: str, n: int | None = None) -> np.ndarray:
    """Integral class indices of shape (n,); with `n`, as many as y_true has."""
    array = _numbers(value, what, "(n,)")
    vector_length(array.shape, what, n)
    if array.dtype.kind == "f":
        whole = np.isfinite(array) & (np.abs(array) < _EXACT_INTS)
        whole[whole] = array[whole] == np.round(array[whole])
        if not whole.all():
            raise InvalidInput("invalid_plot", f"{what} holds {array[~whole][0].item()!r}, not a class index; "
                               "accepted: integers")
    elif array.dtype.kind == "u" and array.max() > np.iinfo(np.int64).max:
        raise InvalidInput("invalid_plot", f"{what} holds {array.max()}, beyond int64; accepted: class indices")
    return array.astype(np.int64)


def _in_range(indices: np.ndarray, classes: int, what: str, of: str) -> None:
    indices_within(int(indices.min()), int(indices.max()), classes, what, of)


def _labels(value: Any, what: str, classes: int | None = None, of: str = "") -> list[str] | None:
    """Names as str, or None if not given; one per column of `of` when `classes` is known."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise InvalidInput("invalid_plot", f"{what} must be a non-empty list of str or numbers; "
                           f"got {value!r:.80}")
    bad = [v for v in value if not isinstance(v, (str, int, float))]
    if bad:
        raise InvalidInput("invalid_plot", f"{what} holds {bad[0]!r:.60}; accepted: str or numbers")
    names_per_class(len(value), classes, what, of)
    return [str(v) for v in value]


def _chosen(value: Any, classes: int) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
        raise InvalidInput("invalid_plot", "classes_to_plot must be a non-empty list of class indices; "
                           f"got {value!r:.80}")
    indices_within(min(value), max(value), classes, "classes_to_plot", "the columns of y_probas")
    return list(dict.fromkeys(value))


def _bound(cells: int, limits: Limits) -> None:
    if cells > limits.max_table_cells:
        raise InvalidInput("too_large", f"plot table of {cells} cells exceeds the bound of "
                           f"{limits.max_table_cells} (DARKROOM_MAX_TABLE_CELLS)")
