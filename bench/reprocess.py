"""`darkroom reprocess` of 1,000 stored images: time on the caller vs the batch's conversion time.

Redis and a loopback S3 (moto, its own process) are started here; N images
(default 1,000, 512x512 noise, the size of the issue's other fleet bench) are logged and converted by one `darkroom
worker`; then the batch "re-encode them all as JPEG" is planned and sent as
the command does (`pipeline.reprocess.plan` from the index, the batch record,
a Celery group of chunk messages), and followed until every item has its
new revision.

- enqueue: record the batch + send it (a Celery group of chunk messages);
- plan: before that, the index read, the options check and a HEAD per raw payload;
- conversion: from the send until the last item's new manifest is in the index.

The issue's bar: enqueue time on the caller / conversion <= 5%.  The whole
command's time (plan + enqueue) is printed beside it.

Usage: python bench/reprocess.py [--images 1000] [--size 256]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    from _servers import fleet_env, use_env

    workdir = Path(tempfile.mkdtemp(prefix="darkroom-bench-reprocess-"))
    with fleet_env(s3_log=workdir / "s3.log") as env:
        use_env(env)
        import darkroom
        from darkroom import _reprocess
        from darkroom._api import Api
        from darkroom.pipeline.reader import RunReader
        from darkroom.pipeline.reprocess import Selection, progress

        log = open(workdir / "worker.log", "w")
        worker = subprocess.Popen([sys.executable, "-m", "darkroom._cli", "worker", "-Q", "image"],
                                  env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            rng = np.random.default_rng(0)
            run = darkroom.init(project="bench-rp")
            for step in range(args.images):
                run.log({"img": darkroom.Image(rng.integers(0, 255, (args.size, args.size, 3), dtype=np.uint8))})
            report = run.finish(timeout=1800, quiet=True)
            assert report.converted == args.images, report
            print(f"{args.images} images of {args.size}x{args.size} logged and converted", file=sys.stderr)

            api = Api()
            selection = Selection(selector="bench-rp", options={"file_type": "jpg"})
            t0 = time.perf_counter()
            result = _reprocess.make_plan(api.storage, selection)
            t1 = time.perf_counter()
            sent = _reprocess.send(result, selection, api.storage, api.settings, quiet=True)
            t2 = time.perf_counter()
            assert result.item_count == args.images
            batch = {"items": result.items[run.path]}
            reader = RunReader(api.storage, run.project, run.id)
            while progress(batch, reader.entries())["pending"]:
                time.sleep(0.2)
            t3 = time.perf_counter()
            counts = progress(batch, reader.entries())
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    caller, conversion = t2 - t0, t3 - t2
    print(f"batch of {result.item_count} items in {sent['messages']} messages; {counts}")
    print(f"  caller: plan {t1 - t0:.3f} s + record and send {t2 - t1:.3f} s = {caller:.3f} s")
    print(f"  conversion (one worker, its defaults): {conversion:.2f} s")
    print(f"  ratio enqueue (record + send) / conversion = {(t2 - t1) / conversion:.4f}   (bar <= 0.05)")
    print(f"  ratio whole command (plan + enqueue) / conversion = {caller / conversion:.4f}")
    print(f"cores: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
