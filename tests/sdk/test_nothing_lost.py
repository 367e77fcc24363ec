"""Issue 16's sender items: one bad value, a full disk, a stalled backend or a fork costs nothing else.

Each test is named after its item and fails on the code before the sender was split.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

import darkroom
from tests.waiting import wait_for

def finish_within(run: darkroom.Run, seconds: float) -> darkroom.FinishReport:
    """`run.finish()` on a thread: fail if it has not returned after `seconds` (it must always end)."""
    done: list = []
    thread = threading.Thread(target=lambda: done.append(run.finish(quiet=True)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert done, f"finish() had not returned after {seconds} s"
    return done[0]


def rows_and_images(run: darkroom.Run) -> tuple[list[int], int]:
    reader = darkroom.Api().run(run.path)
    rows = list(reader.scan_history())
    return [r["_step"] for r in rows], sum(1 for m in reader.manifests() if m["status"] == "ok")


# -- item 1: one bad value, and a full disk ---------------------------------------------------


def test_item_1_a_near_constant_histogram_costs_no_other_row_or_image_and_finish_ends(embedded_env):
    run = darkroom.init(project="lost")
    near = np.full(1000, 1.0, np.float32)
    near[0] = np.nextafter(np.float32(1.0), np.float32(2.0))
    for step in range(20):
        values = {"loss": float(step), "img": darkroom.Image(np.full((4, 4), step, np.uint8))}
        if step == 10:
            values.update(weights=near, hist=darkroom.Histogram(np.array([1000, 1000.001], np.float32)))
        run.log(values)
    run.log({"last": darkroom.Histogram(near)})  # as a key's last value too
    report = finish_within(run, 120)
    steps, images = rows_and_images(run)
    assert steps == list(range(21)) and images == 20 and report.ok
    reader = darkroom.Api().run(run.path)
    row = reader.history_row(10)
    assert sum(row["weights"]["values"]) == 1000 and sum(row["hist"]["values"]) == 2
    assert reader.info["state"] == "finished"


@pytest.fixture
def small_disk(tmp_path):
    """A 5 MiB tmpfs: a disk that fills up (as root, which this suite runs as: .ci/run)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_item_1_a_spool_disk_that_fills_up_loses_nothing_says_so_once_and_finish_ends(embedded_env, small_disk):
    run = darkroom.init(project="lost", dir=small_disk)
    rng = np.random.default_rng(1)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        for step in range(30):  # 1 MiB of noise a step: the 5 MiB disk is full after a few
            run.log({"loss": float(step), "img": darkroom.Image(rng.integers(0, 255, (512, 682, 3), np.uint8))})
        report = finish_within(run, 300)
    full = [w for w in said if "cannot write the spool" in str(w.message)]
    assert len(full) == 1, [str(w.message) for w in said]
    steps, images = rows_and_images(run)
    assert steps == list(range(30)) and images == 30 and report.ok


# -- item 2: values JSON cannot hold ------------------------------------------------------------


def test_item_2_unserialisable_values_are_converted_or_refused_and_never_block_delivery(embedded_env):
    run = darkroom.init(project="lost")
    with pytest.warns(darkroom.DarkroomWarning) as said:
        run.log({"c": np.complex128(1 + 2j), "t": np.datetime64("2026-12-02T10:00"),
                 "d": datetime.date(2026, 12, 2), "b": np.bytes_(b"raw"), "big": 10 ** 5000, "ok": 1})
    refused = " ".join(str(w.message) for w in said)
    assert "'b'" in refused and "bytes are not loggable" in refused
    assert "'big'" in refused and "more than 4300 digits" in refused
    for step in range(1, 21):
        run.log({"x": step, "img": darkroom.Image(np.full((2, 2), step, np.uint8))})
    report = finish_within(run, 120)
    steps, images = rows_and_images(run)
    assert steps == list(range(21)) and images == 20 and report.ok
    first = darkroom.Api().run(run.path).history_row(0)
    assert (first["c"], first["t"], first["d"], first["ok"]) == ("(1+2j)", "2026-12-02T10:00", "2026-12-02", 1)
    assert "b" not in first and "big" not in first
    assert darkroom.Api().run(run.path).info["state"] == "finished"


# -- item 3: the spool is written ahead of a stalled backend ------------------------------------


