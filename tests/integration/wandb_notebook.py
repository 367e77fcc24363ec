"""A W&B notebook's cells, written as W&B's docs and example notebooks write them, with only the
import changed.  tests/integration/test_wandb_notebook.py runs it in a fresh process (embedded,
and on the fleet) and checks what it stored.  Prints the run's path on its last line."""

import argparse

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import darkroom as wandb

# %% cell 1: log in and start, with an argparse config
wandb.login()
args = argparse.Namespace(lr=0.01, epochs=3, batch_size=16)
run = wandb.init(project="notebook", config=args, tags=["demo"], entity="someone", id="nb-run-1",
                 resume="allow")
config = wandb.config
config.dropout = 0.2
wandb.define_metric("epoch")
wandb.define_metric("val/*", step_metric="epoch")
wandb.define_metric("train/loss", summary="min")

# %% cell 2: the training loop
for epoch in range(config.epochs):
    for batch in range(2):
        wandb.log({"train/loss": 1.0 / (1 + epoch * 2 + batch)})
    images = [wandb.Image(np.full((8, 8, 3), 40 * epoch, np.uint8), caption=f"epoch {epoch}")]
    wandb.log({"epoch": epoch, "val/acc": 0.5 + epoch / 10, "examples": images})

# %% cell 3: a table of predictions, with W&B's Table methods
table = wandb.Table(columns=["id", "image", "guess", "truth"])
for i in range(4):
    table.add_data(i, wandb.Image(np.full((4, 4), i * 60, np.uint8)), i % 2, 1)
table.add_computed_columns(lambda index, row: {"correct": row["guess"] == row["truth"]})
frame = pd.DataFrame(np.arange(6).reshape(3, 2), columns=["a", "b"])
wandb.log({"predictions": table, "frame": wandb.Table(data=frame), "array": wandb.Table(data=np.eye(2), columns=["x", "y"])})

# %% cell 4: custom charts and Plotly
data = [[x, x * x] for x in range(10)]
points = wandb.Table(data=data, columns=["x", "y"])
wandb.log({"line": wandb.plot.line(points, "x", "y", title="Squares"),
           "scatter": wandb.plot.scatter(points, "x", "y"),
           "bar": wandb.plot.bar(points, "x", "y"),
           "histogram": wandb.plot.histogram(points, "y"),
           "series": wandb.plot.line_series(xs=list(range(5)), ys=[[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]],
                                            keys=["up", "down"], title="Two", xname="step"),
           "plotly": go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))})

# %% cell 5: evaluation plots and the summary
y_true = np.array([0, 1, 1, 0, 1, 0])
y_probas = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3], [0.35, 0.65], [0.6, 0.4]])
wandb.log({"pr": wandb.plot.pr_curve(y_true, y_probas, labels=["cat", "dog"], interp_size=21),
           "roc": wandb.plots.ROC(y_true, y_probas, ["cat", "dog"]),
           "cm": wandb.plot.confusion_matrix(probs=None, y_true=y_true, preds=y_probas.argmax(1),
                                             class_names=["cat", "dog"])})
wandb.run.summary["weights"] = np.linspace(0, 1, 100)
wandb.summary["best_acc"] = 0.7
wandb.finish()
print(run.path)
