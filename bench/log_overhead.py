"""Time on the training thread of `run.log` with one 512x512x3 uint8 image, against a PNG encode.

The issue's bar: <= 1% of Pillow's PNG encode of the same image (median of
many calls).  The timed call includes building the `darkroom.Image` (the
snapshot copy) and `log()`.  Between calls the loop computes for ~60 ms
(numpy matrix products, as a training step would), so the sender keeps up
and the memory bound never makes `log()` wait.

Usage: python bench/log_overhead.py [--calls 300]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()

    from PIL import Image as PILImage

    import darkroom

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)

    encode = []
    pil = PILImage.fromarray(image)
    for _ in range(30):
        t = time.perf_counter()
        buf = io.BytesIO()
        pil.save(buf, format="PNG")
        encode.append(time.perf_counter() - t)

    weights = rng.standard_normal((384, 384)).astype(np.float32)
    tmp = tempfile.mkdtemp(prefix="darkroom-bench-")
    run = darkroom.init(project="bench", dir=f"{tmp}/runs", storage_url=f"file://{tmp}/data")
    logs = []
    for step in range(args.calls):
        image[0, 0, 0] = step % 256  # the caller mutates its array: the snapshot must copy
        t = time.perf_counter()
        run.log({"img": darkroom.Image(image), "loss": 1.0 / (step + 1)})
        logs.append(time.perf_counter() - t)
        _train_step(weights)
    report = run.finish(quiet=True)
    assert report.converted == args.calls and not report.failed, report

    png, log = statistics.median(encode), statistics.median(logs)
    print(f"PNG encode (Pillow, 512x512x3)   median {png * 1e3:8.3f} ms over {len(encode)}")
    print(f"log() on the training thread     median {log * 1e3:8.3f} ms over {len(logs)} "
          f"(p90 {statistics.quantiles(logs, n=10)[-1] * 1e3:.3f} ms)")
    print(f"ratio log()/encode = {log / png:.4f}  ({100 * log / png:.2f}%; bar: <= 1%)")


def _train_step(weights: np.ndarray, seconds: float = 0.06) -> None:
    end = time.perf_counter() + seconds
    x = weights
    while time.perf_counter() < end:
        x = np.tanh(x @ weights * 0.01)


if __name__ == "__main__":
    main()
