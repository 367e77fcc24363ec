"""W&B-style notebook cells (tests/integration/wandb_notebook.py, `import darkroom as wandb`) run end to
end in a fresh process: in the embedded default and on the fleet; then read back as W&B code reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import darkroom

NOTEBOOK = Path(__file__).with_name("wandb_notebook.py")
KINDS = {"examples": "image", "predictions": "table", "frame": "table", "array": "table", "line": "chart",
         "scatter": "chart", "bar": "chart", "histogram": "chart", "series": "chart", "plotly": "plotly",
         "pr": "plot", "roc": "plot", "cm": "plot", "_table/predictions/image": "image"}


def run_notebook(env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, str(NOTEBOOK)], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def check_stored(path: str) -> None:
    api = darkroom.Api()
    run = api.run(path)
    assert run.name == "nb-run-1" and run.tags == ["demo"]
    assert run.config == {"lr": 0.01, "epochs": 3, "batch_size": 16, "dropout": 0.2}
    manifests = run.manifests()
    assert {m["key"]: m["kind"] for m in manifests} == KINDS
    assert all(m["status"] == "ok" for m in manifests), [(m["key"], m.get("error")) for m in manifests]
    accuracy = run.history(keys=["val/acc"])
    assert accuracy["epoch"].tolist() == [0, 1, 2] and accuracy["val/acc"].tolist() == [0.5, 0.6, 0.7]
    assert run.summary["train/loss"] == {"min": 1.0 / 6} and run.summary["best_acc"] == 0.7
    assert run.summary["weights"]["max"] == 1.0 and len(run.summary_array("weights")) == 100
    by_key = {m["key"]: m for m in manifests}
    assert run.table(by_key["predictions"])["columns"] == ["id", "image", "guess", "truth", "correct"]
    assert run.table(by_key["array"])["data"] == [[1.0, 0.0], [0.0, 1.0]]
    assert by_key["line"]["chart"]["title"] == "Squares" and run.table(by_key["line"])["data"][3] == [3, 9]
    assert run.table(by_key["series"])["data"][:2] == [[0, "up", 1], [1, "up", 2]]
    assert json.loads(run.read(by_key["plotly"]))["data"][0]["type"] == "scatter"
    assert [r.name for r in api.runs("notebook")] == ["nb-run-1"]


def test_a_w_and_b_notebook_runs_unchanged_in_the_embedded_default(embedded_env, tmp_path):
    import os

    path = run_notebook({**os.environ}, tmp_path)
    check_stored(path)


@pytest.mark.integration
def test_a_w_and_b_notebook_runs_unchanged_on_the_fleet(fleet, tmp_path):
    fleet.start_worker(queues="image,data")
    path = run_notebook(fleet.subprocess_env(), tmp_path)
    check_stored(path)
