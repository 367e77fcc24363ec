"""What `--metrics-port` costs a worker: images/s with and without it, in one run, medians.

The issue's bar: the metrics cost a worker <= 2% of its images/s.

Each measurement logs its own noise images (one per step) with no worker
running, then starts one `darkroom worker -Q image` (its defaults, or the
flags given) with or without ``--metrics-port``; the rate is taken between
the manifests' created_at from the 10th to the last (bench/worker_throughput.py,
`steady_window`), so start-up and the enqueue do not count.  Measurements
alternate without / with, and the ratio is of the medians.  While the
metered worker converts, /metrics is scraped every second, as Prometheus
would (every 15 s) but more often, so the scrapes' cost is in the figure.

With ``--storage file`` (the default) storage is a folder, so no S3 server
takes the worker's cores and the per-item cost of the metrics is less
drowned in the test S3 server's noise; ``--storage s3`` uses moto.

Usage: python bench/metrics_cost.py [--images 200] [--rounds 5] [--size 256] [--storage file|s3]
                                    [--flags "--pool prefork -c 1"]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import threading
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cpu import CpuSampler  # noqa: E402
from _servers import fleet_env, free_port, reset_s3, use_env  # noqa: E402
from worker_throughput import pipeline_stamps, steady_window  # noqa: E402

ROLES = {"worker": "darkroom._cli worker", "s3": "moto.server", "redis": "redis-server"}


# What the metrics record for one converted image, timed alone in a process of its own in multiprocess mode
# (as in a worker): one histogram observation, one counter, the payload read, and the artifact, sidecar,
# manifest and index journal written (workers/metrics.py, CountedStorage).
_RECORDING = """
import os, sys, tempfile, time
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()
from darkroom.workers.metrics import WorkerMetrics
m = WorkerMetrics()
n = 20000
start = time.process_time()
for _ in range(n):
    m.conversion_seconds("image", 0.012)
    m.converted.labels("image").inc()
    m.read(196736)
    for size in (150000, 600, 2000, 900):
        m.written(size)
print((time.process_time() - start) / n * 1000)
from prometheus_client import generate_latest
from darkroom.workers.metrics import registry
reg = registry(lambda: 0)
start = time.process_time()
for _ in range(200):
    generate_latest(reg)
print((time.process_time() - start) / 200 * 1000)
"""


class Scraper(threading.Thread):
    """Scrapes a worker's /metrics every second until stopped; counts the scrapes that answered."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.answered, self.stop = port, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5).read()
                self.answered += 1
            except OSError:
                pass  # not serving yet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="images per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="measurements of each (without, with)")
    parser.add_argument("--size", type=int, default=256, help="side of the square noise images")
    parser.add_argument("--storage", choices=["file", "s3"], default="file")
    parser.add_argument("--flags", default="", help="more `darkroom worker` flags, e.g. \"--pool prefork -c 1\"")
    args = parser.parse_args()
    flags = tuple(shlex.split(args.flags))
    seeds = iter(range(1, 1_000_000))

    def noise() -> list[np.ndarray]:
        rng = np.random.default_rng(next(seeds))
        return [rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8) for _ in range(args.images)]

    rates: dict[bool, list[float]] = {False: [], True: []}
    cpu_ms: dict[bool, list[float]] = {False: [], True: []}  # the worker's CPU per image: load-proof
    with fleet_env() as env, CpuSampler(ROLES) as cpu:
        use_env(env)
        workdir = Path(env["DARKROOM_DIR"]).parent
        for round_ in range(args.rounds):
            for metered in (False, True):
                here = env
                if args.storage == "file":
                    here = {**env, "DARKROOM_STORAGE_URL": f"file://{workdir}/data-{round_}-{int(metered)}"}
                    use_env(here)
                else:
                    reset_s3(env)
                extra, scraper = flags, None
                if metered:
                    port = free_port()
                    extra = (*flags, "--metrics-port", str(port))
                    scraper = Scraper(port)
                    scraper.start()
                try:
                    stamps = pipeline_stamps(noise(), here, workdir, extra=extra)
                finally:
                    if scraper is not None:
                        scraper.stop.set()
                start, end, images = steady_window(stamps)
                rate = images / (end - start)
                busy, by_role = cpu.between(start, end)
                other = max(0.0, busy - sum(by_role.values())) / (end - start)
                rates[metered].append(rate)
                cpu_ms[metered].append(1000 * by_role.get("worker", 0.0) / images)
                scraped = f"  ({scraper.answered} scrapes answered)" if scraper else ""
                print(f"  round {round_ + 1}  {'with' if metered else 'without':7s} --metrics-port  "
                      f"{rate:6.1f} images/s  worker CPU {cpu_ms[metered][-1]:5.1f} ms an image  "
                      f"(other processes used {other:.2f} cores){scraped}", flush=True)
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"\n{args.size}x{args.size} noise images through Redis and {args.storage} storage, "
          f"`darkroom worker -Q image {' '.join(flags)}`, {args.images} a measurement, medians of {args.rounds}, "
          f"{os.cpu_count()} cores")
    cpu_without, cpu_with = statistics.median(cpu_ms[False]), statistics.median(cpu_ms[True])
    print(f"  without --metrics-port  {without:6.1f} images/s   worker CPU {cpu_without:5.1f} ms an image")
    print(f"  with    --metrics-port  {with_:6.1f} images/s   worker CPU {cpu_with:5.1f} ms an image  "
          "(scraped every second)")
    print(f"  images/s ratio = {with_ / without:.3f}  (bar: >= 0.98, i.e. the metrics cost <= 2%)")
    print(f"  CPU per image ratio = {cpu_with / cpu_without:.3f}  (the same cost read from CPU time, which other "
          "processes on the machine disturb less than wall time)")
    import subprocess

    recording, scrape = (float(v) for v in subprocess.run([sys.executable, "-c", _RECORDING], capture_output=True,
                                                          text=True, check=True).stdout.split())
    print(f"  recording one image's metrics alone: {1000 * recording:.1f} us of CPU = "
          f"{recording / cpu_without:.2%} of the worker's {cpu_without:.1f} ms an image")
    print(f"  one scrape (summing the process files): {scrape:.2f} ms of CPU; every 15 s (Prometheus's default) "
          f"that is {scrape / 15000:.3%} of a core")


if __name__ == "__main__":
    main()
