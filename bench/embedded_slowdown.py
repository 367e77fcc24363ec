"""Embedded mode: steps/s of a numpy-bound training loop logging one 512x512 image a step, vs not logging.

The issue's bar: >= 80% of the steps per second without logging, on this
2-core machine.  Each step does ~0.1 s of numpy work (matrix products and
elementwise math); the logging variant adds `run.log({"img": Image, "loss"})`.
Runs alternate (plain, logging, plain, logging, ...) and the ratio uses medians.
Two ratios are printed: the loop alone, and the loop plus `finish()` (which
waits for the last conversions), so a backlog pushed past the loop shows.

The training loop runs its BLAS on one thread by default (--blas-threads 1):
the second core is the embedded worker's.  With both cores given to BLAS the
encoder has no core of its own, and the ratio is bounded by arithmetic, not
by darkroom: a 40 ms encode per step must come out of the loop's CPU.

Usage: python bench/embedded_slowdown.py [--steps 40] [--rounds 3] [--blas-threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

if __name__ == "__main__":
    # BLAS reads its thread count when numpy is imported: set it first.
    _pre = argparse.ArgumentParser(add_help=False)
    _pre.add_argument("--blas-threads", default="1")
    _threads = _pre.parse_known_args()[0].blas_threads
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _threads

import numpy as np  # noqa: E402


def train_step(state: np.ndarray, weights: np.ndarray) -> np.ndarray:
    x = state
    for _ in range(6):
        x = np.tanh(x @ weights * 0.05)
    return x


def loop(steps: int, log: bool, weights: np.ndarray, image: np.ndarray) -> tuple[float, float]:
    import darkroom

    run = None
    if log:
        tmp = tempfile.mkdtemp(prefix="darkroom-bench-")
        run = darkroom.init(project="bench", dir=f"{tmp}/runs", storage_url=f"file://{tmp}/data")
    state = weights.copy()
    start = time.perf_counter()
    for step in range(steps):
        state = train_step(state, weights)
        if run is not None:
            image[step % 512, 0, 0] = step % 256
            run.log({"img": darkroom.Image(image), "loss": float(state[0, 0])})
    loop_time = time.perf_counter() - start
    if run is not None:
        report = run.finish(quiet=True)
        assert report.converted == steps and not report.failed, report
    return loop_time, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blas-threads", default="1", help="BLAS threads of the training loop")
    args = parser.parse_args()
    print(f"BLAS threads of the training loop: {args.blas_threads}")

    rng = np.random.default_rng(0)
    weights = rng.standard_normal((640, 640)).astype(np.float32)
    image = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    t = time.perf_counter()
    train_step(weights, weights)
    print(f"one training step: {1e3 * (time.perf_counter() - t):.0f} ms of numpy work")

    plain, logged, logged_total = [], [], []
    for _ in range(args.rounds):
        p, _ = loop(args.steps, False, weights, image)
        plain.append(args.steps / p)
        l, total = loop(args.steps, True, weights, image)
        logged.append(args.steps / l)
        logged_total.append(args.steps / total)
    base = statistics.median(plain)
    print(f"without logging       {base:6.2f} steps/s  (median of {args.rounds})")
    print(f"logging, loop         {statistics.median(logged):6.2f} steps/s")
    print(f"logging, loop+finish  {statistics.median(logged_total):6.2f} steps/s")
    print(f"ratio (loop)        = {statistics.median(logged) / base:.3f}  (bar: >= 0.80)")
    print(f"ratio (loop+finish) = {statistics.median(logged_total) / base:.3f}")


if __name__ == "__main__":
    main()
