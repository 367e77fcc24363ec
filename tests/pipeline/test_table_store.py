"""A table stored in chunks (darkroom.table/2) answers pages, sorts and filters as a plain
Python reference does, reads only what a page needs, and the first form answers the same."""

from __future__ import annotations

import json
import random

import pytest

import darkroom
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.reader import RunReader
from darkroom.pipeline.table_store import FORMAT, Filter, StoredTable

COLUMNS = ["id", "score", "name", "ok", "meta"]
ROWS = 2_500  # three chunks of 1,000


def _rows() -> list[list]:
    rng = random.Random(7)
    names = ["cat", "dog", "Cat", "bird", "zebra", "éclair"]
    return [[i, None if i % 17 == 0 else round(rng.uniform(-5, 5), 3), None if i % 23 == 0 else rng.choice(names),
             rng.random() < 0.3, {"i": i}] for i in range(ROWS)]


class _CountingReader(RunReader):
    """A run reader that records which files (and byte ranges) it read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.reads: list[tuple] = []

    def read(self, entry, role=None):
        self.reads.append((role,))
        return super().read(entry, role)

    def stream(self, entry, role=None, start=0, end=None):
        self.reads.append((role, start, end))
        return super().stream(entry, role, start, end)


@pytest.fixture(scope="module")
def logged(tmp_path_factory, embedded_in):
    rows = _rows()
    with embedded_in(tmp_path_factory.mktemp("tables")):
        run = darkroom.init(project="tables")
        run.log({"t": darkroom.Table(columns=COLUMNS, data=rows)})
        report = run.finish(quiet=True)
        assert report.failed == [] and report.converted == 1
        api = darkroom.Api()
        reader = _CountingReader(api.storage, *run.path.split("/"))
        (manifest,) = reader.manifests(key="t")
    return rows, reader, manifest


def _reference(rows, offset, limit, sort=None, descending=False, filters=()):
    ids = list(range(len(rows)))
    for column, test in filters:
        ids = [i for i in ids if rows[i][column] is not None and test(rows[i][column])]
    if sort is not None:  # descending: the ascending order reversed, missing values still last
        present = sorted((i for i in ids if rows[i][sort] is not None), key=lambda i: rows[i][sort])
        ids = (present[::-1] if descending else present) + [i for i in ids if rows[i][sort] is None]
    return ids[offset:offset + limit], len(ids)


CASES = [
    dict(offset=0, limit=25),
    dict(offset=990, limit=25),  # across a chunk boundary
    dict(offset=2_490, limit=25),  # the last, short page
    dict(offset=0, limit=25, sort=1),
    dict(offset=2_480, limit=25, sort=1),  # missing values last
    dict(offset=0, limit=25, sort=1, descending=True),
    dict(offset=0, limit=40, sort=2),
    dict(offset=100, limit=40, sort=2, descending=True),
    dict(offset=0, limit=30, sort=3, descending=True),
    dict(offset=0, limit=50, filters=[("1:ge:1.5", 1, lambda v: v >= 1.5), ("1:lt:3", 1, lambda v: v < 3)]),
    dict(offset=10, limit=50, sort=1, filters=[("2:eq:cat", 2, lambda v: v == "cat")]),
    dict(offset=0, limit=50, sort=0, descending=True, filters=[("2:contains:CAT", 2, lambda v: "cat" in v.casefold())]),
    dict(offset=0, limit=50, filters=[("3:eq:true", 3, lambda v: v is True), ("0:gt:2000", 0, lambda v: v > 2000)]),
    dict(offset=0, limit=50, filters=[("2:ge:d", 2, lambda v: v >= "d")]),
]


@pytest.mark.parametrize("case", CASES, ids=[json.dumps({k: v for k, v in c.items() if k != "filters"}) + str(
    [f[0] for f in c.get("filters", [])]) for c in CASES])
def test_a_page_is_the_reference_pages_rows_in_both_stored_forms(logged, case):
    rows, reader, manifest = logged
    filters = case.get("filters", [])
    args = dict(offset=case["offset"], limit=case["limit"], sort=case.get("sort"),
                descending=case.get("descending", False), filters=[Filter.parse(f[0]) for f in filters])
    want_ids, matched = _reference(rows, case["offset"], case["limit"], case.get("sort"),
                                   case.get("descending", False), [(f[1], f[2]) for f in filters])
    assert 0 < len(want_ids), "a case that selects nothing checks nothing"
    chunked = StoredTable.open(reader, manifest)
    assert chunked.header["format"] == FORMAT
    first_form = StoredTable(None, manifest, {"columns": COLUMNS, "column_types": chunked.column_types, "data": rows})
    for table in (chunked, first_form):
        page = table.page(**args)
        assert page["row_ids"] == want_ids and page["matched"] == matched and page["rows"] == ROWS
        assert page["data"] == [rows[i] for i in want_ids]


def test_a_page_reads_the_header_the_sort_column_and_only_the_chunks_it_shows(logged):
    rows, reader, manifest = logged
    reader.reads.clear()
    StoredTable.open(reader, manifest).page(0, 25)
    chunk = json.loads(reader.read(manifest))["chunks"][0]
    assert reader.reads[:2] == [(None,), ("rows", *chunk)]
    reader.reads.clear()
    StoredTable.open(reader, manifest).page(0, 10, sort=0, descending=True)  # ids 2499..2490: the last chunk
    last = json.loads(reader.read(manifest))["chunks"][2]
    assert reader.reads[:3] == [(None,), ("order:0", 4 * (ROWS - 10), 4 * ROWS), ("rows", *last)]
    reader.reads.clear()
    StoredTable.open(reader, manifest).page(0, 10, sort=1, filters=[Filter.parse("2:eq:cat")])
    assert [r[0] for r in reader.reads[:3]] == [None, "column:2", "order:1"]


def test_columns_that_do_not_sort_and_bad_filters_are_refused_saying_what_is_accepted(logged):
    _, reader, manifest = logged
    table = StoredTable.open(reader, manifest)
    with pytest.raises(InvalidInput, match=r"column 4 \('meta'\) holds json values, which do not sort or filter"):
        table.page(0, 10, sort=4)
    with pytest.raises(InvalidInput, match=r"accepted: <column index>:<op>:<value>"):
        Filter.parse("score>3")
    with pytest.raises(InvalidInput, match="accepted: a finite number"):
        table.page(0, 10, filters=[Filter.parse("1:ge:abc")])
    with pytest.raises(InvalidInput, match="op contains is for string columns"):
        table.page(0, 10, filters=[Filter.parse("1:contains:3")])
    with pytest.raises(InvalidInput, match="accepted: true or false"):
        table.page(0, 10, filters=[Filter.parse("3:eq:yes")])
    with pytest.raises(InvalidInput, match="limit=501; accepted: 1 to 500"):
        table.page(0, 501)
    with pytest.raises(InvalidInput, match=r"column 9: the table has columns 0\.\.4"):
        table.page(0, 10, sort=9)


def test_the_reader_still_returns_the_whole_table_with_media_cells_resolved(logged):
    rows, reader, manifest = logged
    assert reader.table(manifest)["data"] == rows


def test_pages_read_by_ranges_from_s3_are_the_reference_pages(s3_storage):
    """The worker's converter and output writer store a table on S3 (moto); a reader over it pages by ranges."""
    from darkroom.pipeline.settings import Limits
    from darkroom.workers import artifacts
    from darkroom.workers.converters import ItemInput, Payload
    from darkroom.workers.converters.table import TableOptions, convert

    rows = [row[:4] for row in _rows()]  # no json column: every column sorts
    payload = json.dumps({"columns": COLUMNS[:4], "data": rows}).encode()
    output = convert(ItemInput(Payload(payload, "application/json", "json")), TableOptions(), Limits())
    stored = artifacts.store_output(s3_storage, "table", "d" * 64, output)
    manifest = {"status": "ok", "key": "t", "step": 0, "index": 0, "kind": "table", **stored}
    table = StoredTable.open(_CountingReader(s3_storage, "p", "r"), manifest)
    for sort, descending, filters in [(None, False, []), (1, True, []), (2, False, [("3:eq:false", 3, lambda v: not v)])]:
        want, matched = _reference(rows, 1_990, 30, sort, descending, [(f[1], f[2]) for f in filters])
        page = table.page(1_990, 30, sort, descending, [Filter.parse(f[0]) for f in filters])
        assert page["row_ids"] == want and page["data"] == [rows[i] for i in want] and page["matched"] == matched
