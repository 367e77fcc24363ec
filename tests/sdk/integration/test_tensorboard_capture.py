"""TensorBoard capture: real SummaryWriters (torch's and tensorboardX's) logging into an embedded run."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorboardX  # noqa: E402
import torch  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

import darkroom  # noqa: E402
import darkroom.tensorboard  # noqa: E402

RGB = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)


@pytest.fixture(autouse=True)
def _unpatched():
    yield
    darkroom.tensorboard.unpatch()


def decode(reader, manifest) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(reader.read(manifest))) as image:
        return np.array(image)


def event_tags(log_dir) -> dict[str, list[str]]:
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    events.Reload()
    return events.Tags()


@pytest.mark.parametrize("make_writer", [lambda folder: TorchWriter(log_dir=folder),
                                         lambda folder: tensorboardX.SummaryWriter(logdir=folder)],
                         ids=["torch", "tensorboardX"])
def test_writer_calls_arrive_at_their_steps_and_only_scalars_and_text_reach_the_event_file(
        embedded_env, tmp_path, make_writer):
    run = darkroom.init(project="tb", sync_tensorboard=True)
    writer = make_writer(str(tmp_path / "tb"))
    for step in range(3):
        writer.add_scalar("loss", 1.0 / (step + 1), global_step=step)
        writer.add_image("chw", torch.from_numpy(RGB).permute(2, 0, 1).float() / 255, global_step=step)
        writer.add_text("note", f"step {step}", global_step=step)
    writer.add_images("batch", np.stack([RGB, RGB[::-1]]), global_step=3, dataformats="NHWC")
    writer.add_image("gray", RGB[:, :, 0], global_step=3, dataformats="HW")
    writer.add_scalars("acc", {"train": 0.5, "val": 0.25}, global_step=3)
    writer.add_histogram("weights", np.arange(100.0), global_step=3, bins=10)
    figure = plt.figure(figsize=(1, 1), dpi=20)
    writer.add_figure("figure", figure, global_step=3)
    assert not plt.fignum_exists(figure.number)  # closed, as TensorBoard closes it
    writer.add_video("video", torch.rand(1, 2, 3, 4, 4), global_step=3, fps=2)
    writer.add_audio("audio", torch.sin(torch.linspace(0, 30, 400))[None], global_step=3, sample_rate=8000)
    writer.add_mesh("mesh", torch.rand(1, 5, 3), colors=torch.full((1, 5, 3), 200, dtype=torch.uint8),
                    global_step=3)
    writer.add_pr_curve("pr", np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.6, 0.4]), global_step=3)
    writer.add_embedding(np.eye(3), metadata=["a", "b", "c"], label_img=torch.rand(3, 3, 4, 4), global_step=3,
                         tag="emb")
    writer.add_hparams({"lr": 0.1}, {"hp/score": 0.75}, global_step=3)
    writer.close()
    report = run.finish(quiet=True)
    assert report.ok and report.pending == 0, report.failed

    reader = darkroom.Api().run(run.path)
    rows = {row["_step"]: row for row in reader.scan_history()}
    assert sorted(rows) == [0, 1, 2, 3]
    for step in range(3):
        assert rows[step]["loss"] == pytest.approx(1.0 / (step + 1)) and rows[step]["note"] == f"step {step}"
        np.testing.assert_array_equal(decode(reader, rows[step]["chw"]), RGB)
    last = rows[3]
    assert [decode(reader, m).tolist() for m in last["batch"]] == [RGB.tolist(), RGB[::-1].tolist()]
    np.testing.assert_array_equal(decode(reader, last["gray"]), RGB[:, :, 0])
    assert (last["acc/train"], last["acc/val"], last["hp/score"]) == (0.5, 0.25, 0.75)
    assert last["weights"]["_type"] == "histogram" and sum(last["weights"]["values"]) == 100
    assert len(last["weights"]["values"]) == 10
    assert decode(reader, last["figure"]).shape == (20, 20, 4)
    assert (last["video"]["artifact"]["frames"], last["video"]["artifact"]["fps"]) == (2, 2)
    assert (last["audio"]["artifact"]["sample_rate"], last["audio"]["artifact"]["samples"]) == (8000, 400)
    (mesh,) = last["mesh"]
    assert mesh["status"] == "ok" and mesh["artifact"]["points"] == 5
    assert last["pr"]["status"] == "ok" and last["pr"]["kind"] == "plot"
    table = reader.table(last["emb"])
    assert table["columns"] == ["label", "embedding", "image"]
    assert [row[:2] for row in table["data"]] == [["a", [1.0, 0.0, 0.0]], ["b", [0.0, 1.0, 0.0]],
                                                   ["c", [0.0, 0.0, 1.0]]]
    assert reader.info["config"] == {"lr": 0.1}

    tags = event_tags(tmp_path / "tb")
    assert set(tags["scalars"]) >= {"loss"} and tags["images"] == []
    assert "note/text_summary" in tags["tensors"]


def test_tensorboardx_writes_media_to_the_event_file_when_asked_and_darkroom_gets_each_once(embedded_env, tmp_path):
    run = darkroom.init(project="tbx")
    assert "tensorboardX.SummaryWriter" in darkroom.tensorboard.patch(event_file_media=True)
    writer = tensorboardX.SummaryWriter(logdir=str(tmp_path / "tbx"))
    writer.add_image("hwc", RGB, global_step=5, dataformats="HWC")
    writer.add_figure("figure", plt.figure(figsize=(1, 1), dpi=20), global_step=5)  # its add_figure calls add_image
    writer.add_scalar("loss", 0.5)  # no step: joins the open row
    writer.close()
    run.finish(quiet=True)

    reader = darkroom.Api().run(run.path)
    (row,) = reader.scan_history()
    assert row["_step"] == 5 and row["loss"] == 0.5
    np.testing.assert_array_equal(decode(reader, row["hwc"]), RGB)
    # Sent once each: TensorBoard's add_figure, run for the event file, calls add_image uncaptured.
    assert [(m["key"], m["revision"]) for m in reader.manifests()] == [("figure", 1), ("hwc", 1)]
    assert decode(reader, reader.manifests("figure")[0]).shape == (20, 20, 4)
    assert sorted(event_tags(tmp_path / "tbx")["images"]) == ["figure", "hwc"]


def test_a_call_that_cannot_be_captured_warns_and_the_loop_goes_on(embedded_env, tmp_path):
    run = darkroom.init(project="tbbad", sync_tensorboard=True)
    writer = TorchWriter(log_dir=str(tmp_path / "tb"))
    with pytest.warns(darkroom.DarkroomWarning, match=r"darkroom.tensorboard: add_image\('bad'\) not captured: "
                      r"ValueError: dataformats='CHW' does not fit an array of shape \(6, 8\); accepted: "):
        writer.add_image("bad", RGB[:, :, 0], global_step=0)
    writer.add_scalar("after", 1.0, global_step=1)
    writer.close()
    run.finish(quiet=True)
    rows = list(darkroom.Api().run(run.path).scan_history())
    assert [(r["_step"], r.get("after")) for r in rows] == [(1, 1.0)]


def test_unpatch_restores_tensorboards_methods_and_without_a_run_nothing_is_captured(embedded_env, tmp_path):
    original = TorchWriter.__dict__["add_image"]
    darkroom.tensorboard.patch()
    assert TorchWriter.__dict__["add_image"] is not original
    writer = TorchWriter(log_dir=str(tmp_path / "tb"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        writer.add_image("plain", RGB, global_step=0, dataformats="HWC")  # no run: TensorBoard's own call
    writer.close()
    assert event_tags(tmp_path / "tb")["images"] == ["plain"]
    darkroom.tensorboard.unpatch()
    assert TorchWriter.__dict__["add_image"] is original
    assert tensorboardX.SummaryWriter.add_image.__qualname__ == "SummaryWriter.add_image"
    assert not hasattr(tensorboardX.SummaryWriter.add_image, "__darkroom_original__")
