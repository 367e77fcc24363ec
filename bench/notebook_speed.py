"""A notebook's cells: `import darkroom`, then `init()` + `finish()` of a run with no media, and of
a run with three small images, each in a fresh Python process (as a notebook kernel starts).

The issue's bar: a run with no media starts and finishes in <= 0.3 s (median), printed beside
`import darkroom` alone; a run with media waits only for its own conversions (the embedded
worker's start and three PNG encodes).  Embedded default, storage in a temporary folder.

Usage: python bench/notebook_speed.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CELL = r"""
import json, sys, time
t0 = time.perf_counter()
import darkroom
import numpy as np
t1 = time.perf_counter()
run = darkroom.init(project="notebook")
run.log({"loss": 0.5})
run.finish(quiet=True)
t2 = time.perf_counter()
run = darkroom.init(project="notebook")
for i in range(3):
    run.log({"img": darkroom.Image(np.random.default_rng(i).random((64, 64, 3))), "loss": 1.0 / (i + 1)})
report = run.finish(quiet=True)
t3 = time.perf_counter()
assert report.converted == 3, report
print(json.dumps({"import": t1 - t0, "no_media": t2 - t1, "media": t3 - t2}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="darkroom-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DARKROOM_", "AWS_"))}
    env.update(DARKROOM_STORAGE_URL=f"file://{tmp}/data", DARKROOM_DIR=f"{tmp}/runs")
    figures: dict[str, list[float]] = {"import": [], "no_media": [], "media": []}
    for _ in range(args.runs + 1):
        done = subprocess.run([sys.executable, "-c", CELL], env=env, capture_output=True, text=True, check=True)
        for name, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
            figures[name].append(value)
    med = {name: statistics.median(values[1:]) for name, values in figures.items()}  # the first run warms caches
    print(f"import darkroom                          median {med['import'] * 1e3:7.1f} ms")
    print(f"init() + finish(), no media               median {med['no_media'] * 1e3:7.1f} ms  (bar: <= 300 ms)")
    print(f"init() + 3 x log(Image) + finish()        median {med['media'] * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
