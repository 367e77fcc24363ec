"""The compare page's two speed figures, measured in one run with `darkroom ui` and headless Chromium on loopback.

Four runs of 1,000 steps, each step logging 4 image keys (64x64, every image distinct): the compare page
of the four shows 16 images at a step (4 panels x 4 runs).

(a) First paint: ms from navigation start to the page's `darkroom:compare-painted` mark (every panel's
    cells drawn), a fresh browser context (cold cache) each time.  The bar (issue 14): median <= 1 s.
(b) The page slider moved to a step not shown before (its files never fetched: not cached): ms from the
    slider's input event to all 16 images of that step drawn, measured in the page.  The bar: median <= 300 ms.

Usage: python bench/compare_page.py [--steps 1000] [--opens 5] [--moves 15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _browser import chromium, ui_server  # noqa: E402

RUNS, KEYS = 4, 4
PAINTED = "() => performance.getEntriesByName('darkroom:compare-painted').length > 0"
# Move the page slider to `step` and resolve with the ms until every cell shows it, its image drawn.
MOVE = """async (step) => {
  const slider = document.querySelector('input.page-step');
  const index = [...Array(Number(slider.max) + 1).keys()].find((i) => i === step);
  const t0 = performance.now();
  slider.value = String(index);
  slider.dispatchEvent(new Event('input'));
  const done = () => {
    const cells = [...document.querySelectorAll('.compare-cell')];
    return document.getElementById('app').dataset.step === String(step) && cells.length === %d
      && cells.every((c) => c.dataset.step === String(step) && c.querySelector('canvas.image-canvas[data-ready]'));
  };
  while (!done()) await new Promise((r) => requestAnimationFrame(r));
  return performance.now() - t0;
}""" % (RUNS * KEYS)


def log_runs(steps: int, tmp: str) -> tuple[str, list[str]]:
    """Four finished runs of `steps` steps x 4 image keys; (storage URL, run paths)."""
    import darkroom

    storage = f"file://{tmp}/data"
    paths = []
    t = time.perf_counter()
    for r in range(RUNS):
        rng = np.random.default_rng(r)
        base = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        run = darkroom.init(project="bench", name=f"run-{r}", dir=f"{tmp}/runs", storage_url=storage)
        for step in range(steps):
            row = {"loss": 1.0 / (step + 1 + r)}
            for k in range(KEYS):
                image = base.copy()
                image[step % 64, :, k % 3] = 255 - k  # every image distinct: no converted file is reused
                image[:, step // 64 % 64, (k + 1) % 3] = 255 - k
                row[f"img{k}"] = darkroom.Image(image)
            run.log(row, step=step)
        report = run.finish(quiet=True)
        assert not report.failed and report.pending == 0, report
        paths.append(run.path)
    print(f"  (logged and converted {RUNS} runs x {steps} steps x {KEYS} images in {time.perf_counter() - t:.0f} s)")
    return storage, paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--opens", type=int, default=5)
    parser.add_argument("--moves", type=int, default=15)
    args = parser.parse_args()
    with chromium() as browser, tempfile.TemporaryDirectory(prefix="darkroom-bench-") as tmp:
        storage, paths = log_runs(args.steps, tmp)
        with ui_server(storage) as base:
            url = f"{base}/#/compare?runs={','.join(paths)}"
            paints = []
            for _ in range(args.opens):
                context = browser.new_context()  # a cold cache every time
                page = context.new_page()
                page.goto(url)
                page.wait_for_function(PAINTED, timeout=30_000)
                paints.append(page.evaluate("() => performance.getEntriesByName('darkroom:compare-painted')[0].startTime"))
                context.close()
            context = browser.new_context()
            page = context.new_page()
            files: list[str] = []
            page.on("request", lambda r: files.append(r.url) if "/file?" in r.url else None)
            page.goto(url)
            page.wait_for_function(PAINTED, timeout=30_000)
            steps = random.Random(14).sample(range(args.steps - 1), args.moves)  # never the step shown first
            moves = []
            for step in steps:
                before = len(files)
                moves.append(page.evaluate(MOVE, step))
                assert len(files) - before == RUNS * KEYS, (step, files[before:])  # 16 files fetched: none cached
            context.close()
    paint, move = statistics.median(paints), statistics.median(moves)
    print(f"(a) first paint of the compare page, {RUNS} runs x {args.steps} steps x {KEYS} images: median "
          f"{paint:.0f} ms over {len(paints)} cold opens (min {min(paints):.0f}, max {max(paints):.0f}; bar <= 1000)")
    print(f"(b) page slider to a new step, all {RUNS * KEYS} images drawn: median {move:.0f} ms over {len(moves)} "
          f"moves (min {min(moves):.0f}, max {max(moves):.0f}; bar <= 300); {RUNS * KEYS} files fetched each move")
    print(f"ratios to the bars: (a) {paint / 1000:.2f}  (b) {move / 300:.2f}  (<= 1.00 meets them)")


if __name__ == "__main__":
    main()
