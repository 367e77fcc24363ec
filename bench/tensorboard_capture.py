"""SummaryWriter.add_image of a 512x512x3 image: time on the training thread with capture on, vs TensorBoard's own call.

The issue's bar: with `darkroom.tensorboard.patch()` and a run open, the
call costs <= 2% of the same call uncaptured (tensorboardX's add_image
encodes a PNG on the calling thread).  One process, one run: the uncaptured
calls are timed first (no run open, so the patched writer is TensorBoard's
own), then the captured ones; medians.  Between calls the loop computes for
~60 ms, as a training step would, so the sender keeps up.  Printed for
tensorboardX (uint8 HWC, the bar) and, as information, torch's writer with a
float CHW tensor.

Usage: python bench/tensorboard_capture.py [--calls 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()

    import tensorboardX
    import torch
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    import darkroom

    darkroom.tensorboard.patch()
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    chw = torch.rand(3, 512, 512)
    weights = rng.standard_normal((384, 384)).astype(np.float32)
    tmp = tempfile.mkdtemp(prefix="darkroom-bench-")
    cases = [("tensorboardX add_image, uint8 HWC", tensorboardX.SummaryWriter(f"{tmp}/tbx"), hwc, "HWC"),
             ("torch add_image, float CHW      ", TorchWriter(f"{tmp}/torch"), chw, "CHW")]

    # Each case its own steps: a run's steps only move forward.
    plain = {name: timed(writer, image, fmt, range(i * args.calls, (i + 1) * args.calls), weights)
             for i, (name, writer, image, fmt) in enumerate(cases)}
    run = darkroom.init(project="bench", dir=f"{tmp}/runs", storage_url=f"file://{tmp}/data")
    captured = {name: timed(writer, image, fmt, range(i * args.calls, (i + 1) * args.calls), weights)
                for i, (name, writer, image, fmt) in enumerate(cases)}
    report = run.finish(quiet=True)
    assert report.converted == 2 * args.calls and not report.failed, report

    for name, *_ in cases:
        before, after = statistics.median(plain[name]), statistics.median(captured[name])
        print(f"{name}: uncaptured median {before * 1e3:7.3f} ms, captured median {after * 1e3:6.3f} ms "
              f"over {args.calls} calls; ratio {after / before:.4f} ({100 * after / before:.2f}%)")
    print("bar: the tensorboardX ratio <= 2%")
    print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores")


def timed(writer, image, fmt: str, steps: range, weights: np.ndarray) -> list[float]:
    times = []
    for step in steps:
        t = time.perf_counter()
        writer.add_image("sample", image, global_step=step, dataformats=fmt)
        times.append(time.perf_counter() - t)
        _train_step(weights)
    return times


def _train_step(weights: np.ndarray, seconds: float = 0.06) -> None:
    end = time.perf_counter() + seconds
    x = weights
    while time.perf_counter() < end:
        x = np.tanh(x @ weights * 0.01)


if __name__ == "__main__":
    main()
