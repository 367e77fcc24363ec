"""DarkroomLogger in real Lightning fits on CPU: metrics at Lightning's steps, media decoded back, rank 0 only."""

from __future__ import annotations

import io

import numpy as np
import pytest

import lightning
import pytorch_lightning as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_only

import darkroom
from darkroom.integration.lightning import DarkroomLogger

PIXELS = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3) * 4


def loader(n: int = 32, batch: int = 8):
    generator = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(n, 4, generator=generator), torch.randn(n, 1, generator=generator))
    return torch.utils.data.DataLoader(data, batch_size=batch)


def module_class(base):
    class Regression(base):
        def __init__(self, lr: float = 0.05):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train/loss", loss)
            if batch_idx == 0:  # media at Lightning's step, as a user's hook logs them
                self.logger.log_image("samples", [PIXELS, torch.from_numpy(PIXELS).permute(2, 0, 1)],
                                      step=self.global_step, caption=["array", "tensor"])
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val/loss", torch.nn.functional.mse_loss(self.net(x), y))

        def on_validation_epoch_end(self):
            if self.trainer.sanity_checking:
                return
            logger = self.logger
            logger.log_table("preds", columns=["epoch", "note"], data=[[self.current_epoch, "ok"]])
            logger.log_text("notes", columns=["text"], data=[[f"epoch {self.current_epoch}"]])
            ramp = np.linspace(0, 1, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4)  # (T, C, H, W)
            logger.log_video("clip", [ramp], fps=[2])
            logger.log_audio("tone", [np.sin(np.linspace(0, 20, 800))], sample_rate=[8000], caption=["sine"])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Regression


def decode(reader, manifest) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(reader.read(manifest))) as image:
        return np.array(image)


def fit(trainer_class, module_base, logger, root, epochs: int = 2):
    trainer = trainer_class(max_epochs=epochs, logger=logger, log_every_n_steps=1, accelerator="cpu",
                            enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(root))
    trainer.fit(module_class(module_base)(), loader(), loader(16))
    return trainer


def test_a_two_epoch_fit_logs_metrics_at_lightnings_steps_and_media_that_decode(embedded_env, tmp_path):
    logger = DarkroomLogger(project="lit", name="fit", config={"data": "random"}, log_model=True)
    trainer = fit(lightning.Trainer, lightning.LightningModule, logger, tmp_path)
    run = logger.experiment
    assert logger.version == run.id and logger.name == "lit"
    report = run.finish(quiet=True)
    assert report.ok and report.pending == 0, report.failed

    reader = darkroom.Api().run(run.path)
    assert reader.info["config"] == {"data": "random", "lr": 0.05}
    rows = {row["_step"]: row for row in reader.scan_history()}
    # 4 batches an epoch: Lightning logs at global steps 0..7; epoch ends at 3 and 7.
    assert sorted(k for k, row in rows.items() if "train/loss" in row) == list(range(8))
    assert sorted(k for k, row in rows.items() if "val/loss" in row) == [3, 7]
    assert all(isinstance(rows[k]["train/loss"], float) for k in range(8))
    for step in (0, 4):
        array, tensor = rows[step]["samples"]
        assert (array["caption"], tensor["caption"]) == ("array", "tensor")
        np.testing.assert_array_equal(decode(reader, array), PIXELS)
        np.testing.assert_array_equal(decode(reader, tensor), PIXELS)
    for step in (3, 7):
        row = rows[step]
        assert reader.table(row["preds"])["data"] == [[step // 4, "ok"]]
        assert reader.table(row["notes"])["data"] == [[f"epoch {step // 4}"]]
        (clip,) = row["clip"]
        assert (clip["artifact"]["frames"], clip["artifact"]["fps"]) == (2, 2)
        (tone,) = row["tone"]
        assert (tone["artifact"]["sample_rate"], tone["artifact"]["samples"], tone["caption"]) == (8000, 800, "sine")
    summary = reader.summary
    assert summary["lightning/status"] == "success"
    assert summary["checkpoint/best_path"] == trainer.checkpoint_callback.best_model_path
    assert summary["checkpoint/best_path"].endswith(".ckpt")


def test_pytorch_lightning_trainers_take_their_own_packages_logger(embedded_env, tmp_path):
    from darkroom.integration.pytorch_lightning import DarkroomLogger as PLLogger

    logger = PLLogger(project="pl")
    assert isinstance(logger, pl.loggers.Logger)
    fit(pl.Trainer, pl.LightningModule, logger, tmp_path, epochs=1)
    run = logger.experiment
    run.finish(quiet=True)
    rows = list(darkroom.Api().run(run.path).scan_history())
    assert [r["_step"] for r in rows if "train/loss" in r] == [0, 1, 2, 3]
    np.testing.assert_array_equal(decode(darkroom.Api().run(run.path), rows[0]["samples"][0]), PIXELS)


def test_ranks_above_zero_make_no_run_and_log_nothing(embedded_env, monkeypatch, tmp_path):
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = DarkroomLogger(project="ranks")
    logger.log_hyperparams({"lr": 1})
    logger.log_metrics({"loss": 1.0}, step=3)
    logger.log_image("x", [PIXELS])
    assert logger.experiment.mode == "disabled" and darkroom.run is None
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()


def test_media_arguments_are_lists_with_one_value_per_item(embedded_env):
    logger = DarkroomLogger(project="args")
    with pytest.raises(TypeError, match=r"log_image: images must be a list \(one per item\); got ndarray"):
        logger.log_image("x", PIXELS)
    with pytest.raises(ValueError, match=r"log_image: caption= has 1 values for 2 images; accepted: one per image"):
        logger.log_image("x", [PIXELS, PIXELS], caption=["only one"])
    with pytest.raises(ValueError, match=r"log_model='best'; accepted: False, True or 'all'"):
        DarkroomLogger(log_model="best")
