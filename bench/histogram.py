"""Time on the training thread of logging a Histogram of 1,000,000 float32 values, vs a bare np.histogram.

The issue's bar: <= 10% of `np.histogram(values, bins=64)`.  The timed call is
`run.log({"h": darkroom.Histogram(values)})`: the caller's thread copies the
values (the caller may change them) and the binning runs on the sender thread.

Usage: python bench/histogram.py [--calls 40]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()

    import darkroom

    values = np.random.default_rng(0).normal(size=1_000_000).astype(np.float32)
    bare = []
    for _ in range(args.calls):
        t = time.perf_counter()
        np.histogram(values, bins=64)
        bare.append(time.perf_counter() - t)

    tmp = tempfile.mkdtemp(prefix="darkroom-bench-")
    run = darkroom.init(project="bench", dir=f"{tmp}/runs", storage_url=f"file://{tmp}/data")
    logged = []
    for step in range(args.calls):
        t = time.perf_counter()
        run.log({"h": darkroom.Histogram(values)})
        logged.append(time.perf_counter() - t)
        np.histogram(values, bins=64)  # the training step's own work: lets the sender keep up
    run.finish(quiet=True)

    b, l = statistics.median(bare), statistics.median(logged)
    print(f"np.histogram(1M float32, 64 bins)   median {b * 1e3:7.3f} ms")
    print(f"log() of a Histogram of the same    median {l * 1e3:7.3f} ms")
    print(f"ratio = {l / b:.3f}  (bar: <= 0.10)")


if __name__ == "__main__":
    main()
