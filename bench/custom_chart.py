"""Time on the training thread of `run.log({"c": darkroom.plot.line(table, "x", "y")})` for a
10,000-point table, vs matplotlib rendering the same line to PNG.

The issue's bar: <= 5% of the matplotlib render.  The timed call makes the
chart (copies the two drawn columns: the caller may change the table) and
logs it; serialising, storing and checking run on the sender thread and the
worker, and the viewer draws it.  The table is built once, outside the timing,
as a training script builds it.

Usage: python bench/custom_chart.py [--calls 30] [--points 10000]
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
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--points", type=int, default=10_000)
    args = parser.parse_args()

    import darkroom
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xs = np.arange(args.points)
    ys = np.cumsum(np.random.default_rng(0).normal(size=args.points))
    table = darkroom.Table(columns=["x", "y"], data=np.stack([xs, ys], axis=1))

    rendered = []
    for _ in range(args.calls):
        t = time.perf_counter()
        fig = Figure(figsize=(6.4, 4.8), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(xs, ys)
        ax.set_title("loss")
        fig.savefig(io.BytesIO(), format="png")
        rendered.append(time.perf_counter() - t)

    tmp = tempfile.mkdtemp(prefix="darkroom-bench-")
    run = darkroom.init(project="bench", dir=f"{tmp}/runs", storage_url=f"file://{tmp}/data")
    logged = []
    for _ in range(args.calls):
        t = time.perf_counter()
        run.log({"c": darkroom.plot.line(table, "x", "y", title="loss")})
        logged.append(time.perf_counter() - t)
        time.sleep(0.02)  # the training step's own time: lets the sender keep up, as in training
    report = run.finish(quiet=True)
    assert report.failed == [], report.failed

    r, l = statistics.median(rendered), statistics.median(logged)
    print(f"matplotlib line of {args.points} points to PNG   median {r * 1e3:8.3f} ms")
    print(f"log() of plot.line of the same table        median {l * 1e3:8.3f} ms")
    print(f"ratio = {l / r:.3f}  (bar: <= 0.05)")


if __name__ == "__main__":
    main()
