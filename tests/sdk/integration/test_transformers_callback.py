"""DarkroomCallback in a real Trainer run on CPU, with a tiny model built from a config (no weights downloaded)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import darkroom
from darkroom.integration.transformers import REPORT_TO_REGISTERED, DarkroomCallback


class Pairs(torch.utils.data.Dataset):
    def __init__(self, n: int):
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 30, (n, 6), generator=generator)
        self.labels = torch.randint(0, 2, (n,), generator=generator)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def tiny_model():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16, num_labels=2)
    return BertForSequenceClassification(config)


def arguments(tmp_path, **kwargs) -> TrainingArguments:
    return TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=4, per_device_train_batch_size=4,
                             per_device_eval_batch_size=4, logging_steps=1, eval_strategy="steps", eval_steps=2,
                             save_strategy="no", use_cpu=True, disable_tqdm=True, learning_rate=0.01,
                             run_name="tiny", **kwargs)


def embeddings_image(model) -> dict:
    weights = model.bert.embeddings.word_embeddings.weight.detach()
    return {"predictions/embeddings": darkroom.Image(weights[:8].numpy(), caption="first 8 embeddings")}


def decode(reader, manifest) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(reader.read(manifest))) as image:
        return np.array(image)


def test_report_to_darkroom_logs_scalars_at_global_steps_config_eval_metrics_and_predictions(embedded_env, tmp_path):
    assert REPORT_TO_REGISTERED
    trainer = Trainer(model=tiny_model(), args=arguments(tmp_path, report_to="darkroom"),
                      train_dataset=Pairs(16), eval_dataset=Pairs(8))
    (callback,) = [c for c in trainer.callback_handler.callbacks if isinstance(c, DarkroomCallback)]
    callback._predictions = embeddings_image
    trainer.train()
    run = callback.run
    assert run is darkroom.run and run.name == "tiny"
    report = run.finish(quiet=True)
    assert report.ok and report.pending == 0, report.failed

    reader = darkroom.Api().run(run.path)
    config = reader.info["config"]
    assert (config["hidden_size"], config["max_steps"], config["learning_rate"]) == (8, 4, 0.01)
    rows = {row["_step"]: row for row in reader.scan_history()}
    assert sorted(k for k, row in rows.items() if "train/loss" in row) == [1, 2, 3, 4]
    assert sorted(k for k, row in rows.items() if "eval/loss" in row) == [2, 4]
    assert all(isinstance(rows[k]["train/learning_rate"], float) for k in (1, 2, 3, 4))
    assert "train/train_runtime" in rows[4]
    for step in (2, 4):
        manifest = rows[step]["predictions/embeddings"]
        assert manifest["caption"] == "first 8 embeddings" and manifest["artifact"]["width"] == 8
        assert decode(reader, manifest).shape == (8, 8)


def test_callbacks_list_form_and_log_predictions_at_the_last_step(embedded_env, tmp_path):
    callback = DarkroomCallback(project="hf", name="listed")
    trainer = Trainer(model=tiny_model(), args=arguments(tmp_path, report_to="none"), train_dataset=Pairs(16),
                      eval_dataset=Pairs(8), callbacks=[callback])
    trainer.train()
    callback.log_predictions({"sample": darkroom.Image(np.full((3, 5), 200, np.uint8))})
    run = callback.run
    assert run.project == "hf" and run.name == "listed"
    run.finish(quiet=True)
    reader = darkroom.Api().run(run.path)
    (manifest,) = reader.manifests("sample")
    assert manifest["step"] == 4
    np.testing.assert_array_equal(decode(reader, manifest), np.full((3, 5), 200, np.uint8))
    with pytest.raises(TypeError, match=r"log_predictions takes a dict \{key: media\}; got list"):
        callback.log_predictions([darkroom.Image(np.zeros((2, 2)))])
