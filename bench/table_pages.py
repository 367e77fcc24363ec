"""A 200,000-row table in the viewer: time of a page, a sort and a filter, the server's memory, and the
stored form (darkroom.table/2, JSON chunks) against Parquet, measured in one run.

(a) Over HTTP against `darkroom ui` (file:// storage on this disk, loopback): the first page (25 rows),
    a sort by a number column and by a string column, a filter (range + contains) with a sort.
    Medians of `--repeats` requests.  The bars (issue 14): first page <= 500 ms, a sort <= 1 s.
(b) Memory: the peak of Python allocations (tracemalloc) while one page is answered in-process,
    against reading the whole table (the first form's way: every row in memory), same run.
(c) The stored form: the same rows as darkroom.table/2 and as Parquet (pyarrow, row groups of 1,000,
    columns read selectively): bytes, write time, first page, and a sorted page, in-process.  Parquet is
    measured only when pyarrow is installed (`pip install pyarrow`); darkroom does not depend on it.

Usage: python bench/table_pages.py [--rows 200000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _browser import ui_server  # noqa: E402

COLUMNS = ["id", "score", "name", "flag", "meta"]


def make_rows(n: int) -> list[list[Any]]:
    rng = random.Random(14)
    names = ["cat", "dog", "bird", "fish", "horse"]
    return [[i, round(rng.uniform(0, 100), 4), f"{names[i % 5]}-{rng.randrange(10_000)}", i % 3 == 0,
             {"fold": i % 5}] for i in range(n)]


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def log_table(rows: list[list[Any]], root: Path) -> tuple[str, str, float]:
    """Log the table with the embedded default; (storage URL, run path, seconds to log and convert)."""
    import os

    url = f"file://{root / 'data'}"
    os.environ.update({"DARKROOM_STORAGE_URL": url, "DARKROOM_DIR": str(root / "runs")})
    import darkroom

    start = time.perf_counter()
    run = darkroom.init(project="bench", name="table")
    run.log({"t": darkroom.Table(columns=COLUMNS, data=rows)})
    report = run.finish(quiet=True)
    if report.failed or report.converted != 1:
        sys.exit(f"the table did not convert: {report}")
    return url, run.path, time.perf_counter() - start


def over_http(url: str, path: str, repeats: int) -> dict[str, float]:
    project, run = path.split("/")
    queries = {
        "first page": "offset=0&limit=25",
        "sort by a number": "sort=1&order=desc&offset=0&limit=25",
        "sort by a string": "sort=2&offset=1000&limit=25",
        "filter + sort": "filter=1:ge:20&filter=1:lt:60&filter=2:contains:cat&sort=1&limit=25",
    }
    out = {}
    with ui_server(url) as base:
        for name, query in queries.items():
            target = f"{base}/api/runs/{project}/{run}/table/page?key=t&step=0&{query}"
            json.loads(urllib.request.urlopen(target).read())  # the first request: imports, nothing else
            out[name] = median_ms(lambda: json.loads(urllib.request.urlopen(target).read()), repeats)
    return out


def memory(url: str, path: str) -> dict[str, float]:
    import darkroom
    from darkroom.pipeline.table_store import Filter, StoredTable

    reader = darkroom.Api(url).run(path)
    (manifest,) = reader.manifests(key="t")

    def peak(fn: Callable[[], Any]) -> float:
        tracemalloc.start()
        fn()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top / 1e6

    return {
        "first page": peak(lambda: StoredTable.open(reader, manifest).page(0, 25)),
        "sort by a number": peak(lambda: StoredTable.open(reader, manifest).page(0, 25, sort=1, descending=True)),
        "filter + sort": peak(lambda: StoredTable.open(reader, manifest).page(
            0, 25, sort=1, filters=[Filter.parse("1:ge:20"), Filter.parse("2:contains:cat")])),
        "whole table (baseline)": peak(lambda: StoredTable.open(reader, manifest).whole()),
    }


def formats(rows: list[list[Any]], url: str, path: str, repeats: int) -> dict[str, dict[str, float]]:
    import darkroom
    from darkroom.pipeline.table_schema import check_row
    from darkroom.pipeline.table_store import StoredTable, encode

    types: dict[str, str] = {}
    for row in rows:
        check_row(COLUMNS, types, row)
    start = time.perf_counter()
    header, files = encode(COLUMNS, types, rows)
    written = time.perf_counter() - start
    reader = darkroom.Api(url).run(path)
    (manifest,) = reader.manifests(key="t")
    out = {"JSON chunks": {
        "MB": (len(header) + sum(len(f.data) for f in files)) / 1e6, "write s": written,
        "first page ms": median_ms(lambda: StoredTable.open(reader, manifest).page(0, 25), repeats),
        "sorted page ms": median_ms(lambda: StoredTable.open(reader, manifest).page(0, 25, sort=1), repeats)}}
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:
        return out
    start = time.perf_counter()
    table = pa.table({
        "id": [r[0] for r in rows], "score": [r[1] for r in rows], "name": [r[2] for r in rows],
        "flag": [r[3] for r in rows], "meta": [json.dumps(r[4]) for r in rows]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=1000)
    written = time.perf_counter() - start
    data = buffer.getvalue()

    def first_page() -> list[list[Any]]:
        part = pq.ParquetFile(io.BytesIO(data)).read_row_group(0).slice(0, 25)
        return [list(r.values()) for r in part.to_pylist()]

    def sorted_page() -> list[list[Any]]:
        f = pq.ParquetFile(io.BytesIO(data))
        ids = pc.sort_indices(f.read(columns=["score"]), sort_keys=[("score", "ascending")])[:25].to_pylist()
        size = f.metadata.row_group(0).num_rows
        groups = sorted({i // size for i in ids})
        got = {}
        for g in groups:
            part = f.read_row_group(g).to_pylist()
            for i in ids:
                if i // size == g:
                    got[i] = list(part[i - g * size].values())
        return [got[i] for i in ids]

    assert [r[1] for r in sorted_page()] == [r[1] for r in StoredTable.open(reader, manifest).page(0, 25, sort=1)["data"]]
    out["Parquet (pyarrow)"] = {"MB": len(data) / 1e6, "write s": written,
                                "first page ms": median_ms(first_page, repeats),
                                "sorted page ms": median_ms(sorted_page, repeats)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rows = make_rows(args.rows)
    with tempfile.TemporaryDirectory(prefix="darkroom-table-bench-") as tmp:
        url, path, logged = log_table(rows, Path(tmp))
        print(f"{args.rows} rows x {len(COLUMNS)} columns logged and converted in {logged:.1f} s")
        print("\n(a) darkroom ui over HTTP, median ms (bars: first page <= 500, a sort <= 1000)")
        for name, ms in over_http(url, path, args.repeats).items():
            print(f"  {name:<20} {ms:8.1f}")
        print("\n(b) peak Python memory answering in-process, MB")
        mem = memory(url, path)
        for name, mb in mem.items():
            print(f"  {name:<24} {mb:8.1f}")
        print(f"  sort / whole table: {mem['sort by a number'] / mem['whole table (baseline)']:.2f}; "
              f"first page / whole table: {mem['first page'] / mem['whole table (baseline)']:.3f}")
        print("\n(c) stored form, in-process")
        measured = formats(rows, url, path, args.repeats)
        for name, figures in measured.items():
            print(f"  {name:<18} " + "  ".join(f"{k} {v:.2f}" for k, v in figures.items()))
        if len(measured) == 1:
            print("  Parquet: not measured, pyarrow is not installed (pip install pyarrow to compare)")
        else:
            ours, parquet = measured["JSON chunks"], measured["Parquet (pyarrow)"]
            print(f"  JSON chunks / Parquet: bytes {ours['MB'] / parquet['MB']:.2f}, "
                  f"sorted page time {ours['sorted page ms'] / parquet['sorted page ms']:.2f}")


if __name__ == "__main__":
    main()
