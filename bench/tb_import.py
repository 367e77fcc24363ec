"""`darkroom import tensorboard` of a log of 1,000 images vs reading it and decoding its images with TensorBoard alone.

A TensorBoard log is written here with the tensorboard package's writer (N
images of SIZE x SIZE, a smooth picture with noise, one a step, with a
scalar beside each).  Redis and a loopback S3 (moto, its own process) are
started, with no worker: the conversion runs on the workers, so the import
is timed up to the moment everything is sent (`--no-wait`), as on a fleet.
Alternating, medians of `--repeat`:

- TensorBoard alone: `EventFileLoader` over the run's event files, and every
  image decoded with Pillow (what reading the log costs anyway);
- import: `darkroom import tensorboard LOGDIR --no-wait` in this process
  (TensorBoard's reader, the media handed to the run's sender, spooled,
  uploaded to S3 and sent to Redis; rows written), each into a fresh project.

The issue's bar: import / TensorBoard alone <= 1.2.

With `--storage file` the payloads go to a folder instead of moto, whose
CPU for each upload is spent on the same two cores as the import.

Usage: python bench/tb_import.py [--images 1000] [--size 256] [--repeat 3] [--storage s3|file]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def write_log(folder: Path, images: int, size: int) -> None:
    from PIL import Image
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 200, size, dtype=np.float32)
    writer = EventFileWriter(str(folder))
    for step in range(images):
        pixels = (ramp[None, :, None] + ramp[:, None, None] * 0.2 + rng.normal(0, 8, (size, size, 3)) + step % 40)
        buf = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buf, "png")
        value = summary_pb2.Summary.Value(tag="samples", image=summary_pb2.Summary.Image(
            height=size, width=size, colorspace=3, encoded_image_string=buf.getvalue()))
        loss = summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))
        writer.add_event(event_pb2.Event(step=step, wall_time=1.7e9 + step,
                                         summary=summary_pb2.Summary(value=[loss, value])))
    writer.close()


def tensorboard_alone(folder: Path) -> int:
    from PIL import Image
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    decoded = 0
    for path in sorted(folder.glob("*tfevents*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "images":
                    for data in tensor_util.make_ndarray(value.tensor)[2:]:
                        Image.open(io.BytesIO(data)).load()
                        decoded += 1
    return decoded


def darkroom_import(logdir: Path, project: str) -> int:
    from click.testing import CliRunner

    from darkroom._cli import main

    result = CliRunner().invoke(main, ["import", "tensorboard", str(logdir), "--project", project, "--no-wait",
                                       "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import json

    (run,) = json.loads(result.output)["runs"]
    return run["counts"]["images"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--storage", choices=("s3", "file"), default="s3",
                        help="s3: moto's server (its own process, on the same cores); file: a folder, "
                        "as workers sharing a disk would use")
    args = parser.parse_args()
    from _servers import fleet_env, use_env

    work = Path(tempfile.mkdtemp(prefix="darkroom-bench-tb-"))
    logdir = work / "logs"
    (logdir / "train").mkdir(parents=True)
    write_log(logdir / "train", args.images, args.size)
    mib = sum(p.stat().st_size for p in (logdir / "train").iterdir()) / 2**20
    print(f"TensorBoard log: {args.images} images of {args.size}x{args.size}, {mib:.1f} MiB", file=sys.stderr)
    times: dict[str, list[float]] = {"TensorBoard alone (read + decode)": [], "darkroom import (--no-wait)": []}
    with fleet_env() as env:
        env["DARKROOM_DIR"] = str(work / "runs")
        if args.storage == "file":
            env["DARKROOM_STORAGE_URL"] = f"file://{work / 'storage'}"
        use_env(env)
        for i in range(args.repeat):
            t0 = time.perf_counter()
            assert tensorboard_alone(logdir / "train") == args.images
            times["TensorBoard alone (read + decode)"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert darkroom_import(logdir, f"bench-{i}") == args.images
            times["darkroom import (--no-wait)"].append(time.perf_counter() - t0)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"{args.images} images of {args.size}x{args.size} ({mib:.1f} MiB of event files), storage {args.storage}, "
          f"medians of {args.repeat}:")
    for name, t in medians.items():
        print(f"  {name:36s} {t:7.2f} s   {args.images / t:7.1f} images/s")
    ratio = medians["darkroom import (--no-wait)"] / medians["TensorBoard alone (read + decode)"]
    print(f"  ratio import / TensorBoard alone = {ratio:.2f}   (bar <= 1.2)")
    print(f"cores: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
