"""`darkroom.plots`: W&B's legacy ``wandb.plots`` names, as thin aliases of `darkroom.plot`.

``wandb.plots.ROC``, ``precision_recall`` and ``HeatMap`` return a chart to
log (``run.log({"roc": wandb.plots.ROC(...)})``), as in W&B.
"""

from __future__ import annotations

from typing import Any

from darkroom import plot
from darkroom.plot import Plot


def ROC(y_true: Any = None, y_probas: Any = None, labels: Any = None, classes_to_plot: Any = None) -> Plot:
    """`darkroom.plot.roc_curve` (W&B's ``wandb.plots.ROC``)."""
    return plot.roc_curve(y_true, y_probas, labels=labels, classes_to_plot=classes_to_plot)


def precision_recall(y_true: Any = None, y_probas: Any = None, labels: Any = None, plot_micro: bool = True,
                     classes_to_plot: Any = None) -> Plot:
    """`darkroom.plot.pr_curve` (W&B's ``wandb.plots.precision_recall``); `plot_micro` is accepted and unused:
    darkroom draws one curve per class."""
    return plot.pr_curve(y_true, y_probas, labels=labels, classes_to_plot=classes_to_plot)


def HeatMap(x_labels: Any, y_labels: Any, matrix_values: Any, show_text: bool = False) -> Plot:
    """`darkroom.plot.heatmap` (W&B's ``wandb.plots.HeatMap``)."""
    return plot.heatmap(x_labels, y_labels, matrix_values, show_text=show_text)
