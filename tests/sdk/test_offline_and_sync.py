"""Offline runs only spool; `darkroom sync` sends a spool later; a run left open is finished at exit."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from click.testing import CliRunner

import darkroom
from darkroom._cli import main
from darkroom._sync import find_run_dirs, sync_run


def files_under(path) -> list:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def offline_run(project: str = "off", bad: bool = False) -> darkroom.Run:
    run = darkroom.init(project=project, mode="offline", config={"k": 1})
    run.log({"img": darkroom.Image(np.full((4, 4, 3), 77, np.uint8)), "loss": 1.0})
    run.log({"list": [darkroom.Image(np.full((2, 3), i, np.uint8)) for i in range(3)], "loss": 0.5})
    if bad:
        run.log({"bad": darkroom.Image(np.full((2, 2), np.nan))}, step=5)
    run.summary["best"] = 0.25
    return run


def test_an_offline_run_only_spools_and_stores_nothing(embedded_env, tmp_path, capsys):
    run = offline_run()
    report = run.finish()
    assert (report.converted, report.failed, report.pending) == (0, [], 4)
    assert report.spooled > 0 and not report.ok
    assert files_under(tmp_path / "data") == []
    spooled = files_under(run.dir / "spool")
    assert any(p.suffix == ".npy" for p in spooled) and any(p.suffix == ".json" for p in spooled)
    err = capsys.readouterr().err
    assert f"{report.spooled} item(s) still spooled; send them with: darkroom sync {run.dir}" in err


def test_sync_run_sends_an_offline_spool_and_everything_converts(embedded_env, tmp_path):
    from PIL import Image as PILImage

    run = offline_run()
    run.finish(quiet=True)
    report = sync_run(run.dir, quiet=True)
    assert (report.run, report.converted, report.failed, report.pending, report.spooled) == (run.path, 4, [], 0, 0)
    assert files_under(run.dir / "spool") == []

    reader = darkroom.Api().run(run.path)
    assert reader.info["state"] == "finished" and reader.info["config"] == {"k": 1}
    rows = list(reader.scan_history())
    assert [(r["_step"], r["loss"]) for r in rows] == [(0, 1.0), (1, 0.5)]
    with PILImage.open(io.BytesIO(reader.read(rows[0]["img"]))) as png:
        assert np.array(png).tolist() == np.full((4, 4, 3), 77).tolist()
    assert [m["status"] for m in rows[1]["list"]] == ["ok"] * 3
    assert reader.summary == {"img": rows[0]["img"], "list": rows[1]["list"], "loss": 0.5, "best": 0.25}


def test_syncing_a_run_again_sends_nothing_new(embedded_env):
    run = offline_run()
    run.finish(quiet=True)
    sync_run(run.dir, quiet=True)
    reader = darkroom.Api().run(run.path)
    before = {m["key"] + str(m["index"]): m["created_at"] for m in reader.manifests()}
    again = sync_run(run.dir, quiet=True)
    assert (again.converted, again.pending, again.spooled, again.failed) == (0, 0, 0, [])
    assert {m["key"] + str(m["index"]): m["created_at"] for m in reader.manifests()} == before


def test_the_sync_command_sends_a_run_folder_and_reports_failures(embedded_env):
    run = offline_run(bad=True)
    run.finish(quiet=True)
    result = CliRunner().invoke(main, ["sync", str(run.dir)])
    assert result.exit_code == 0, result.output
    assert f"{run.path}: 4 converted, 1 failed, 0 pending, 0 still spooled" in result.stdout
    assert "failed: 'bad' step 5 [0]: image has 4 NaN or infinite values" in result.stdout
    assert darkroom.Api().run(run.path).manifest(5, "bad", 0)["error"]["code"] == "non_finite"


def test_the_sync_command_without_arguments_finds_every_run_under_darkroom_dir(embedded_env, tmp_path):
    first, second = offline_run("one"), offline_run("two")
    first.finish(quiet=True)
    second.finish(quiet=True)
    assert find_run_dirs(tmp_path / "runs") == sorted([first.dir, second.dir])
    result = CliRunner().invoke(main, ["sync", "--json"])
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert sorted((r["run"], r["converted"], r["spooled"]) for r in reports) == sorted(
        [(first.path, 4, 0), (second.path, 4, 0)])
    assert sorted(darkroom.Api().runs()) == sorted([first.path, second.path])


def test_the_sync_command_without_run_folders_fails_naming_where_it_looked(embedded_env, tmp_path):
    result = CliRunner().invoke(main, ["sync", str(tmp_path)])
    assert result.exit_code != 0
    assert f"no run folders (run.json + spool/) under {tmp_path}" in result.output


def test_the_sync_command_in_a_subprocess_sends_an_offline_run(embedded_env, tmp_path):
    run = offline_run()
    run.finish(quiet=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DARKROOM_", "AWS_"))} | embedded_env
    done = subprocess.run([sys.executable, "-m", "darkroom._cli", "sync", str(run.dir)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{run.path}: 4 converted, 0 failed, 0 pending, 0 still spooled" in done.stdout


def test_a_run_left_open_is_finished_at_interpreter_exit(embedded_env, tmp_path):
    script = textwrap.dedent("""
        import numpy as np, darkroom
        run = darkroom.init(project="atexit")
        for step in range(4):  # a request a step: the index finish() reads has several journal objects
            run.log({"img": darkroom.Image(np.full((3, 3), 11 + step, np.uint8))})
        run.log({"open": 1}, step=4)  # an open row, never committed
        print(run.path)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DARKROOM_", "AWS_"))} | embedded_env
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    path = done.stdout.strip()
    assert f"darkroom: run {path}: 4 converted, 0 failed, 0 pending" in done.stderr, done.stderr
    reader = darkroom.Api().run(path)
    assert reader.info["state"] == "finished"
    assert [(r["_step"], r.get("open")) for r in reader.scan_history()] == [(0, None), (1, None), (2, None), (3, None), (4, 1)]
    assert [reader.manifest(step, "img", 0)["status"] for step in range(4)] == ["ok"] * 4
    assert files_under(tmp_path / "runs" / path / "spool") == []


