"""`darkroom demo`: a small numpy-only training loop that logs scalars, images and every other type.

It fits a tiny "detector" to synthetic scenes: each scene is a gradient
background with one bright rectangle; the model predicts the rectangle's box
from the image and gets better over the steps, so the logged boxes converge
onto the ground truth.
"""

from __future__ import annotations

import numpy as np

SIZE = 96
CLASSES = {1: "square", 2: "wide", 3: "tall"}


def scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float], int]:
    """An RGB float image in [0,1], its class mask, its true box (fractions) and class id."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    image = np.stack([0.2 + 0.3 * x, 0.2 + 0.3 * y, 0.4 * np.ones_like(x)], axis=-1)
    cls = int(rng.integers(1, 4))
    w = rng.uniform(0.15, 0.3) * (1.6 if cls == 2 else 1.0)
    h = rng.uniform(0.15, 0.3) * (1.6 if cls == 3 else 1.0)
    x0, y0 = rng.uniform(0.05, 0.95 - w), rng.uniform(0.05, 0.95 - h)
    box = (x0, x0 + w, y0, y0 + h)
    inside = (x >= box[0]) & (x < box[1]) & (y >= box[2]) & (y < box[3])
    image[inside] = [0.95, 0.85, 0.2]
    image += rng.normal(0, 0.02, image.shape)
    mask = np.where(inside, cls, 0).astype(np.uint8)
    return np.clip(image, 0, 1), mask, box, cls


def features(image: np.ndarray) -> np.ndarray:
    """Row and column profiles of brightness: what the linear model sees."""
    bright = image.mean(axis=-1)
    return np.concatenate([bright.mean(axis=0), bright.mean(axis=1), [1.0]])


def run_demo(steps: int = 50, every: int = 5, project: str = "demo", **init_args: object) -> object:
    """Train for `steps`, log every step's loss and, every `every` steps, 4 examples;
    the last step also logs one value of every other media type."""
    import darkroom

    rng = np.random.default_rng(0)
    weights = np.zeros((2 * SIZE + 1, 4))
    lr = 0.02
    run = darkroom.init(project=project, config={"lr": lr, "steps": steps, "image_size": SIZE}, **init_args)
    for step in range(steps):
        batch = [scene(rng) for _ in range(16)]
        x = np.stack([features(img) for img, _, _, _ in batch])
        target = np.array([box for _, _, box, _ in batch])
        pred = x @ weights
        error = pred - target
        loss = float((error ** 2).mean())
        weights -= lr * x.T @ error / len(batch)
        row: dict[str, object] = {"loss": loss, "lr": lr}
        if step % every == 0 or step == steps - 1:
            row["examples"] = [
                darkroom.Image(
                    img, caption=f"step {step} sample {i}",
                    boxes={
                        "predictions": {"box_data": [_box(pred[i], cls, score=max(0.0, 1 - abs(error[i]).sum()))],
                                        "class_labels": CLASSES},
                        "ground_truth": {"box_data": [_box(box, cls)], "class_labels": CLASSES},
                    },
                    masks={"ground_truth": {"mask_data": mask, "class_labels": CLASSES}},
                )
                for i, (img, mask, box, cls) in enumerate(batch[:4])
            ]
        if step == steps - 1:
            row.update(_every_other_type(batch, pred, weights, rng))
        run.log(row)
    run.summary["final_loss"] = loss
    return run


def _every_other_type(batch: list, pred: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> dict[str, object]:
    """One value of every other media type, made from the last step's scenes."""
    import darkroom

    frames = np.stack([img for img, _, _, _ in batch]).transpose(0, 3, 1, 2)  # (T, C, H, W) floats in [0,1]
    truth = np.array([cls for _, _, _, cls in batch])
    widths, heights = np.abs(pred[:, 1] - pred[:, 0]), np.abs(pred[:, 3] - pred[:, 2])
    guessed = np.where(widths > 1.25 * heights, 2, np.where(heights > 1.25 * widths, 3, 1))
    table = darkroom.Table(columns=["sample", "class", "guess", "image"])
    for i, (img, _, _, cls) in enumerate(batch[:4]):
        table.add_data(i, CLASSES[cls], CLASSES[int(guessed[i])], darkroom.Image(img))
    t = np.linspace(0, 1, 8000, endpoint=False)
    chirp = 0.4 * np.sin(2 * np.pi * (220 + 440 * t) * t).astype(np.float32)
    cloud = np.concatenate([rng.normal(0, 1, (2000, 3)), rng.integers(1, 4, (2000, 1))], axis=1)
    return {
        "scenes": darkroom.Video(frames, fps=4, format="gif", caption="the last batch"),
        "scenes_mp4": darkroom.Video(frames, fps=4, format="mp4"),
        "chirp": darkroom.Audio(chirp, sample_rate=8000, caption="a chirp"),
        "weights": darkroom.Histogram(weights),
        "predictions": table,
        "notes": darkroom.Html("<h1>darkroom demo</h1><p>A linear box regressor on synthetic scenes.</p>"),
        "aspirin": darkroom.Molecule.from_smiles("CC(=O)Oc1ccccc1C(=O)O", caption="aspirin"),
        "cloud": darkroom.Object3D(cloud, caption="2,000 points in 3 categories"),
        # Classes are numbered from 1 in the scenes, from 0 in a confusion matrix.
        "confusion": darkroom.plot.confusion_matrix(y_true=(truth - 1).tolist(), preds=(guessed - 1).tolist(),
                                                    class_names=[CLASSES[c] for c in sorted(CLASSES)]),
    }


def _box(box: np.ndarray | tuple[float, ...], cls: int, score: float | None = None) -> dict[str, object]:
    # An untrained model predicts boxes anywhere; keep them on the image so the
    # early examples show a (bad) box rather than fail validation.
    lo_x, hi_x, lo_y, hi_y = (min(0.98, max(0.0, float(v))) for v in box)
    hi_x, hi_y = max(hi_x, lo_x + 0.02), max(hi_y, lo_y + 0.02)
    out: dict[str, object] = {
        "position": {"minX": min(lo_x, hi_x), "maxX": max(lo_x, hi_x), "minY": min(lo_y, hi_y), "maxY": max(lo_y, hi_y)},
        "class_id": cls,
        "box_caption": CLASSES[cls],
    }
    if score is not None:
        out["scores"] = {"confidence": round(score, 3)}
    return out
