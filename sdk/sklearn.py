"""`darkroom.sklearn`: W&B's ``wandb.sklearn.plot_confusion_matrix``, a thin alias of
`darkroom.plot.confusion_matrix` that logs to the current run, as W&B's does.

scikit-learn is not imported: the labels are mapped to class indices here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from darkroom import plot
from darkroom.plot import Plot


def plot_confusion_matrix(y_true: Any = None, y_pred: Any = None, labels: Any = None, true_labels: Any = None,
                          pred_labels: Any = None, normalize: bool = False) -> Plot:
    """Log a confusion matrix of `y_true` against `y_pred` under the key ``confusion_matrix`` (as W&B's).

    Parameters
    ----------
    y_true, y_pred: the true and predicted labels: class indices, or any labels (str...) found in `labels`.
    labels: the classes, in order (default: the sorted labels present); for integer targets not among
        them, as in W&B, the names of classes 0, 1, ...
    true_labels, pred_labels, normalize: W&B's, accepted and unused (darkroom's matrix counts every class).

    Returns
    -------
    The `Plot` logged.

    Raises
    ------
    RuntimeError: no run is open.  ValueError: a label not in `labels`, lengths that differ.
    """
    from darkroom._session import current

    run = current()
    if run is None:
        raise RuntimeError("darkroom.sklearn.plot_confusion_matrix() logs to the current run: call darkroom.init() first")
    truth, predicted = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    present = set(truth.tolist()) | set(predicted.tolist())
    if labels is not None and truth.dtype.kind in "iu" and predicted.dtype.kind in "iu" and not present <= set(labels):
        # W&B's labels for integer targets: the names of classes 0, 1, ... ("dog" for every 0)
        chart = plot.confusion_matrix(y_true=truth, preds=predicted, class_names=[str(c) for c in labels])
        run.log({"confusion_matrix": chart})
        return chart
    classes = list(labels) if labels is not None else sorted(present)
    index = {c: i for i, c in enumerate(classes)}
    try:
        truth_ids = [index[v] for v in truth.tolist()]
        pred_ids = [index[v] for v in predicted.tolist()]
    except KeyError as e:
        raise ValueError(f"plot_confusion_matrix: label {e.args[0]!r} is not in labels {classes!r:.200}") from None
    chart = plot.confusion_matrix(y_true=truth_ids, preds=pred_ids, class_names=[str(c) for c in classes])
    run.log({"confusion_matrix": chart})
    return chart
