"""`darkroom export SELECTOR DEST --format files`: layout, manifests.jsonl, filters, resume, refusals.

The runs are logged once per module by the real SDK with its embedded workers
into moto's S3 server, and exported by the real command (in this process, or
as a subprocess where a signal or another user is needed).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from waiting import wait_for

import darkroom
from darkroom._cli import main

STEPS = 3


@pytest.fixture(scope="module")
def stored(s3_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two runs of project "vision" and one of "audio-lab" in a fresh bucket; the env that reads them."""
    if s3_server.server is None:
        s3_server.start()
    env = {"DARKROOM_STORAGE_URL": f"s3://export-{uuid.uuid4().hex[:12]}/pre",
           "DARKROOM_S3_ENDPOINT_URL": s3_server.endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "DARKROOM_DIR": str(tmp_path_factory.mktemp("runs"))}
    paths: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("DARKROOM_", "AWS_"))]:
            mp.delenv(name)
        for k, v in env.items():
            mp.setenv(k, v)
        for project, name in (("vision", "a"), ("vision", "b"), ("audio-lab", "c")):
            run = darkroom.init(project=project, id=name)
            for step in range(STEPS):
                mask = np.zeros((6, 8), np.uint8)
                mask[:, step:] = 1
                run.log({"val/img": [darkroom.Image(np.full((6, 8, 3), 40 * step + i, np.uint8)) for i in range(2)],
                         "seg": darkroom.Image(np.full((6, 8, 3), 9, np.uint8),
                                               masks={"pred": {"mask_data": mask, "class_labels": {1: "car"}}}),
                         "loss": 1.0 / (step + 1)})
            run.log({"page": darkroom.Html("<p>ok</p>")})
            report = run.finish(quiet=True)
            assert not report.failed and report.converted == STEPS * 3 + 1, report
            paths.append(run.path)
    return {"env": env, "paths": paths}


