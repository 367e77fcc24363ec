"""Two `darkroom worker` processes vs one, 512x512 noise images end to end through Redis and S3.

The issue's bar: 2 worker processes on this 2-core machine convert >= 1.7x
the images per second of one.

What "a worker process" is matters here.  `darkroom worker -Q image` defaults
to one process with a thread pool of two threads a core (4 here), and
Pillow's PNG encoder releases the GIL, so that one process already keeps
both cores busy; a second one on the same machine has no core to add.  The
process that is one core's worth is `--pool prefork -c 1`: one encoding
child, which waits for storage between encodes.  Each configuration is
compared with itself, 1 process vs 2 processes with the same flags:

- ``prefork1``: `darkroom worker -Q image --pool prefork -c 1` (the bar's case);
- ``defaults``: `darkroom worker -Q image` (threads, -c 4 on 2 cores);
- ``threads1``: `darkroom worker -Q image --pool threads -c 1` (on request).

The producer is kept out of the measurement: each measurement logs its images
(one per step) and enqueues all of them with no worker running, then starts
the worker process(es), and its rate is taken between manifests' created_at
from the 10th to the last (bench/worker_throughput.py, `steady_window`), so
process start-up, imports and the enqueue do not count.  Every measurement
gets its own images (identical ones would be served from the artifact
cache) and an emptied S3 server.  Runs alternate 1, 2, 1, 2, ... and the
ratio is of the medians.

The S3 endpoint (moto's server, one Python process) and Redis run on the same
two cores as the workers, and so does whatever else runs on the machine.
Each measurement prints the cores the machine had busy in its window, the
part other processes took, and the CPU milliseconds per image of the
workers, the S3 server and Redis (bench/_cpu.py), so a ratio can be read
against the CPU it had.

With ``--storage file`` the same measurement runs with storage in a folder
the processes share (as a fleet on a shared file system would), so no S3
server takes the workers' cores: that isolates how the workers themselves
scale from the test S3 server's CPU, which a real fleet does not pay.

Usage: python bench/worker_scaling.py [--images 200] [--rounds 3] [--settings prefork1,defaults]
                                      [--storage s3|file]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cpu import CpuSampler  # noqa: E402
from _servers import fleet_env, reset_s3, use_env  # noqa: E402
from worker_throughput import pipeline_stamps, steady_window  # noqa: E402

# name -> (per-process concurrency, extra `darkroom worker` flags, how it reads)
SETTINGS: dict[str, tuple[int | None, tuple[str, ...], str]] = {
    "prefork1": (1, ("--pool", "prefork"), "darkroom worker -Q image --pool prefork -c 1"),
    "defaults": (None, (), "darkroom worker -Q image   (defaults: --pool threads, -c 2 x cores)"),
    "threads1": (1, ("--pool", "threads"), "darkroom worker -Q image --pool threads -c 1"),
}
ROLES = {"worker": "darkroom._cli worker", "s3": "moto.server", "redis": "redis-server"}


class Measurement:
    """One measurement's rate and the CPU its processes used in the steady-state window."""

    def __init__(self, stamps: list[float], cpu: CpuSampler):
        start, end, self.images = steady_window(stamps)
        self.seconds = end - start
        self.rate = self.images / self.seconds
        busy, by_role = cpu.between(start, end)
        self.cores_busy = busy / self.seconds  # the whole machine, other users included
        # Cores used by processes not started by this benchmark (other users of the machine).
        self.cores_other = max(0.0, busy - sum(by_role.values())) / self.seconds
        self.ms_per_image = {role: 1000 * by_role.get(role, 0.0) / self.images for role in ROLES}

    def line(self) -> str:
        per = "  ".join(f"{role} {ms:3.0f}" for role, ms in self.ms_per_image.items())
        return (f"{self.rate:5.1f} images/s  busy {self.cores_busy:.2f} of {os.cpu_count()} cores "
                f"({self.cores_other:.2f} by other processes)  CPU ms an image: {per}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="images per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each (settings, processes)")
    parser.add_argument("--settings", default="prefork1,defaults",
                        help=f"comma-separated, of: {', '.join(SETTINGS)}")
    parser.add_argument("--storage", choices=["s3", "file"], default="s3",
                        help="s3: moto's server on this machine; file: a shared folder, no S3 server")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.settings.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SETTINGS]
    if unknown:
        parser.error(f"unknown settings {unknown}; known: {', '.join(SETTINGS)}")

    seeds = iter(range(1, 1_000_000))

    def noise() -> list[np.ndarray]:
        rng = np.random.default_rng(next(seeds))
        return [rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) for _ in range(args.images)]

    runs: dict[tuple[str, int], list[Measurement]] = {(s, n): [] for s in chosen for n in (1, 2)}
    with fleet_env() as env, CpuSampler(ROLES) as cpu:
        use_env(env)
        workdir = Path(env["DARKROOM_DIR"]).parent
        for round_ in range(args.rounds):
            for name in chosen:
                concurrency, extra, _ = SETTINGS[name]
                for processes in (1, 2):
                    here = env
                    if args.storage == "file":
                        here = {**env, "DARKROOM_STORAGE_URL": f"file://{workdir}/data-{round_}-{name}-{processes}"}
                        use_env(here)
                    else:
                        reset_s3(env)
                    stamps = pipeline_stamps(noise(), here, workdir, concurrency=concurrency,
                                             workers=processes, extra=extra)
                    m = Measurement(stamps, cpu)
                    runs[(name, processes)].append(m)
                    print(f"  round {round_ + 1}  {name:8s} {processes} process{'es' if processes > 1 else '  '} "
                          f"{m.line()}", flush=True)
    where = "S3 (moto; it and Redis share the machine's cores)" if args.storage == "s3" else \
        "a shared folder (no S3 server; Redis shares the machine's cores)"
    print(f"\n512x512 noise images, log -> manifest through Redis and {where}, {args.images} a measurement, "
          f"medians of {args.rounds}, {os.cpu_count()} cores")
    noisy = False
    for name in chosen:
        print(SETTINGS[name][2])
        medians = {}
        for n in (1, 2):
            medians[n] = statistics.median(m.rate for m in runs[(name, n)])
            other = statistics.median(m.cores_other for m in runs[(name, n)])
            noisy |= other > 0.1
            print(f"  {n} process{'es' if n > 1 else '  '} {medians[n]:6.1f} images/s   "
                  f"(other processes used {other:.2f} cores, median)")
        print(f"  ratio = {medians[2] / medians[1]:.2f}  (bar: >= 1.7)")
    if noisy:
        print("\nThe machine was not quiet (other processes used over 0.1 core in a median measurement): "
              "the rates and ratios above measure that load as much as darkroom.  Run again on a quiet machine.")


if __name__ == "__main__":
    main()
