"""Should raw payloads be compressed on the sender thread?  Bytes saved vs the thread's time, per input kind.

The sender thread turns each logged array into ``.npy`` bytes, hashes them
(sha256) and writes them to the spool (sdk/_payloads.py, sdk/_spool.py);
the payload is then uploaded, and a worker downloads it.  Compressing would
add one pass on that thread and save bytes in the spool, the upload, S3
and the worker's download.  For each input kind this prints the .npy size,
the time of what the thread does today (serialise + sha256), and for each
codec the compressed size and the time to compress (and, for the worker,
to decompress).  Medians of `--repeat`, CPU time of this process.

Inputs (no download: matplotlib's package data, and made ones):

- photo: `grace_hopper.jpg` (512x600 RGB uint8), and as float32 in [0, 1]
  (what a training loop often holds);
- mask: the terrain of `jacksboro_fault_dem.npz` cut into 6 class ids (uint8);
- noise: uniform random 512x512x3 uint8 (incompressible: the worst case);
- video: 32 frames of 128x128 RGB panning over the photo (a clip as logged).

Codecs: zlib level 1 (the standard library), zstd level 1 (`zstandard`, a
darkroom dependency since this measurement chose it: sdk/_payloads.py) and
LZ4 (frame) when the `lz4` package is installed (not a dependency; the
script says when it skipped it).

Usage: python bench/raw_compression.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import time
import zlib
from collections.abc import Callable

import numpy as np


def inputs() -> dict[str, np.ndarray]:
    from matplotlib import cbook
    from PIL import Image

    photo = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    with cbook.get_sample_data("jacksboro_fault_dem.npz") as dem:
        elevation = dem["elevation"].astype(np.float64)
    mask = np.minimum(((elevation - elevation.min()) / np.ptp(elevation) * 6).astype(np.uint8), 5)
    frames = np.stack([photo[100 + t * 4: 228 + t * 4, 150 + t * 3: 278 + t * 3] for t in range(32)])
    return {"photo uint8": photo, "photo float32": photo.astype(np.float32) / 255, "mask uint8": mask,
            "noise uint8": np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8),
            "video 32x128x128x3": frames}


def codecs() -> tuple[dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]], list[str]]:
    found = {"zlib-1": (lambda b: zlib.compress(b, 1), zlib.decompress)}
    skipped = []
    try:
        import zstandard

        c, d = zstandard.ZstdCompressor(level=1), zstandard.ZstdDecompressor()
        found["zstd-1"] = (c.compress, d.decompress)
    except ImportError:
        skipped.append("zstd (pip install zstandard)")
    try:
        import lz4.frame

        found["lz4"] = (lz4.frame.compress, lz4.frame.decompress)
    except ImportError:
        skipped.append("lz4 (pip install lz4)")
    return found, skipped


def cpu_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        call()
        times.append(time.process_time() - t0)
    return statistics.median(times) * 1000


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    found, skipped = codecs()
    for name, array in inputs().items():
        data = npy(array)
        today = cpu_ms(lambda: hashlib.sha256(npy(array)).digest(), args.repeat)
        print(f"{name:20s} .npy {len(data) / 1024:8.0f} KiB; the thread today (npy + sha256): {today:6.1f} ms")
        for codec, (compress, decompress) in found.items():
            packed = compress(data)
            c_ms = cpu_ms(lambda: compress(data), args.repeat)
            d_ms = cpu_ms(lambda: decompress(packed), args.repeat)
            print(f"    {codec:7s} {len(packed) / 1024:8.0f} KiB ({len(packed) / len(data):5.1%})  compress "
                  f"{c_ms:6.1f} ms (+{c_ms / today:4.0%} on the thread)  decompress {d_ms:5.1f} ms")
    if skipped:
        print("skipped: " + ", ".join(skipped))


if __name__ == "__main__":
    main()
