"""DarkroomLogger's media methods hand each item its own caption, masks and boxes, as Lightning's WandbLogger does."""

from __future__ import annotations

import io

import numpy as np
import stored_run
from PIL import Image

from darkroom.integration.lightning import DarkroomLogger


def read_png(reader, manifest, role=None) -> np.ndarray:
    with Image.open(io.BytesIO(reader.read(manifest, role))) as image:
        return np.array(image)


def test_per_image_masks_and_boxes_lists_reach_each_images_manifest(embedded_env):
    images = [np.full((8, 10, 3), 30, np.uint8), np.full((8, 10, 3), 90, np.uint8)]
    masks = [np.zeros((8, 10), np.uint8), np.ones((8, 10), np.uint8)]
    logger = DarkroomLogger(project="lit-media")
    logger.log_metrics({"loss": 1.0}, step=5)
    logger.log_image(  # no step: the last step Lightning gave (5)
        "segmented", images, caption=["first", "second"],
        masks=[{"truth": {"mask_data": m, "class_labels": {1: "thing"}}} for m in masks],
        boxes=[{"pred": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6},
                                       "class_id": i, "box_caption": f"box {i}"}]}} for i in range(2)],
    )
    run = logger.experiment
    report = run.finish(quiet=True)
    assert report.ok, report.failed

    reader = stored_run.reader(run.path)
    (row,) = reader.history()
    assert row["_step"] == 5 and row["loss"] == 1.0
    for i, manifest in enumerate(row["segmented"]):
        assert manifest["caption"] == ["first", "second"][i]
        np.testing.assert_array_equal(read_png(reader, manifest), images[i])
        np.testing.assert_array_equal(read_png(reader, manifest, "mask:truth"), masks[i])
        (box,) = manifest["boxes"]["pred"]["box_data"]
        assert (box["class_id"], box["box_caption"]) == (i, f"box {i}")
