"""`darkroom export --format files` of 1,000 stored images from S3 vs reading them one by one with the read API.

A loopback S3 (moto's server, its own process) is started here; N images
(default 1,000 of 128x128 noise, logged as lists of 16 by the SDK and
converted by its embedded workers) are stored; then, alternating, medians of
`--repeat` runs, each into a fresh folder:

- one by one: ``r = Api().run(path); for m in r.manifests(): write(r.read(m))``,
  the loop a user writes today (also printed: the reads alone, no writes);
- export: what `darkroom export SELECTOR DEST` does: plan from the index,
  then `--jobs` GETs in flight, each checked against its sha256 and renamed
  into place, and the run's manifests.jsonl.

The issue's bar: one by one / export >= 5.

moto is one Python process on the same cores as this one, and spends a few
milliseconds of CPU on each GET, so on a 2-core machine threads can only
overlap about half of a request.  A real S3 answers from elsewhere, and a
GET's time is mostly the round trip.  `--latency-ms L` puts a loopback proxy
before moto that holds each connection L ms before forwarding it (minio's
client opens one per request here: moto answers `Connection: close`): the
round trip of an S3 endpoint in the same region is about 10-30 ms.

Usage: python bench/export_files.py [--images 1000] [--size 128] [--jobs 16] [--latency-ms 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def delaying_proxy(target_port: int, latency: float) -> int:
    """A loopback TCP proxy to `target_port` that waits `latency` s before forwarding each connection; its port."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(256 * 1024):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def serve(client: socket.socket) -> None:
        time.sleep(latency)
        upstream = socket.create_connection(("127.0.0.1", target_port))
        back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        back.start()
        pipe(client, upstream)
        back.join()
        client.close()
        upstream.close()

    def accept() -> None:
        while True:
            client, _ = listener.accept()
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1]


def one_by_one(path: str, dest: Path, write: bool) -> int:
    import darkroom

    r = darkroom.Api().run(path)
    count = 0
    for m in r.manifests():
        data = r.read(m)
        if write:
            target = dest / f"{m['step']}_{m['index']}.{m['artifact']['format']}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        count += 1
    return count


def export(selector: str, dest: Path, jobs: int) -> int:
    from darkroom._api import Api
    from darkroom.pipeline import export as exporting
    from darkroom.pipeline.reprocess import Selection

    api = Api()
    selection = Selection(selector=selector, status="ok")
    count = 0
    for project, run in exporting.selected_runs(api.storage, selection):
        plan = exporting.plan_run(api.storage, project, run, selection)
        copied = exporting.copy_files(api.storage, plan.files, dest, jobs)
        exporting.write_manifests(dest, plan)
        count += copied.written
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from _servers import fleet_env, use_env

    work = Path(tempfile.mkdtemp(prefix="darkroom-bench-export-"))
    with fleet_env() as env:
        env = {k: v for k, v in env.items() if k != "DARKROOM_BROKER_URL"}  # embedded workers convert
        env["DARKROOM_DIR"] = str(work / "runs")
        use_env(env)
        import darkroom

        rng = np.random.default_rng(0)
        run = darkroom.init(project="bench-export")
        per_step = 16
        for step in range(args.images // per_step + (args.images % per_step > 0)):
            n = min(per_step, args.images - step * per_step)
            run.log({"img": [darkroom.Image(rng.integers(0, 255, (args.size, args.size, 3), dtype=np.uint8))
                             for _ in range(n)]})
        report = run.finish(timeout=1800, quiet=True)
        assert report.converted == args.images and not report.failed, report
        print(f"{args.images} images of {args.size}x{args.size} noise stored in moto's S3", file=sys.stderr)
        if args.latency_ms:
            port = int(env["DARKROOM_S3_ENDPOINT_URL"].rsplit(":", 1)[1])
            os.environ["DARKROOM_S3_ENDPOINT_URL"] = f"http://127.0.0.1:{delaying_proxy(port, args.latency_ms / 1000)}"

        times: dict[str, list[float]] = {"one by one (read + write)": [], "one by one (read only)": [], "export": []}
        for i in range(args.repeat):
            for name in times:
                dest = work / f"out-{i}-{name.split()[0]}-{len(times[name])}"
                t0 = time.perf_counter()
                if name == "export":
                    count = export(run.path, dest, args.jobs)
                else:
                    count = one_by_one(run.path, dest, write="write" in name)
                times[name].append(time.perf_counter() - t0)
                assert count == args.images, (name, count)
                shutil.rmtree(dest, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"{args.images} images of {args.size}x{args.size}, jobs={args.jobs}, latency={args.latency_ms:g} ms, "
          f"medians of {args.repeat}:")
    for name, t in medians.items():
        print(f"  {name:28s} {t:7.2f} s   {args.images / t:7.1f} images/s")
    ratio = medians["one by one (read + write)"] / medians["export"]
    print(f"  ratio one by one (read + write) / export = {ratio:.2f}   (bar >= 5)")
    print(f"  ratio one by one (read only) / export = {medians['one by one (read only)'] / medians['export']:.2f}")
    print(f"cores: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
