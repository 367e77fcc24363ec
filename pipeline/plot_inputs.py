"""The shape, length and class-count rules of a chart's inputs (MEDIA_TYPES.md, Plots).

One rule, used twice: the SDK applies it when a chart is made (a cheap check
on the caller's thread) and the worker applies it again to the JSON inputs,
because workers never trust a message.  The rules read shapes and lengths,
not data; `what` names the argument ("roc_curve y_probas" in the SDK,
"y_probas" in the worker).  Every refusal is ``invalid_plot``.
"""

from __future__ import annotations

from darkroom.pipeline.errors import InvalidInput


def _refuse(message: str) -> InvalidInput:
    return InvalidInput("invalid_plot", message)


def vector_length(shape: tuple[int, ...], what: str, n: int | None = None) -> int:
    """n of an (n,) input such as y_true or preds; with `n`, it must be the length of y_true."""
    shape = tuple(int(k) for k in shape)
    if len(shape) != 1 or shape[0] == 0:
        raise _refuse(f"{what} has shape {shape}; accepted: (n,) with n >= 1")
    if n is not None and shape[0] != n:
        raise _refuse(f"{what} has {shape[0]} values for {n} in y_true; they must match")
    return shape[0]


def score_classes(shape: tuple[int, ...], n: int, what: str) -> int:
    """The classes (columns) of an (n, classes) score matrix, y_probas or probs, for n values in y_true."""
    shape = tuple(int(k) for k in shape)
    if len(shape) != 2 or shape[1] == 0:
        hint = "; for binary scores p pass np.stack([1 - p, p], axis=1)" if shape == (n,) else ""
        raise _refuse(f"{what} has shape {shape}; accepted: (n, classes) with n = {n} (the length of y_true){hint}")
    if shape[0] != n:
        raise _refuse(f"{what} has {shape[0]} rows for {n} values in y_true; they must match")
    return shape[1]


def preds_or_probs(has_preds: bool, has_probs: bool, what: str) -> None:
    """A confusion matrix takes its predictions as class indices or as scores, not both."""
    if has_preds == has_probs:
        given = "both" if has_preds else "neither"
        raise _refuse(f"{what} takes exactly one of preds= (class indices) or probs= (scores); got {given}")


def names_per_class(count: int, classes: int | None, what: str, of: str) -> None:
    """`count` names, one per class: per column of `of` (y_probas, probs) when `classes` is known."""
    if count == 0:
        raise _refuse(f"{what} is empty; accepted: a name per class")
    if classes is not None and count != classes:
        raise _refuse(f"{what} has {count} names for the {classes} columns of {of}; they must match")


def indices_within(lowest: int, highest: int, classes: int, what: str, of: str) -> None:
    """Class indices from `lowest` to `highest` must lie in 0..classes-1, the classes of `of`."""
    if lowest < 0 or highest >= classes:
        outside = lowest if lowest < 0 else highest
        raise _refuse(f"{what} holds class index {outside}, outside 0..{classes - 1} ({of})")


def matrix_shape(shape: tuple[int, ...], rows: int, columns: int, what: str) -> None:
    """A heatmap's values: a row per y label, a column per x label."""
    shape = tuple(int(k) for k in shape)
    if shape != (rows, columns) or rows == 0 or columns == 0:
        raise _refuse(f"{what} has shape {shape}; accepted: (len(y_labels), len(x_labels)) = "
                      f"({rows}, {columns}), not empty")


def values_within(count: int, bound: int, what: str) -> None:
    """A chart's inputs hold at most `bound` numbers (DARKROOM_MAX_TABLE_CELLS): they are stored as a
    JSON table, and checked by their shapes before anything is copied."""
    if count > bound:
        raise _refuse(f"{what} holds {count} values; the bound is {bound} (DARKROOM_MAX_TABLE_CELLS)")