@pytest.fixture
def silent_endpoint():
    """A loopback port that accepts connections and never answers: storage that stalls."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1024)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def spooled_steps(spool_dir: Path) -> tuple[set[int], set[int]]:
    """Steps whose row, and steps whose image, are in the spool on disk."""
    rows, images = set(), set()
    for path in spool_dir.glob("*.json"):  # read as `darkroom sync` would find them after a kill
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if entry["type"] == "history":
            rows.update(r["_step"] for r in entry.get("rows", [entry.get("row")]))
        elif entry["type"] == "convert":
            images.add(entry["request"]["step"])
    return rows, images


def test_item_3_the_spool_is_written_ahead_while_storage_stalls_and_a_kill_loses_nothing(
        clean_env, silent_endpoint, tmp_path):
    script = textwrap.dedent("""
        import sys, time, numpy as np, darkroom
        run = darkroom.init(project="stall")
        print(run.dir, flush=True)
        for step in range(300):
            run.log({"x": step, "img": darkroom.Image(np.full((8, 8), step % 256, np.uint8))})
            time.sleep(0.005)  # the training step: logging goes on while the sender waits on storage
        print("LOGGED", flush=True)
        sys.stdin.read()  # wait to be killed
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DARKROOM_", "AWS_"))}
    env.update(DARKROOM_STORAGE_URL="s3://stalled-bucket/p", DARKROOM_S3_ENDPOINT_URL=silent_endpoint,
               AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", DARKROOM_DIR=str(tmp_path / "runs"))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    try:
        run_dir = Path(proc.stdout.readline().strip())
        assert proc.stdout.readline().strip() == "LOGGED"
        # Every step on disk long before the stalled storage's 60 s read timeout could free a thread.
        wait_for(lambda: spooled_steps(run_dir / "spool") == (set(range(300)), set(range(300))),
                 "all 300 rows and images in the spool", timeout=10)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    data = tmp_path / "data"
    synced = subprocess.run([sys.executable, "-m", "darkroom._cli", "sync", str(run_dir), "--json",
                             "--storage-url", f"file://{data}"], env={**env, "DARKROOM_S3_ENDPOINT_URL": ""},
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    [report] = json.loads(synced.stdout)
    assert report["converted"] == 300 and report["pending"] == 0
    reader = darkroom.Api(storage_url=f"file://{data}").run(f"stall/{run_dir.name}")
    assert [r["x"] for r in reader.scan_history()] == list(range(300))


# -- item 7: a forked child -----------------------------------------------------------------------


def test_item_7_a_forked_child_neither_finishes_nor_touches_its_parents_run(embedded_env, tmp_path):
    script = textwrap.dedent("""
        import json, os, sys, time, numpy as np, darkroom
        run = darkroom.init(project="fork")
        for step in range(3):
            run.log({"img": darkroom.Image(np.full((4, 4), step, np.uint8))})
        assert run._sender.flush(timeout=60)  # the embedded workers and their marks folder exist now
        pid = os.fork()
        if pid == 0:
            run.log({"from_child": 1, "img": darkroom.Image(np.ones((4, 4), np.uint8))})  # warns once, keeps nothing
            sys.exit(0)  # a normal exit: atexit handlers run in the child
        started = time.monotonic()
        _, status = os.waitpid(pid, 0)
        child_seconds = time.monotonic() - started
        for step in range(3, 6):
            run.log({"img": darkroom.Image(np.full((4, 4), step, np.uint8))})
        report = run.finish(quiet=True)
        print(json.dumps({"child_status": status, "child_seconds": child_seconds, "converted": report.converted,
                          "pending": report.pending, "failed": len(report.failed), "path": run.path}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["child_status"] == 0 and out["child_seconds"] < 30
    assert (out["converted"], out["pending"], out["failed"]) == (6, 0, 0)
    assert done.stderr.count("was forked from the one that started run") == 1
    rows = list(darkroom.Api().run(out["path"]).scan_history())
    assert not any("from_child" in r for r in rows)


# -- item 8: nothing escapes into the training loop ----------------------------------------------


def test_item_8_values_nested_too_deep_or_containing_themselves_warn_and_never_raise(embedded_env):
    run = darkroom.init(project="lost")
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    loop: dict = {}
    loop["self"] = loop
    with pytest.warns(darkroom.DarkroomWarning, match="nested deeper than 64"):
        run.log({"deep": deep, "loop": loop, "fine": 1})
    with pytest.raises(ValueError, match="more than 4300 digits"):  # refused where it is set, as a bad key is
        run.summary["huge"] = 10 ** 5000
    report = finish_within(run, 120)
    assert report.ok
    reader = darkroom.Api().run(run.path)
    assert reader.history_row(0) == {**reader.history_row(0), "fine": 1}
    assert "huge" not in reader.summary and reader.info["state"] == "finished"


# -- item 9: a chart's bound before its inputs are copied ------------------------------------------


def test_item_9_a_chart_over_the_bound_is_refused_before_its_inputs_are_copied():
    y_true = np.zeros(2_000_000, np.int64)
    scores = np.zeros((2_000_000, 10), np.float64)  # 160 MB
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"20000000 values; the bound is 10000000 \(DARKROOM_MAX_TABLE_CELLS\)"):
            darkroom.plot.roc_curve(y_true, scores)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, f"{peak} bytes allocated before the refusal"


# -- item 5: what the worker would refuse is refused at log() ------------------------------------


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"n": value}
    return value


def test_item_5_an_item_the_worker_would_refuse_is_refused_at_log_and_finish_ends(embedded_env):
    run = darkroom.init(project="bounds")
    pixels = np.zeros((4, 4, 3), np.uint8)
    masks = {f"m{i}": {"mask_data": np.zeros((4, 4), np.uint8)} for i in range(65)}
    bad = {"long": darkroom.Image(pixels, caption="x" * 10_001),
           "surrogate": darkroom.Image(pixels, caption="a\ud800"),
           "masks": darkroom.Image(pixels, masks=masks),
           "deep": darkroom.Image(pixels, boxes={"p": {"box_data": [], "meta": nested(500)}}),
           "key\udc80": darkroom.Image(pixels)}
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        run.log({**bad, "good": darkroom.Image(pixels)})
    refused = [str(w.message) for w in said if "not logged" in str(w.message)]
    assert len(refused) == len(bad), refused
    report = finish_within(run, 120)
    assert (report.converted, report.pending, report.failed) == (1, 0, [])


# -- item 6: one missing spool payload -------------------------------------------------------------


def test_item_6_a_missing_spool_payload_fails_its_item_and_sync_sends_the_rest(embedded_env):
    from darkroom._sync import sync_run

    run = darkroom.init(project="lost", mode="offline")
    for step in range(3):
        run.log({"img": darkroom.Image(np.full((4, 4), step, np.uint8))})
    run.finish(quiet=True)
    spool = run.dir / "spool"
    first = min(spool.glob("*.json"), key=lambda p: p.name)
    entries = sorted(spool.glob("*.json"))
    convert = next(json.loads(p.read_text()) for p in entries if json.loads(p.read_text())["type"] == "convert")
    gone = spool / "payloads" / convert["payloads"][0]["name"]
    gone.unlink()
    done: list = []
    thread = threading.Thread(target=lambda: done.append(sync_run(run.dir, quiet=True)), daemon=True)
    thread.start()
    thread.join(120)
    assert done, f"darkroom sync had not ended after 120 s ({first.name} and after were waiting)"
    report = done[0]
    assert report.converted == 2 and report.pending == 0
    [failure] = report.failed
    assert failure.code == "missing_payload" and str(gone) in failure.message


# -- item 14: sync trusts no spool ----------------------------------------------------------------


def test_item_14_sync_checks_a_crafted_spool_like_a_message(embedded_env, tmp_path):
    from darkroom._sync import sync_run
    from darkroom.pipeline.errors import ConfigError

    run = darkroom.init(project="crafted", mode="offline")
    run.log({"img": darkroom.Image(np.zeros((4, 4), np.uint8))})
    run.finish(quiet=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    evil = tmp_path / "evil-storage"
    spool = run.dir / "spool"
    for path in spool.glob("*.json"):  # name a payload outside the spool, and add a key outside the run
        entry = json.loads(path.read_text())
        if entry["type"] == "convert":
            entry["payloads"].append({"name": "../../../../../../" + str(victim).lstrip("/"), "media_type": "x"})
            path.write_text(json.dumps(entry))
    (spool / "999999999999.json").write_text(json.dumps(
        {"type": "object", "seq": 999999999999, "key": f"runs/crafted/{run.id}/../../../escaped.json",
         "body": "{}"}))
    local = json.loads((run.dir / "run.json").read_text())
    (run.dir / "run.json").write_text(json.dumps({**local, "storage_url": f"file://{evil}"}))
    os.environ.pop("DARKROOM_STORAGE_URL")
    with pytest.raises(ConfigError, match="--trust-spool-storage"):
        sync_run(run.dir, quiet=True)
    good = tmp_path / "good-storage"
    done: list = []
    with pytest.warns(darkroom.DarkroomWarning, match=r"spool entry 999999999999 .* was dropped: storage key"):
        thread = threading.Thread(target=lambda: done.append(sync_run(run.dir, quiet=True, storage_url=f"file://{good}")),
                                  daemon=True)
        thread.start()
        thread.join(120)
    assert done, "darkroom sync had not ended after 120 s"
    report = done[0]
    assert report.converted == 1 and report.ok
    assert victim.read_text() == "keep me"
    assert not evil.exists() and not list(tmp_path.rglob("escaped.json"))