def test_ctrl_c_during_the_exit_finish_leaves_the_rest_spooled_quietly_and_sync_sends_it(embedded_env, tmp_path):
    script = textwrap.dedent("""
        import signal, sys, numpy as np, darkroom
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
        run = darkroom.init(project="ctrlc")
        rng = np.random.default_rng(0)
        for step in range(120):  # noise PNGs: seconds of conversion left at exit
            run.log({"img": darkroom.Image(rng.integers(0, 256, (384, 384, 3), np.uint8))})
        print(run.dir, flush=True)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DARKROOM_", "AWS_"))} | embedded_env
    # A session of its own: Ctrl-C in a terminal signals the whole process group, embedded workers included.
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        run_dir = proc.stdout.readline().strip()
        while "finishing run ctrlc/" not in (notice := proc.stderr.readline()):  # past any warning
            assert notice, "the process ended without finishing its run at exit"
        assert "press Ctrl-C" in notice, notice
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "darkroom: interrupted; " in stderr, stderr
    assert f"had not sent stays in its spool; send it with: darkroom sync {run_dir}" in stderr, stderr
    assert "Traceback" not in stderr, stderr
    spooled = files_under(Path(run_dir) / "spool")
    assert spooled, "the interrupt came after everything was sent: log more items"
    result = CliRunner().invoke(main, ["sync", run_dir])
    assert result.exit_code == 0, result.output
    path = "ctrlc/" + Path(run_dir).name
    manifests = darkroom.Api().run(path).manifests()
    assert len(manifests) == 120 and {m["status"] for m in manifests} == {"ok"}


def test_an_embedded_worker_ignores_ctrl_c_and_ends_when_its_stdin_closes(embedded_env):
    import hashlib

    from darkroom.pipeline import paths
    from darkroom.pipeline.settings import Settings
    from darkroom.pipeline.storage import open_storage
    from darkroom.workers.embedded import settings_to_json

    settings = Settings.from_env()
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 2), np.uint8), allow_pickle=False)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    uri = open_storage(settings.resolved_storage_url()).put(paths.raw_key(sha, "npy"), data)
    request = {"schema": "darkroom.convert/1", "project": "p", "run": "r", "step": 0, "key": "img", "kind": "image",
               "items": [{"index": 0, "source": {"uri": uri, "sha256": sha, "bytes": len(data),
                                                 "media_type": "application/x-npy", "ext": "npy"}}]}
    worker = subprocess.Popen([sys.executable, "-m", "darkroom.workers.embedded"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def answer(ident: int) -> dict:
        worker.stdin.write(json.dumps({"id": ident, "request": request}) + "\n")
        worker.stdin.flush()
        while "results" not in (line := worker.stdout.readline()):  # its answer, after the progress lines
            assert line, worker.stderr.read()
        return json.loads(line)

    worker.stdin.write(settings_to_json(settings) + "\n")
    assert answer(1)["id"] == 1  # past its imports: it answered a request
    worker.send_signal(signal.SIGINT)
    # A worker that took the interrupt would end before it read another line: its next answer shows it did not.
    assert answer(2) == {"id": 2, "results": [["ok", ""]]}
    assert worker.poll() is None, worker.stderr.read()
    worker.stdin.close()
    assert worker.wait(timeout=30) == 0
    assert worker.stderr.read() == ""


def test_sync_reports_an_item_that_failed_before_it_was_sent(embedded_env, tmp_path, monkeypatch):
    import darkroom._media
    from PIL import Image as PILImage

    monkeypatch.setattr(darkroom._media, "EAGER_FILE_BYTES", 0)  # a file too big to read when logged

    path = tmp_path / "gone.png"
    PILImage.new("RGB", (3, 3)).save(path)
    image = darkroom.Image(path)
    path.unlink()
    run = darkroom.init(project="off", mode="offline")
    run.log({"gone": image, "kept": darkroom.Image(np.zeros((2, 2)))})
    run.finish(quiet=True)
    report = sync_run(run.dir, quiet=True)
    assert report.converted == 1 and report.pending == 0
    assert [(f.key, f.step, f.index, f.code) for f in report.failed] == [("gone", 0, 0, "missing_file")]
    assert darkroom.Api().run(run.path).manifest(0, "gone", 0)["error"]["code"] == "missing_file"
