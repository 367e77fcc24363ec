"""add_callbacks(model) driven through Ultralytics' callback events by a trainer built here.

Ultralytics itself cannot run on this machine: it requires torchvision, and
the torchvision on PyPI is a CUDA build that fails to import beside the CPU
torch (and, installed, breaks lightning and transformers).  So the trainer is
an object with the attributes Ultralytics' trainers and validators document
(``args``, ``epoch``, ``tloss``, ``label_loss_items``, ``lr``, ``metrics``,
``plots``, ``save_dir``, ``validator.jdict``...), its events run in the order
``BaseTrainer._do_train`` runs them, with real image and plot files.
"""

from __future__ import annotations

import argparse
import io
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image as PILImage

import darkroom
from darkroom.integration.ultralytics import add_callbacks

NAMES = {0: "cat", 1: "dog"}


class Model:
    """What add_callbacks uses of ultralytics.YOLO: add_callback(event, fn); the trainer runs them."""

    def __init__(self):
        self.callbacks: dict[str, list] = defaultdict(list)

    def add_callback(self, event, fn):
        self.callbacks[event].append(fn)

    def run_callbacks(self, event, trainer):
        for fn in self.callbacks[event]:
            fn(trainer)


def write_png(path: Path, value: int, size=(40, 30)) -> Path:
    PILImage.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path


def trainer_in(tmp_path: Path) -> SimpleNamespace:
    images = [write_png(tmp_path / f"im{i}.png", 50 * i) for i in range(3)]
    validator = SimpleNamespace(plots={}, jdict=[], names=NAMES, class_map=[1, 2],
                                dataloader=SimpleNamespace(dataset=SimpleNamespace(im_files=[str(p) for p in images])))
    return SimpleNamespace(
        args=argparse.Namespace(project=str(tmp_path / "yolo-runs"), name="exp", epochs=2, imgsz=32, save_json=False,
                                data=Path("coco8.yaml")),
        epoch=0, tloss=[0.5, 0.25], lr={"lr/pg0": 0.01, "lr/pg1": 0.01}, metrics={}, plots={}, save_dir=tmp_path,
        validator=validator,
        label_loss_items=lambda losses, prefix="train": {f"{prefix}/box_loss": losses[0], f"{prefix}/cls_loss": losses[1]},
    )


def validate(trainer, epoch: int) -> None:
    """What a validation leaves on the trainer: metrics, a predictions plot, COCO-style predictions."""
    validator = trainer.validator
    plot = write_png(trainer.save_dir / "val_batch0_pred.jpg", 10 * epoch)
    validator.plots = {plot: {"data": None, "timestamp": time.time()}}
    validator.jdict = [
        {"image_id": "im0", "file_name": "im0.png", "category_id": 2, "bbox": [4.0, 3.0, 20.0, 15.0], "score": 0.9},
        {"image_id": "im0", "file_name": "im0.png", "category_id": 1, "bbox": [0.0, 0.0, 8.0, 6.0], "score": 0.4},
        {"image_id": "im1", "file_name": "im1.png", "category_id": 1, "bbox": [10.0, 10.0, 10.0, 10.0], "score": 0.7},
        {"image_id": "im2", "file_name": "im2.png", "category_id": 1, "bbox": [1.0, 1.0, 2.0, 2.0], "score": 0.6},
    ]
    trainer.metrics = {"metrics/mAP50(B)": 0.1 * (epoch + 1), "val/box_loss": 1.0 / (epoch + 1)}


def decode(reader, manifest) -> np.ndarray:
    with PILImage.open(io.BytesIO(reader.read(manifest))) as image:
        return np.array(image)


def test_two_epochs_log_losses_metrics_plots_and_validation_images_with_their_boxes(embedded_env, tmp_path):
    model = add_callbacks(Model(), max_images=2)
    trainer = trainer_in(tmp_path)
    model.run_callbacks("on_pretrain_routine_start", trainer)
    assert trainer.args.save_json is True
    model.run_callbacks("on_pretrain_routine_end", trainer)
    for epoch in range(2):
        trainer.epoch = epoch
        model.run_callbacks("on_train_epoch_end", trainer)
        validate(trainer, epoch)
        model.run_callbacks("on_fit_epoch_end", trainer)
    for name in ("results.png", "confusion_matrix_normalized.png", "BoxPR_curve.png"):
        write_png(tmp_path / name, 200)
    model.run_callbacks("on_train_end", trainer)
    run = darkroom.run
    assert run.project == "yolo-runs" and run.name == "exp"
    report = run.finish(quiet=True)
    assert report.ok and report.pending == 0, report.failed

    reader = darkroom.Api().run(run.path)
    assert reader.info["config"]["epochs"] == 2 and reader.info["config"]["data"] == "coco8.yaml"
    rows = {row["_step"]: row for row in reader.scan_history()}
    assert sorted(rows) == [1, 2]
    for step in (1, 2):
        row = rows[step]
        assert (row["train/box_loss"], row["lr/pg0"], row["metrics/mAP50(B)"]) == (0.5, 0.01, pytest.approx(0.1 * step))
        np.testing.assert_array_equal(decode(reader, row["plots/val_batch0_pred"]), np.full((30, 40, 3), 10 * (step - 1)))
        first, second = row["val/predictions"]  # max_images=2: im0 and im1, not im2
        assert (first["caption"], second["caption"]) == ("im0.png", "im1.png")
        np.testing.assert_array_equal(decode(reader, second), np.full((30, 40, 3), 50, np.uint8))
        dog, cat = first["boxes"]["predictions"]["box_data"]
        assert (dog["class_id"], dog["box_caption"], dog["scores"]) == (1, "dog 0.90", {"conf": 0.9})
        assert dog["position"] == pytest.approx({"minX": 0.1, "maxX": 0.6, "minY": 0.1, "maxY": 0.6})
        assert (cat["class_id"], cat["box_caption"]) == (0, "cat 0.40")
        assert first["boxes"]["predictions"]["class_labels"] == {"0": "cat", "1": "dog"}
    for name in ("plots/results", "plots/confusion_matrix_normalized", "plots/BoxPR_curve"):
        assert rows[2][name]["status"] == "ok" and decode(reader, rows[2][name]).shape == (30, 40, 3)


def test_a_trainer_missing_what_a_hook_reads_warns_and_training_goes_on(embedded_env, tmp_path):
    model = add_callbacks(Model())
    trainer = trainer_in(tmp_path)
    model.run_callbacks("on_pretrain_routine_end", trainer)
    del trainer.tloss
    with pytest.warns(darkroom.DarkroomWarning, match=r"Ultralytics on_train_epoch_end not logged: AttributeError: "):
        model.run_callbacks("on_train_epoch_end", trainer)
    darkroom.run.finish(quiet=True)


def test_only_ultralytics_models_are_accepted():
    with pytest.raises(TypeError, match=r"add_callbacks\(model\) takes an Ultralytics model \(with "
                                        r"add_callback\(event, fn\), .*\); got str"):
        add_callbacks("yolo11n.pt")
