"""The `darkroom` command: demo, show, runs, worker and each command's --help."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

import darkroom
from darkroom._cli import main


def clean_environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DARKROOM_", "AWS_"))}
    env.update(extra)
    return env


def darkroom_cli(*args: str, cwd, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "darkroom._cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`darkroom demo --steps 10` run once in a subprocess: (completed process, storage url, run path)."""
    root = tmp_path_factory.mktemp("demo")
    url = f"file://{root / 'data'}"
    env = clean_environ(DARKROOM_STORAGE_URL=url, DARKROOM_DIR=str(root / "runs"))
    done = darkroom_cli("demo", "--steps", "10", cwd=root, env=env)
    match = re.search(r"^run (demo/[a-z0-9]+): 10 steps logged$", done.stdout, re.M)
    return done, url, match.group(1) if match else None


def test_demo_exits_zero_and_prints_the_report(demo):
    done, url, path = demo
    assert done.returncode == 0, done.stdout + done.stderr
    assert path is not None, done.stdout
    # steps 0, 5 and 9 log 4 examples each, with boxes and masks; the last step one of every
    # other type: 2 videos, audio, a table (+ its 4 images), html, a molecule, a cloud, a plot
    assert "  report: 24 converted, 0 failed, 0 pending" in done.stdout
    assert f"  media and manifests: {url}/runs/{path}/" in done.stdout
    assert f"  look at it:  darkroom show {path}" in done.stdout
    assert f"  in a browser: darkroom ui --storage {url}\n" in done.stdout
    assert f"darkroom: run {path}: 24 converted, 0 failed, 0 pending" in done.stderr


def test_show_json_prints_info_summary_and_every_manifest(demo):
    _, url, path = demo
    result = CliRunner().invoke(main, ["show", path, "--json", "--storage", url])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["info"]["config"] == {"lr": 0.02, "steps": 10, "image_size": 96}
    assert shown["info"]["state"] == "finished"
    assert isinstance(shown["summary"]["final_loss"], float) and shown["summary"]["loss"] == shown["summary"]["final_loss"]
    manifests = [m for m in shown["manifests"] if m["key"] == "examples"]
    assert [(m["step"], m["index"]) for m in manifests] == [(s, i) for s in (0, 5, 9) for i in range(4)]
    assert {m["kind"] for m in shown["manifests"]} == {"image", "video", "audio", "table", "html", "molecule",
                                                       "object3d", "plot"}
    assert {m["status"] for m in manifests} == {"ok"} and {m["key"] for m in manifests} == {"examples"}
    assert all(m["related"][0]["role"] == "mask:ground_truth" for m in manifests)
    assert all(set(m["boxes"]) == {"predictions", "ground_truth"} for m in manifests)


def test_show_prints_a_table_of_the_items_with_their_status(demo):
    _, url, path = demo
    result = CliRunner().invoke(main, ["show", path, "--storage", url])
    assert result.exit_code == 0, result.output
    assert path in result.stdout and "finished" in result.stdout
    assert 'config: {"lr": 0.02, "steps": 10, "image_size": 96}' in result.stdout
    assert "24 ok, 0 failed, 24 items" in result.stdout
    assert "width=96" in result.stdout and "height=96" in result.stdout


def test_show_of_an_unknown_run_fails_naming_the_run(demo):
    _, url, _ = demo
    result = CliRunner().invoke(main, ["show", "demo/nosuchrun", "--storage", url])
    assert result.exit_code == 1
    assert f"Error: no run demo/nosuchrun in {url}" in result.output


def test_show_of_a_malformed_run_path_fails_naming_it(demo):
    _, url, _ = demo
    result = CliRunner().invoke(main, ["show", "just-a-name", "--storage", url])
    assert result.exit_code == 1
    assert "run path 'just-a-name' is not 'project/run_id'" in result.output


def test_runs_lists_the_runs_in_storage(demo, tmp_path):
    _, url, path = demo
    env = clean_environ(DARKROOM_STORAGE_URL=url)
    done = darkroom_cli("runs", cwd=tmp_path, env=env)
    assert (done.returncode, done.stdout) == (0, f"{path}\n")
    result = CliRunner().invoke(main, ["runs", "--json", "--storage", url])
    assert json.loads(result.stdout) == [path]
    result = CliRunner().invoke(main, ["runs", "other", "--storage", url])
    assert (result.exit_code, result.stdout) == (0, "")


def test_show_json_reads_a_run_logged_in_this_process(embedded_env):
    run = darkroom.init(project="cli")
    run.log({"img": darkroom.Image([[0, 255], [255, 0]]), "acc": 0.75})
    run.finish(quiet=True)
    result = CliRunner().invoke(main, ["show", run.path, "--json"])  # storage from the environment
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["summary"]["acc"] == 0.75
    assert [(m["key"], m["status"], m["artifact"]["width"]) for m in shown["manifests"]] == [("img", "ok", 2)]


def test_worker_without_a_broker_exits_nonzero_naming_the_variable(tmp_path):
    done = darkroom_cli("worker", cwd=tmp_path, env=clean_environ(), timeout=60)
    assert done.returncode != 0
    assert "Error: DARKROOM_BROKER_URL is not set; a worker needs a broker" in done.stderr


@pytest.mark.parametrize(
    ("command", "first_line"),
    [([], "darkroom develops what a training job logs."),
     (["demo"], "Run a small numpy training loop"),
     (["worker"], "Start a Celery worker serving darkroom's queues (needs DARKROOM_BROKER_URL)."),
     (["show"], "Show a run: its config, summary and every media item with its status."),
     (["runs"], "List the runs in storage (of PROJECT if given)."),
     (["sync"], "Send what crashed or offline runs left in their spool.")],
)
def test_every_command_has_help(command, first_line):
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(main, [*command, flag])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("Usage: ")
        assert first_line in result.stdout


def test_the_top_level_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    commands = result.stdout.split("Commands:", 1)[1]
    assert [line.split()[0] for line in commands.strip().splitlines()] == [
        "demo", "export", "export-video", "exporter", "gc", "import", "reprocess", "runs", "show", "status", "sync",
        "ui", "worker"]


def test_the_version_option_prints_the_package_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and darkroom.__version__ in result.stdout


def test_status_without_a_broker_shows_each_runs_counts(demo):
    _, url, path = demo
    result = CliRunner().invoke(main, ["status", "demo", "--storage", url])
    assert result.exit_code == 0, result.output
    assert "no broker (DARKROOM_BROKER_URL unset)" in result.stdout
    assert path in result.stdout and "finished" in result.stdout
    shown = json.loads(CliRunner().invoke(main, ["status", path, "--storage", url, "--json"]).stdout)
    assert shown["queues"] is None and shown["workers"] is None
    [counts] = shown["runs"]
    assert (counts["converted"], counts["failed"], counts["pending"]) == (24, 0, 0)
