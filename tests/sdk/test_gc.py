"""`darkroom gc`: raw payloads no longer needed are deleted, nothing else, never one still in flight."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner
from waiting import wait_for

import darkroom
from darkroom._cli import main
from darkroom.pipeline.errors import NotFound
from darkroom.pipeline.settings import Settings
from darkroom.pipeline.storage import open_storage


def cli(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def gc_json(*args: str) -> dict[str, Any]:
    return json.loads(cli("gc", *args, "--json").stdout)  # a warning goes to stderr


def storage() -> Any:
    settings = Settings.from_env()
    return open_storage(settings.resolved_storage_url(), settings)


def objects() -> dict[str, int]:
    return {o.key: o.size for o in storage().list_info("")}


def log_run(project: str, steps: int = 3, finish: bool = True) -> Any:
    run = darkroom.init(project=project)
    for step in range(steps):
        run.log({"img": darkroom.Image(np.full((6, 8, 3), 30 * step + len(project), np.uint8)), "loss": step})
    if finish:
        assert run.finish(quiet=True).converted == steps
    return run


def test_gc_deletes_only_old_raw_payloads_of_converted_items_and_says_what_it_freed(embedded_env: dict[str, str]) -> None:
    run = log_run("keep")
    before = objects()
    raw = {k: n for k, n in before.items() if k.startswith("raw/")}
    assert len(raw) == 3
    young = gc_json("--raw-older-than", "1d")
    assert (young["deleted"], young["freed_bytes"]) == (0, 0)
    assert young["kept"] == {"younger than --raw-older-than": {"payloads": 3, "bytes": sum(raw.values())}}
    old = sorted(raw)[0]
    root = Path(embedded_env["DARKROOM_STORAGE_URL"].removeprefix("file://"))
    stamp = time.time() - 2 * 86400
    os.utime(root / old, (stamp, stamp))
    dry = gc_json("--raw-older-than", "1d", "--dry-run")
    assert (dry["deleted"], dry["would_delete"], dry["would_free_bytes"]) == (0, 1, raw[old])
    assert objects() == before
    text = cli("gc", "--raw-older-than", "1d").output
    assert "warning: --raw-older-than 1d is under 2 days: a job that found a payload stored" in text
    assert f"deleted 1 raw payload(s), {raw[old]:,} B (1 run(s) read, {storage().url})" in text
    assert "kept 2 (" in text and "younger than --raw-older-than" in text
    after = objects()
    assert set(before) - set(after) == {old}  # artifacts, manifests, history, index: all there
    reader = darkroom.Api().run(run.path)
    assert all(m["status"] == "ok" for m in reader.manifests()) and len(reader.manifests()) == 3
    plan = json.loads(cli("reprocess", "keep", "--set", "file_type=jpg", "--dry-run", "--json").output)["plan"]
    assert [u["reason"] for u in plan["unbuildable"]] == [f"raw payload {storage().uri(old)} is no longer in storage"]


def test_finished_only_keeps_what_a_running_run_names(embedded_env: dict[str, str]) -> None:
    done = log_run("done")
    running = log_run("running", finish=False)
    def converted() -> bool:
        try:
            return len(darkroom.Api().run(running.path).manifests()) == 3
        except NotFound:  # its run.json is not stored yet
            return False

    wait_for(converted, "the running run's 3 manifests")
    out = gc_json("--raw-older-than", "0s", "--finished-only")
    assert out["deleted"] == 3
    assert out["kept"]["named by a run that is not finished (--finished-only)"]["payloads"] == 3
    running.finish(quiet=True)
    assert gc_json("--raw-older-than", "0s")["deleted"] == 3
    assert not [k for k in objects() if k.startswith("raw/")]
    assert len(darkroom.Api().run(done.path).manifests()) == 3


def test_gc_racing_a_run_whose_requests_are_queued_deletes_none_of_their_payloads(fleet: Any) -> None:
    run = darkroom.init(project="race")
    for step in range(4):
        run.log({"img": darkroom.Image(np.full((6, 8, 3), 50 * step, np.uint8))})
    # No worker yet: the payloads are stored and the requests wait in Redis, named by no manifest.
    wait_for(lambda: len([k for k in objects() if k.startswith("raw/")]) == 4, "the 4 payloads in S3")
    out = gc_json("--raw-older-than", "0s")
    assert out["deleted"] == 0
    assert out["kept"] == {"named by no manifest (a spooled or in-flight request may name it)":
                           {"payloads": 4, "bytes": out["kept"][next(iter(out["kept"]))]["bytes"]}}
    fleet.start_worker("image")
    report = run.finish(timeout=60, quiet=True)
    assert report.converted == 4 and not report.failed  # nothing lost
    assert gc_json("--raw-older-than", "0s")["deleted"] == 4


def test_an_age_that_is_not_one_says_what_is_accepted(embedded_env: dict[str, str]) -> None:
    result = cli("gc", "--raw-older-than", "30 days", code=1)
    assert "--raw-older-than '30 days' is not an age; accepted: a whole number and a unit s, m, h, d or w" in result.output


def test_a_run_that_logs_an_old_payloads_bytes_again_stores_it_again_so_gc_keeps_it(
        embedded_env: dict[str, str]) -> None:
    first = log_run("again")
    root = Path(embedded_env["DARKROOM_STORAGE_URL"].removeprefix("file://"))
    raw = sorted(k for k in objects() if k.startswith("raw/"))
    stamp = time.time() - 3 * 86400  # stored three days ago, past the sender's day of trust
    for key in raw:
        os.utime(root / key, (stamp, stamp))
    second = log_run("again")  # the very same bytes: the same sha256, the same raw keys
    assert sorted(k for k in objects() if k.startswith("raw/")) == raw
    assert all(time.time() - (root / key).stat().st_mtime < 3600 for key in raw)  # put again: young
    out = gc_json("--raw-older-than", "2d")
    assert out["deleted"] == 0 and out["kept"]["younger than --raw-older-than"]["payloads"] == 3
    assert len(darkroom.Api().run(first.path).manifests()) == len(darkroom.Api().run(second.path).manifests()) == 3
