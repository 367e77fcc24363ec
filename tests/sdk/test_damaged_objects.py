"""Issue 16, item 16: one damaged object costs one run, named (object, line); every other run still lists.

The runs are written object by object, as the SDK writes them, then one
object is damaged the way a torn write or a stray edit leaves it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import darkroom
from darkroom._cli import main
from darkroom.pipeline import paths
from darkroom.pipeline.storage import Storage, open_storage
from darkroom.ui.app import make_app

LOCAL = "http://127.0.0.1:8765"  # a loopback Host: a viewer without a token answers no other
TORN = paths.history_chunk_key("vision", "torn", 0)


def _run(storage: Storage, run: str, rows: bytes) -> None:
    storage.put(paths.run_json_key("vision", run), json.dumps(
        {"project": "vision", "run": run, "name": run, "state": "finished",
         "created_at": "2026-12-01T10:00:00.000000Z", "finished_at": "2026-12-01T10:05:00.000000Z"}).encode())
    storage.put(paths.history_chunk_key("vision", run, 0), rows)
    storage.put(paths.summary_key("vision", run), b'{"loss": 0.5}')


@pytest.fixture
def url(tmp_path: Path, clean_env: Path) -> str:
    """Two good runs and one whose history object has a torn second line."""
    url = f"file://{tmp_path / 'data'}"
    storage = open_storage(url)
    good = b'{"_step": 0, "_timestamp": 1764583200.0, "loss": 1.0}\n{"_step": 1, "_timestamp": 1764583201.0, "loss": 0.5}\n'
    _run(storage, "good", good)
    _run(storage, "also-good", good)
    _run(storage, "torn", b'{"_step": 0, "_timestamp": 1764583200.0, "loss": 1.0}\n{"_step": 1, "_timesta')
    return url


def test_item_16_a_torn_history_line_marks_one_run_damaged_and_the_others_list(url: str) -> None:
    with TestClient(make_app(url), base_url=LOCAL) as client:
        response = client.get("/api/runs")
        assert response.status_code == 200, response.text
        runs = {r["run"]: r for r in response.json()["runs"]}
        assert set(runs) == {"good", "also-good", "torn"}
        assert runs["good"]["state"] == runs["also-good"]["state"] == "finished"
        assert "damaged" not in runs["good"]
        torn = runs["torn"]
        assert torn["state"] == "damaged"
        assert (torn["damaged"]["object"], torn["damaged"]["line"]) == (TORN, 2)
        assert torn["damaged"]["error"].startswith(f"damaged object {TORN}, line 2: not JSON")
        assert client.get("/api/runs/vision/good").json()["scalars"]["loss"] == [[0, 1.0], [1, 0.5]]
        detail = client.get("/api/runs/vision/torn")
        assert f"damaged object {TORN}, line 2" in detail.json()["error"]


def test_item_16_a_torn_history_line_is_named_by_darkroom_show_and_status(url: str) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["show", "vision/torn", "--storage", url]).exit_code == 0  # show reads no history
    summary = paths.summary_key("vision", "torn")
    open_storage(url).put(summary, b'{"loss": 0.')
    shown = runner.invoke(main, ["show", "vision/torn", "--storage", url])
    assert shown.exit_code == 1
    assert f"damaged object {summary}: not JSON" in shown.output
    assert isinstance(shown.exception, SystemExit)  # a ClickException's message, no traceback
    assert runner.invoke(main, ["show", "vision/good", "--storage", url]).exit_code == 0
    status = runner.invoke(main, ["status", "--storage", url, "--json"])
    assert status.exit_code == 0, status.output
    runs = {r["run"]: r for r in json.loads(status.output)["runs"]}
    assert runs["vision/good"]["state"] == "finished" and runs["vision/good"]["logged"] == 0
    assert runs["vision/torn"]["state"] == "damaged"
    assert (runs["vision/torn"]["damaged"]["object"], runs["vision/torn"]["damaged"]["line"]) == (TORN, 2)
    table = runner.invoke(main, ["status", "--storage", url])
    assert table.exit_code == 0, table.output
    assert "damaged" in table.output and "vision/good" in table.output


def test_item_16_a_torn_history_line_is_named_by_the_api_and_the_other_runs_read(url: str) -> None:
    from darkroom.pipeline.errors import DamagedObject

    api = darkroom.Api(url)
    assert api.runs() == ["vision/also-good", "vision/good", "vision/torn"]
    assert [row["loss"] for row in api.run("vision/good").scan_history()] == [1.0, 0.5]
    torn = api.run("vision/torn")
    assert torn.summary == {"loss": 0.5}
    with pytest.raises(DamagedObject) as info:
        list(torn.scan_history())
    assert (info.value.key, info.value.line) == (TORN, 2)
    with pytest.raises(DamagedObject, match=f"^damaged object {TORN}, line 2: not JSON"):
        torn.history_row(1)


@pytest.mark.parametrize("damage", [b'{"project": "vision", "ru', b"[1, 2]", b"\xff\xfe"])
def test_a_damaged_run_json_marks_its_run_damaged_and_the_others_list(url: str, damage: bytes) -> None:
    key = paths.run_json_key("vision", "torn")
    open_storage(url).put(key, damage)
    with TestClient(make_app(url), base_url=LOCAL) as client:
        runs = {r["run"]: r for r in client.get("/api/runs").json()["runs"]}
    assert runs["good"]["state"] == "finished"
    assert runs["torn"]["state"] == "damaged" and runs["torn"]["damaged"]["object"] == key


def test_a_history_line_without_a_step_is_damage_too(url: str) -> None:
    from darkroom.pipeline.errors import DamagedObject

    open_storage(url).put(TORN, b'{"_step": 0}\n\n{"loss": 1.0}\n')
    with pytest.raises(DamagedObject, match=f"^damaged object {TORN}, line 3: not a history row"):
        list(darkroom.Api(url).run("vision/torn").scan_history())
