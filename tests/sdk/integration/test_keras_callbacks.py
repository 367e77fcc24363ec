"""Keras 3 callbacks in real fits (KERAS_BACKEND=torch, CPU): metrics at the batch-count steps, a predictions table."""

from __future__ import annotations

import io
import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported: its backend is chosen then

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import darkroom  # noqa: E402
from darkroom.integration.keras import DarkroomEvalCallback, DarkroomMetricsLogger  # noqa: E402

RNG = np.random.default_rng(0)
IMAGES = RNG.random((16, 6, 6, 1)).astype("float32")
LABELS = RNG.integers(0, 3, 16)


def classifier() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(3, "softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def decode(reader, manifest) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(reader.read(manifest))) as image:
        return np.array(image)


def test_a_fit_logs_batch_and_epoch_metrics_and_a_table_of_images_labels_and_predictions(embedded_env):
    assert keras.backend.backend() == "torch"
    model = classifier()
    metrics = DarkroomMetricsLogger(log_freq="batch", project="keras")
    evaluation = DarkroomEvalCallback((IMAGES[:8], LABELS[:8]), ["image", "label"], ["pred"], num_samples=3)
    model.fit(IMAGES, LABELS, batch_size=4, epochs=2, validation_data=(IMAGES[:8], LABELS[:8]), verbose=0,
              callbacks=[metrics, evaluation])
    run = metrics.run
    assert run is darkroom.run and run.project == "keras"
    report = run.finish(quiet=True)
    assert report.ok and report.pending == 0, report.failed

    reader = darkroom.Api().run(run.path)
    rows = {row["_step"]: row for row in reader.scan_history()}
    assert sorted(k for k, row in rows.items() if "batch/loss" in row) == list(range(1, 9))
    assert sorted(k for k, row in rows.items() if "epoch/val_loss" in row) == [4, 8]
    assert (rows[4]["epoch/epoch"], rows[8]["epoch/epoch"]) == (0, 1)
    assert rows[8]["epoch/learning_rate"] == pytest.approx(0.1)
    assert isinstance(rows[8]["epoch/accuracy"], float)
    expected = np.argmax(model.predict(IMAGES[:3], verbose=0), axis=1).tolist()
    for step, epoch in ((4, 0), (8, 1)):
        table = reader.table(rows[step]["eval/predictions"])
        assert table["columns"] == ["epoch", "image", "label", "pred"]
        assert [row[0] for row in table["data"]] == [epoch] * 3
        assert [row[2] for row in table["data"]] == LABELS[:3].tolist()
        if epoch == 1:
            assert [row[3] for row in table["data"]] == expected
        images = reader.manifests("_table/eval/predictions/image", step=step)
        assert [m["index"] for m in images] == [0, 1, 2]
        for manifest, image in zip(images, IMAGES[:3]):
            np.testing.assert_array_equal(decode(reader, manifest), np.rint(image[:, :, 0] * 255).astype(np.uint8))


def test_every_n_batches_and_the_accepted_log_freqs(embedded_env):
    model = classifier()
    metrics = DarkroomMetricsLogger(log_freq=3, project="keras")
    model.fit(IMAGES, LABELS, batch_size=4, epochs=2, verbose=0, callbacks=[metrics])
    metrics.run.finish(quiet=True)
    rows = list(darkroom.Api().run(metrics.run.path).scan_history())
    assert [r["_step"] for r in rows if "batch/loss" in r] == [3, 6]
    assert [r["_step"] for r in rows if "epoch/loss" in r] == [4, 8]
    with pytest.raises(ValueError, match=r"log_freq='often'; accepted: 'epoch', 'batch' or an int > 0"):
        DarkroomMetricsLogger(log_freq="often")
    with pytest.raises(ValueError, match=r"validation_data has 2 inputs and 3 targets; accepted: one target per input"):
        DarkroomEvalCallback((IMAGES[:2], LABELS[:3]))
