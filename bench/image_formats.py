"""Image output formats per input kind: bytes stored and encode time, PNG vs WebP (lossless and lossy) vs JPEG.

The inputs are real pictures shipped inside matplotlib's package data (no
download), and made ones for what a training job also logs:

- photo: `grace_hopper.jpg` (512x600 RGB, decoded), and a 224x224 crop (a
  classifier's input);
- terrain: `jacksboro_fault_dem.npz` as 8-bit gray (a scientific field, a depth map);
- mask: the terrain cut into 6 classes, coloured with a palette (segmentation output);
- plot: a matplotlib line chart rendered at 100 dpi (RGB);
- noise: uniform random 256x256 RGB (the worst case; a GAN's early samples).

Each is encoded as the image converter does (`_encode` in
workers/converters/image.py): PNG (Pillow's default level), WebP lossless,
WebP lossy at quality 90, JPEG at quality 90.  Medians of `--repeat` encodes.

Usage: python bench/image_formats.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np


def inputs() -> dict[str, np.ndarray]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cbook
    from PIL import Image

    photo = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    with cbook.get_sample_data("jacksboro_fault_dem.npz") as dem:
        elevation = dem["elevation"].astype(np.float64)
    terrain = ((elevation - elevation.min()) / np.ptp(elevation) * 255).astype(np.uint8)
    palette = np.array([[0, 0, 0], [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153]],
                       np.uint8)
    mask = palette[np.minimum(terrain // 43, 5)]
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    x = np.linspace(0, 10, 500)
    for k in range(3):
        ax.plot(x, np.sin(x * (k + 1)) * np.exp(-x / 5), label=f"run {k}")
    ax.legend()
    ax.set_title("loss")
    fig.canvas.draw()
    plot = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    return {"photo 512x600": photo, "photo crop 224x224": photo[100:324, 150:374].copy(), "terrain (gray)": terrain,
            "mask (6 colours)": mask, "plot": plot, "noise 256x256": noise}


ENCODINGS = {
    "PNG": {"format": "PNG"},
    "WebP lossless": {"format": "WEBP", "lossless": True},
    "WebP q90": {"format": "WEBP", "quality": 90},
    "JPEG q90": {"format": "JPEG", "quality": 90},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from PIL import Image

    print(f"{'input':22s} {'raw':>9s}  " + "  ".join(f"{name:>22s}" for name in ENCODINGS))
    for name, pixels in inputs().items():
        image = Image.fromarray(pixels)
        cells = []
        for params in ENCODINGS.values():
            times, size = [], 0
            for _ in range(args.repeat):
                buf = io.BytesIO()
                t0 = time.process_time()
                image.save(buf, **params)
                times.append(time.process_time() - t0)
                size = len(buf.getvalue())
            cells.append(f"{size / 1024:8.1f} KiB {statistics.median(times) * 1000:6.1f} ms")
        print(f"{name:22s} {pixels.nbytes / 1024:6.0f} KiB  " + "  ".join(f"{c:>22s}" for c in cells))
    print("sizes in KiB, encode CPU times in ms (medians of process time: load from other programs costs wall time, not these); raw = the .npy payload's pixel bytes")


if __name__ == "__main__":
    main()
