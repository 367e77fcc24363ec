"""docs/wandb.md stays true: every W&B name in its tables' first column resolves in darkroom."""

from __future__ import annotations

import re
from pathlib import Path

import darkroom

DOC = Path(__file__).resolve().parents[2] / "docs" / "wandb.md"
# The first cell of a table row: `wandb.X.Y` (resolved on the darkroom module) or `run.X` (on a run).
_FIRST_CELL = re.compile(r"^\| `((?:wandb|run)\.[\w.]+)`", re.M)


def listed() -> list[str]:
    return _FIRST_CELL.findall(DOC.read_text())


def test_the_page_lists_the_calls_the_issue_names():
    names = set(listed())
    for name in ("wandb.plot.line", "wandb.plot_table", "wandb.Plotly", "wandb.config", "wandb.login",
                 "wandb.Table.add_computed_columns", "wandb.plots.HeatMap", "wandb.sklearn.plot_confusion_matrix",
                 "wandb.Api.runs", "wandb.define_metric"):
        assert name in names, name


def test_every_name_on_the_page_resolves_in_darkroom(embedded_env):
    run = darkroom.init(project="doc", mode="disabled")
    missing = []
    for name in listed():
        root, *parts = name.split(".")
        obj = darkroom if root == "wandb" else run
        for part in parts:
            try:
                obj = getattr(obj, part)
            except AttributeError:
                missing.append(name)
                break
    run.finish(quiet=True)
    assert missing == []
