"""Reading all of a run's manifests through its compacted index vs listing and reading them one by one.

Builds a run of N manifests (default 100,000: 25,000 steps x 4 images) with its
index as compaction leaves it (8 segments and a journal of the last 16
requests) in a `file://` folder and in a loopback S3 endpoint (moto's server
in its own process), then times:

- indexed: `RunReader.entries()`: every item's newest manifest (its JSON and
  the fields status and reprocess count by), from the index;
- listed: what the reader did before the index: list every manifest object,
  get each one and parse it.

The issue's bar: indexed / listed <= 0.1 on both backends.  Also printed:
`RunReader.manifests()`, every manifest validated into a dict (the index saves
the round trips, not the parsing).

Usage: python bench/manifest_index.py [--items 100000] [--backends file,s3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

PROJECT, RUN = "bench", "index100k"
PER_REQUEST = 4


def manifest(step: int, index: int, storage_url: str) -> dict[str, Any]:
    sha = f"{step:032x}{index:032x}"
    source = {"uri": f"{storage_url}/raw/{sha}.npy", "sha256": sha, "bytes": 786_560,
              "media_type": "application/x-npy"}
    return {
        "schema": "darkroom.manifest/1", "project": PROJECT, "run": RUN, "step": step, "key": "val/examples",
        "index": index, "kind": "image", "revision": 1, "status": "ok", "error": None, "warnings": [],
        "caption": f"example {index} at step {step}", "source": source,
        "artifact": {"uri": f"{storage_url}/media/image/{sha}.png", "sha256": sha, "bytes": 301_234,
                     "format": "png", "media_type": "image/png", "width": 512, "height": 512, "mode": "RGB"},
        "related": [], "boxes": None, "converter": {"name": "image", "version": "1", "options": {
            "file_type": "png", "normalize": True, "mode": None}},
        "batch": None, "created_at": "2026-11-23T01:02:03.456789Z",
        "input": {"options": {}, "item": {"index": index, "source": {**source, "ext": "npy"},
                                          "caption": f"example {index} at step {step}", "related": {},
                                          "extra": {}}},
    }


def build(storage: Any, items: int, threads: int, journal_tail: int = 16) -> float:
    """Write the run's manifests at their keys, and its index as compaction leaves it.

    The index is FANOUT segments holding every manifest but the last
    `journal_tail` requests', which sit in the journal, one object a request, as
    workers write them after a compaction.  (Building it through the journal
    and compactions costs moto's S3 server hours: it sorts every key of the
    bucket on each listing.  The write path's cost is measured by
    bench/scaling_figures.py.)
    """
    from darkroom.pipeline import index, paths

    steps = items // PER_REQUEST
    requests = [[manifest(step, i, storage.url) for i in range(PER_REQUEST)] for step in range(steps)]

    def put_manifests(ms: list[dict[str, Any]]) -> None:
        for m in ms:
            storage.put(paths.manifest_key(PROJECT, RUN, m["step"], m["key"], m["index"]),
                        json.dumps(m, indent=1).encode(), "application/json")

    started = time.perf_counter()
    done = 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(put_manifests, requests):
            done += 1
            if done % 2500 == 0:
                print(f"  built {done * PER_REQUEST:,} / {items:,} manifests", file=sys.stderr, flush=True)
    compacted = requests[:-journal_tail]
    per_segment = -(-len(compacted) // index.FANOUT)
    for n in range(index.FANOUT):
        part = [m for ms in compacted[n * per_segment:(n + 1) * per_segment] for m in ms]
        storage.put(paths.index_segment_key(PROJECT, RUN, 3, f"bench-{n}"), index.encode(part), "text/plain")
    for ms in requests[-journal_tail:]:
        index.append(storage, PROJECT, RUN, ms)
    return time.perf_counter() - started


def measure(storage: Any, items: int, repeats: int) -> dict[str, float]:
    from darkroom.pipeline import paths
    from darkroom.pipeline.reader import RunReader

    def indexed() -> int:
        return len(RunReader(storage, PROJECT, RUN).entries())

    def listed() -> int:
        reader = RunReader(storage, PROJECT, RUN)
        return len([reader.load_manifest(k) for k in reader.listed_manifest_keys().values()])

    def decoded() -> int:
        return len(RunReader(storage, PROJECT, RUN).manifests())

    times: dict[str, list[float]] = {"indexed": [], "listed": [], "decoded": []}
    for _ in range(repeats):
        for name, fn in (("indexed", indexed), ("listed", listed), ("decoded", decoded)):
            t = time.perf_counter()
            count = fn()
            times[name].append(time.perf_counter() - t)
            assert count == items, f"{name} read {count} manifests, expected {items}"
    objects = sum(1 for _ in storage.list(paths.index_prefix(PROJECT, RUN)))
    return {**{k: statistics.median(v) for k, v in times.items()}, "index_objects": objects}


def report(backend: str, build_s: float, m: dict[str, float], items: int) -> None:
    print(f"{backend}: {items:,} manifests (built in {build_s:.0f} s); the index is {m['index_objects']:.0f} objects")
    print(f"  indexed read   {m['indexed']:8.3f} s")
    print(f"  listed + read  {m['listed']:8.3f} s")
    print(f"  ratio indexed / listed = {m['indexed'] / m['listed']:.4f}   (bar <= 0.1)")
    print(f"  every manifest validated into a dict: {m['decoded']:.3f} s "
          f"(ratio {m['decoded'] / m['listed']:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--backends", default="file,s3")
    parser.add_argument("--repeats", type=int, default=3, help="Timed reads of each kind; medians printed.")
    args = parser.parse_args()
    from darkroom.pipeline.settings import Settings
    from darkroom.pipeline.storage import open_storage

    backends = args.backends.split(",")
    if "file" in backends:
        root = tempfile.mkdtemp(prefix="darkroom-bench-index-")
        storage = open_storage(f"file://{root}")
        build_s = build(storage, args.items, threads=4)
        report("file", build_s, measure(storage, args.items, args.repeats), args.items)
    if "s3" in backends:
        from _servers import fleet_env

        with fleet_env() as env:
            settings = Settings.from_env(env)
            storage = open_storage(settings.storage_url, settings)
            build_s = build(storage, args.items, threads=16)
            report("s3 (moto on loopback)", build_s, measure(storage, args.items, 1), args.items)
    print(f"cores: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
