"""Where a worker's CPU goes per image beyond the PNG encode, against moto's S3 server.

`bench/worker_throughput.py` prints the worker's CPU ms per image against a
bare Pillow encode (issue 17's goal: <= 1.15x).  This script says where the
difference goes: it converts N 512x512x3 noise images with the worker's own
code (`process_message`, in this process, through the in-process dispatch)
against moto's S3 server, under cProfile, and prints each step's CPU share
per image.  It leaves out what only a Celery worker process adds (the task
protocol, Redis crash marks: 3 commands an item), which
`bench/worker_throughput.py` counts in its totals.

Usage: python bench/worker_breakdown.py [--images 60]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import fleet_env, use_env  # noqa: E402

# (label, the functions whose cumulative time it is: file suffix, function name).
STEPS = [
    ("PNG encode (Pillow)", [("PIL/Image.py", "save")]),
    ("raw payload: S3 GET", [("storage/s3.py", "_get")]),
    ("raw payload: sha256 check", [("workers/artifacts.py", "fetch")]),
    ("artifact + sidecar: S3 PUTs", [("workers/artifacts.py", "store_output")]),
    ("manifest: S3 PUT", [("workers/conversion.py", "_write")]),
    ("index journal: S3 PUT", [("pipeline/index.py", "append")]),
    ("request decode (pydantic)", [("workers/conversion.py", "process_message")]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    args = parser.parse_args()

    with fleet_env() as env:
        use_env(env)
        from darkroom._dispatch import InProcessDispatch
        from darkroom._payloads import MediaWork
        from darkroom._sender import Sender
        from darkroom._spool import Spool
        from darkroom.pipeline.settings import Settings
        from darkroom.pipeline.storage import open_storage
        import darkroom

        settings = Settings.from_env()
        storage = open_storage(settings.storage_url, settings)
        dispatch = InProcessDispatch(storage, settings)
        spool_dir = Path(env["DARKROOM_DIR"]) / "spool"
        sender = Sender("bench", "breakdown", settings, Spool(spool_dir, fsync=False), dispatch=dispatch)
        rng = np.random.default_rng(0)
        for step in range(args.images):
            image = darkroom.Image(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))._as_logged("img", step)._with_settings(settings)
            sender.put(MediaWork(step, "img", "image", [image]))
        assert sender.flush(timeout=120), "the requests did not reach the in-process dispatch"
        dispatch.run_worker()  # one warm-up round: imports, the bucket, connections
        for step in range(args.images, 2 * args.images):
            image = darkroom.Image(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))._as_logged("img", step)._with_settings(settings)
            sender.put(MediaWork(step, "img", "image", [image]))
        assert sender.flush(timeout=120)

        profile = cProfile.Profile(time.thread_time)
        cpu = time.thread_time()
        profile.enable()
        converted = dispatch.run_worker()
        profile.disable()
        cpu = time.thread_time() - cpu
        sender.close(timeout=10)

    stats = pstats.Stats(profile).stats  # {(file, line, name): (cc, nc, tottime, cumtime, callers)}
    saves = sum(v[1] for (file, _, name), v in stats.items() if file.endswith("PIL/Image.py") and name == "save")
    if saves < converted:
        sys.exit(f"only {saves} of {converted} images were encoded: the others failed (a bench of nothing)")
    per_image = 1e3 / converted
    print(f"{converted} images converted in this process: {cpu * per_image:.1f} CPU ms per image")
    accounted = 0.0
    for label, functions in STEPS:
        seconds = sum(v[3] for (file, _, name), v in stats.items()
                      if any(file.endswith(f) and name == n for f, n in functions))
        if label.startswith("raw payload: sha256"):  # fetch() holds the GET: count only what it adds
            seconds -= sum(v[3] for (file, _, name), v in stats.items() if file.endswith("storage/s3.py")
                           and name == "_get")
        if label.startswith("request decode"):  # everything under process_message is the rest: skip here
            continue
        accounted += seconds
        print(f"  {label:32s} {seconds * per_image:6.1f} ms")
    print(f"  {'the rest (decode, checks, glue)':32s} {(cpu - accounted) * per_image:6.1f} ms")


if __name__ == "__main__":
    main()
