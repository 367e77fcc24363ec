"""`darkroom import tensorboard` and `darkroom export --format tensorboard`, read back with TensorBoard's reader.

Logs are written with the tensorboard package's own writer (tests/sdk/tb_logs.py),
imported into the embedded default (real workers convert), and exported
again; both sides are read with TensorBoard's `EventFileLoader`.
"""

from __future__ import annotations

import io
import json
import shutil
import wave
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tb_logs
from click.testing import CliRunner
from PIL import Image as PILImage

import darkroom
from darkroom._cli import main


def cli(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def import_json(logdir: Path, *args: str) -> dict[str, Any]:
    return json.loads(cli("import", "tensorboard", str(logdir), "--project", "tb", *args, "--json").output)


def read_back(folder: Path) -> dict[str, Any]:
    """What TensorBoard reads in a run folder: pixels, scalars, text, histograms, audio, wall times by step."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    out: dict[str, Any] = defaultdict(dict)
    walls: dict[int, float] = {}
    for path in sorted(folder.glob("*tfevents*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                array = tensor_util.make_ndarray(value.tensor)
                where = (value.tag, event.step)
                walls[event.step] = max(walls.get(event.step, 0.0), event.wall_time)
                if plugin == "images":
                    for i, data in enumerate(array[2:]):
                        out["images"][(*where, i)] = np.asarray(PILImage.open(io.BytesIO(data)))
                elif plugin == "scalars":
                    out["scalars"][where] = float(array)
                elif plugin == "text":
                    out["text"][where] = array.item().decode()
                elif plugin == "histograms":
                    out["histograms"][where] = array[:, 2].tolist()
                elif plugin == "pr_curves":
                    out["pr_curves"][where] = array.astype(float).tolist()
                elif plugin == "audio":
                    with wave.open(io.BytesIO(array.reshape(-1)[0])) as w:
                        out["audio"][where] = (w.getframerate(), w.readframes(w.getnframes()))
    out["walls"] = walls
    return out


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    tb_logs.mixed_run(root / "exp1")
    tb_logs.mixed_run(root / "nested/exp2", steps=2)
    return root


def test_tensorboard_to_darkroom_to_tensorboard_keeps_every_image_and_value(
        embedded_env: dict[str, str], logdir: Path, tmp_path: Path) -> None:
    out = import_json(logdir)
    assert [r["name"] for r in out["runs"]] == ["exp1", "nested/exp2"]
    first = out["runs"][0]
    assert first["counts"] == {"scalar": 6, "images": 9, "histogram": 3, "audio": 3, "text": 3, "pr_curve": 1,
                               "mesh": 1}
    assert first["skipped"] == {} and first["damaged"] == [] and first["failed"] == []
    assert first["converted"] == 12 + 2  # and the PR curve's table, the mesh's 3-D object
    reader = darkroom.Api().run(first["path"])
    (pr,) = reader.manifests(key="pr")
    table = reader.table(pr)
    assert table["columns"][:3] == ["threshold", "precision", "recall"] and len(table["data"]) == 3
    (shape,) = reader.manifests(key="shape")
    assert (shape["kind"], shape["step"], shape["artifact"]["vertices"], shape["artifact"]["faces"]) == (
        "object3d", 2, 4, 4)
    cli("export", "tb", str(tmp_path / "again"), "--format", "tensorboard")
    for run, source in ((out["runs"][0]["path"], logdir / "exp1"), (out["runs"][1]["path"], logdir / "nested/exp2")):
        before, after = read_back(source), read_back(tmp_path / "again" / run)
        assert before["images"].keys() == after["images"].keys()
        for ident, pixels in before["images"].items():
            assert np.array_equal(after["images"][ident], pixels), ident
        assert after["scalars"] == before["scalars"]  # float32 in, float32 out
        assert after["text"] == before["text"]
        assert after["histograms"] == before["histograms"]
        assert after["audio"] == before["audio"]
        assert after["pr_curves"] == before["pr_curves"] and len(before["pr_curves"]) == 1  # the [6, 3] curve
        assert after["walls"] == before["walls"]  # a step's row keeps its latest wall time


def test_importing_again_duplicates_nothing(embedded_env: dict[str, str], logdir: Path) -> None:
    first = import_json(logdir)
    again = import_json(logdir)
    assert [r["already"] for r in again["runs"]] == [True, True]
    assert [r["path"] for r in again["runs"]] == [r["path"] for r in first["runs"]]
    # The log grows (a new event file of a resumed training): imported again into the same run.
    w = tb_logs.Writer(logdir / "exp1")
    w.add(3, 1_700_000_100.0, tb_logs.scalar("loss", 0.25), tb_logs.image("sample", tb_logs.pixels_of(3, 0)))
    w.close()
    grown = import_json(logdir)
    assert [r["already"] for r in grown["runs"]] == [False, True]
    assert grown["runs"][0]["path"] == first["runs"][0]["path"]
    reader = darkroom.Api().run(first["runs"][0]["path"])
    assert [row["_step"] for row in reader.scan_history(resolve=False)] == [0, 1, 2, 3, 100, 101, 102]
    assert len(reader.manifests()) == 3 * 4 + 2 + 1  # sample, 2 of grid, voice a step; pr, shape; a sample
    assert len(reader.revisions(0, "sample", 0)) == 1
    assert darkroom.Api().runs("tb") == sorted(r["path"] for r in first["runs"])


def test_a_truncated_or_damaged_file_imports_what_it_can_and_names_the_rest(
        embedded_env: dict[str, str], tmp_path: Path) -> None:
    source = tb_logs.mixed_run(tmp_path / "src")
    (event_file,) = source.glob("*tfevents*")
    data = event_file.read_bytes()
    truncated = tmp_path / "logs/truncated" / event_file.name
    damaged = tmp_path / "logs/damaged" / event_file.name
    truncated.parent.mkdir(parents=True)
    damaged.parent.mkdir(parents=True)
    truncated.write_bytes(data[: len(data) * 2 // 3])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(flipped))
    out = import_json(tmp_path / "logs")
    runs = {r["name"]: r for r in out["runs"]}
    for name, size in (("truncated", len(data) * 2 // 3), ("damaged", len(data))):
        (problem,) = runs[name]["damaged"]
        assert problem.startswith(f"{event_file.name}: damaged or truncated record")
        assert problem.endswith(f"of {size}: the rest of the file was skipped")
        assert 0 < runs[name]["counts"]["images"] < 9 and runs[name]["failed"] == []
        reader = darkroom.Api().run(runs[name]["path"])
        assert len(reader.manifests()) == runs[name]["converted"] > 0
    # The files will not change: importing again reads nothing twice.
    result = cli("import", "tensorboard", str(tmp_path / "logs"), "--project", "tb")
    assert f"damaged: already imported as {runs['damaged']['path']}" in result.output


def test_an_event_file_of_an_unknown_version_is_named_and_left_out(embedded_env: dict[str, str], tmp_path: Path) -> None:
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    folder = tmp_path / "logs/future"
    folder.mkdir(parents=True)
    with open(folder / "events.out.tfevents.1.host", "wb") as f:
        writer = RecordWriter(f)
        writer.write(event_pb2.Event(wall_time=1.0, file_version="brain.Event:99").SerializeToString())
        writer.write(event_pb2.Event(step=1, wall_time=2.0, summary=None).SerializeToString())
    out = import_json(tmp_path / "logs")
    (run,) = out["runs"]
    assert run["damaged"] == ["events.out.tfevents.1.host: event file of unknown version 'brain.Event:99'; "
                              "darkroom reads brain.Event:1, brain.Event:2: nothing of it imported"]
    assert run["counts"] == {}


def test_a_logdir_that_is_missing_or_holds_no_event_files_says_what_is_expected(
        embedded_env: dict[str, str], tmp_path: Path) -> None:
    result = cli("import", "tensorboard", str(tmp_path / "nope"), code=1)
    assert f"LOGDIR '{tmp_path / 'nope'}' does not exist; give the folder TensorBoard was started on" in result.output
    (tmp_path / "empty/sub").mkdir(parents=True)
    (tmp_path / "empty/sub/notes.txt").write_text("no events here")
    result = cli("import", "tensorboard", str(tmp_path / "empty"), code=1)
    assert "no event files under" in result.output and "events.out.tfevents.* in each run's folder" in result.output
    shutil.rmtree(tmp_path / "empty")


def test_a_mesh_of_quads_is_named_and_refused_not_read_as_wrong_triangles(
        embedded_env: dict[str, str], tmp_path: Path) -> None:
    vertices, _, colors = tb_logs.TETRAHEDRON
    quads = np.array([[[0, 1, 2, 3], [0, 1, 3, 2], [0, 2, 3, 1]]])  # 12 indices: reshaped, 4 "triangles"
    w = tb_logs.Writer(tmp_path / "logs/quads")
    w.add(0, 1_700_000_000.0, tb_logs.scalar("loss", 1.0), *tb_logs.mesh("shape", vertices, quads, colors))
    w.close()
    (run,) = import_json(tmp_path / "logs")["runs"]
    assert run["damaged"] == ["'shape' at step 0: mesh faces of shape [1, 3, 4]; TensorBoard's meshes are "
                              "[B, N, 3] vertices, [B, F, 3] triangle faces and [B, N, 3] colours"]
    assert run["counts"] == {"scalar": 1} and run["skipped"] == {"mesh refused": 1}


def test_records_are_checked_with_tensorboards_crc_and_a_huge_length_is_refused_before_reading(tmp_path: Path) -> None:
    import os
    import struct

    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    from darkroom._tfevents import EventFile, _fast_masked_crc32c

    fast = _fast_masked_crc32c()
    assert fast is not None  # google-crc32c's C code (the tensorboard extra)
    for n in (0, 1, 7, 8, 1000, 65537):
        data = os.urandom(n)
        assert fast(data) == masked_crc32c(data), n
    # A length whose own CRC is right but that names 1 TiB: refused from the file's size, nothing allocated.
    folder = tmp_path / "huge"
    folder.mkdir()
    length = struct.pack("<Q", 1 << 40)
    (folder / "events.out.tfevents.1.host").write_bytes(length + struct.pack("<I", masked_crc32c(length)) + b"x" * 64)
    events = EventFile(folder / "events.out.tfevents.1.host")
    assert list(events.values()) == []
    assert events.damage == ("damaged or truncated record (a record of 1099511627776 bytes in the 76 left of the "
                             "file) after 0 event(s), at byte 0 of 76: the rest of the file was skipped")


def test_a_weighted_pr_curve_keeps_its_fractional_counts_and_a_plain_one_whole_numbers() -> None:
    from darkroom._tb_import import _pr_table

    weighted = np.array([[2.5, 1.0], [0.5, 0.0], [0.0, 1.5], [1.0, 2.5], [0.8, 1.0], [0.7, 0.3]])
    table = _pr_table(weighted)
    assert table.columns[:4] == ["threshold", "precision", "recall", "true_positives"]
    assert [row[3:] for row in table.data] == [[2.5, 0.5, 0.0, 1.0], [1.0, 0.0, 1.5, 2.5]]
    plain = _pr_table(np.array([[3, 1], [1, 0], [0, 2], [1, 2], [0.75, 1.0], [0.75, 0.33]]))
    assert [row[3:] for row in plain.data] == [[3, 1, 0, 1], [1, 0, 2, 2]]
    assert all(type(c) is int for row in plain.data for c in row[3:])