@pytest.fixture
def s3_env(stored: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in [n for n in os.environ if n.startswith(("DARKROOM_", "AWS_"))]:
        monkeypatch.delenv(name)
    for k, v in stored["env"].items():
        monkeypatch.setenv(k, v)
    return stored["env"]


def export(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, ["export", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def export_json(*args: str) -> dict[str, Any]:
    return json.loads(export(*args, "--json").output)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_artifact_lands_at_its_path_with_the_bytes_the_api_reads(s3_env: dict[str, str], tmp_path: Path) -> None:
    out = export_json("vision/a", str(tmp_path / "out"))
    items = STEPS * 3 + 1
    assert out["runs"] == {"vision/a": {"items": items, "files": items + STEPS,
                                        "manifests": str(tmp_path / "out/vision/a/manifests.jsonl")}}
    assert (out["files"], out["written"], out["skipped"]) == (items + STEPS, items + STEPS, 0)
    reader = darkroom.Api().run("vision/a")
    manifests = lines(tmp_path / "out/vision/a/manifests.jsonl")
    assert [(m["step"], m["key"], m["index"]) for m in manifests] == [
        (m["step"], m["key"], m["index"]) for m in reader.manifests()]
    for m in manifests:
        art = tmp_path / "out" / m["files"]["artifact"]
        assert art.read_bytes() == reader.read(m)
    first = {(m["key"], m["step"], m["index"]): m["files"] for m in manifests}
    assert first[("val/img", 2, 1)] == {"artifact": "vision/a/val%2Fimg/2_1.png"}
    assert first[("seg", 1, 0)] == {"artifact": "vision/a/seg/1_0.png", "mask:pred": "vision/a/seg/1_0.mask%3Apred.png"}
    assert first[("page", STEPS, 0)] == {"artifact": "vision/a/page/3_0.html"}
    mask = reader.read(reader.manifest(1, "seg", 0), role="mask:pred")
    assert (tmp_path / "out/vision/a/seg/1_0.mask%3Apred.png").read_bytes() == mask
    assert not list((tmp_path / "out").rglob("*.part"))


def test_the_selector_kind_key_and_steps_choose_what_is_exported(s3_env: dict[str, str], tmp_path: Path) -> None:
    out = export_json("vision", str(tmp_path / "all"))
    assert sorted(out["runs"]) == ["vision/a", "vision/b"]
    out = export_json("*", str(tmp_path / "keys"), "--key", "val/*", "--steps", "1:")
    assert sorted(out["runs"]) == ["audio-lab/c", "vision/a", "vision/b"]
    assert out["files"] == 3 * (STEPS - 1) * 2
    names = sorted(p.name for p in (tmp_path / "keys/vision/b/val%2Fimg").iterdir())
    assert names == ["1_0.png", "1_1.png", "2_0.png", "2_1.png"]
    out = export_json("audio-lab/c", str(tmp_path / "html"), "--kind", "html")
    assert out["files"] == 1
    assert [m["kind"] for m in lines(tmp_path / "html/audio-lab/c/manifests.jsonl")] == ["html"]


def test_a_rerun_skips_identical_files_and_rewrites_a_changed_one(s3_env: dict[str, str], tmp_path: Path) -> None:
    dest = tmp_path / "out"
    first = export_json("vision/b", str(dest))
    changed = dest / "vision/b/val%2Fimg/0_0.png"
    good = changed.read_bytes()
    changed.write_bytes(good[:-1] + b"\x00")  # same size, other bytes
    (dest / "vision/b/val%2Fimg/1_0.png").unlink()
    again = export_json("vision/b", str(dest))
    assert (again["written"], again["skipped"]) == (2, first["files"] - 2)
    assert changed.read_bytes() == good
    text = export("vision/b", str(dest)).output
    assert f"{first['files']} already there" in text and "0 written" in text


def test_a_selector_that_names_no_run_says_what_a_selector_is(s3_env: dict[str, str], tmp_path: Path) -> None:
    result = export("nope", str(tmp_path / "out"), code=1)
    assert "no run matches 'nope'" in result.output
    assert "SELECTOR is a project, project/run_id or a glob of them" in result.output
    assert not (tmp_path / "out").exists()


def test_a_full_disk_stops_with_what_to_do_and_the_rerun_finishes(s3_env: dict[str, str], tmp_path: Path) -> None:
    dest = tmp_path / "out"
    target = dest / "vision/a/seg/2_0.png"
    target.parent.mkdir(parents=True)
    # /dev/full answers every write with ENOSPC: the kernel's own "no space left on device".
    (target.parent / "2_0.png.part").symlink_to("/dev/full")
    result = export("vision/a", str(dest), "--jobs", "1", code=1)
    assert f"cannot write {target} under DEST {dest}: no space left on the device" in result.output
    assert "Files already copied are kept; run the same command again to resume" in result.output
    assert not target.exists() and not (target.parent / "2_0.png.part").exists()
    assert (dest / "vision/a/seg/1_0.png").exists()  # copied before it, in (step, key, index) order
    again = export_json("vision/a", str(dest))
    assert again["skipped"] > 0 and again["written"] + again["skipped"] == again["files"]
    assert target.read_bytes() == darkroom.Api().run("vision/a").read(darkroom.Api().run("vision/a").manifest(2, "seg", 0))


def _subprocess_env(env: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DARKROOM_", "AWS_"))}
    return {**base, **env}


def test_a_dest_without_permission_is_refused_with_a_clear_message(s3_env: dict[str, str], tmp_path: Path) -> None:
    dest = tmp_path / "locked"
    dest.mkdir(mode=0o555)
    command = [sys.executable, "-m", "darkroom._cli", "export", "vision/a", str(dest)]
    if os.getuid() == 0:  # root writes anywhere: export without the capability that lets it
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    proc = subprocess.run(command, env=_subprocess_env(s3_env), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert f"under DEST {dest}: permission denied; export to a folder you can write" in proc.stderr
    assert "Files already copied are kept; run the same command again to resume" in proc.stderr
    assert list(dest.iterdir()) == []


def test_ctrl_c_leaves_only_whole_files_and_the_rerun_resumes(embedded_env: dict[str, str], tmp_path: Path) -> None:
    run = darkroom.init(project="slow")
    for step in range(4):
        run.log({"img": darkroom.Image(np.full((4, 4, 3), 50 * step, np.uint8))})
    assert run.finish(quiet=True).converted == 4
    reader = darkroom.Api().run(run.path)
    # The artifact of step 2 becomes a FIFO: the export's GET of it blocks, as a slow
    # download does, until this test writes the bytes.  Ctrl-C arrives meanwhile.
    stored = Path(reader.storage.key_of(reader.manifest(2, "img", 0)["artifact"]["uri"]))
    stored = Path(embedded_env["DARKROOM_STORAGE_URL"].removeprefix("file://")) / stored
    data = stored.read_bytes()
    stored.unlink()
    os.mkfifo(stored)
    dest = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "darkroom._cli", "export", "slow", str(dest), "--jobs", "1"],
                            env=_subprocess_env(embedded_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    folder = dest / run.path / "img"
    wait_for(lambda: (folder / "1_0.png").exists() or proc.poll() is not None, "step 1's file, before the FIFO")
    proc.send_signal(signal.SIGINT)
    with open(stored, "wb") as fifo:  # the download in flight completes
        fifo.write(data)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "interrupted: 3 file(s) written; every file under" in err
    assert "Run the same command again to resume." in err
    assert sorted(p.name for p in folder.iterdir()) == ["0_0.png", "1_0.png", "2_0.png"]  # no .part, no step 3
    assert not (dest / run.path / "manifests.jsonl").exists()
    stored.unlink()
    stored.write_bytes(data)
    again = export_json("slow", str(dest))
    assert (again["written"], again["skipped"]) == (1, 3)
    for m in lines(dest / run.path / "manifests.jsonl"):
        assert sha(dest / m["files"]["artifact"]) == m["artifact"]["sha256"]
