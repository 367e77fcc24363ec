"""A table's stored form, written by the worker and read a page at a time by the viewer.

``darkroom.table/2`` (since issue 14; tables of up to 200,000 rows):

- the artifact, a small JSON header: ``{"format": "darkroom.table/2", "columns",
  "column_types", "rows", "chunk_rows", "chunks": [[start byte, end byte], ...]}``;
- related file ``rows`` (jsonl): one JSON array per row, in order; chunk k (rows
  ``k * chunk_rows ..``) is the byte range ``chunks[k]``, so a page costs one
  ranged read per chunk it touches, never the whole file;
- related file ``column:<i>`` for each number, bool or string column i: the
  values sorting and filtering read, a column at a time.  Numbers and bools are
  little-endian float64 (bools 0/1, a missing value NaN); strings a JSON array
  (a missing value null).  json and media columns have none: they neither sort
  nor filter;
- related file ``order:<i>`` for each of those columns: the row numbers (little-endian uint32) in
  ascending order of the column, ties in the table's order, missing values last (the header's
  ``"missing": {"<i>": count}``).  A sorted page reads only its slice of it; descending is the
  ascending order of the present values reversed, missing values still last.

The first form, one JSON file ``{"columns", "column_types", "data"}`` (at most
10,000 rows), is still read: `page` answers the same from it.

Measured against Parquet (pyarrow) by ``bench/table_storage.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from darkroom.pipeline.errors import DamagedObject, InvalidInput

FORMAT = "darkroom.table/2"
CHUNK_ROWS = 1000
NUMERIC = ("number", "bool")
SEARCHABLE = (*NUMERIC, "string")
OPS = ("eq", "ne", "lt", "le", "gt", "ge", "contains")
MAX_PAGE_ROWS = 500


@dataclasses.dataclass(frozen=True)
class StoredFile:
    role: str
    data: bytes
    format: str
    media_type: str


def encode(columns: Sequence[str], column_types: dict[str, str], rows: Sequence[Sequence[Any]],
           chunk_rows: int = CHUNK_ROWS) -> tuple[bytes, list[StoredFile]]:
    """The header and the files of a checked table (strict JSON: no NaN or infinity in `rows`).

    Raises
    ------
    ValueError: a value JSON cannot hold (an infinite number inside a list or dict cell).
    """
    lines, chunks = [], []
    size = 0
    for start in range(0, len(rows), chunk_rows):
        first = size
        for row in rows[start:start + chunk_rows]:
            line = json.dumps(row, separators=(",", ":"), allow_nan=False).encode() + b"\n"
            lines.append(line)
            size += len(line)
        chunks.append([first, size])
    files = [StoredFile("rows", b"".join(lines), "jsonl", "application/x-ndjson")]
    missing = {}
    for c, name in enumerate(columns):
        kind = column_types.get(name)
        if kind in NUMERIC:
            values: Any = np.array([math.nan if row[c] is None else float(row[c]) for row in rows], dtype="<f8")
            files.append(StoredFile(f"column:{c}", values.tobytes(), "f8", "application/octet-stream"))
        elif kind == "string":
            values = [row[c] for row in rows]
            files.append(StoredFile(f"column:{c}", json.dumps(values, separators=(",", ":")).encode(), "json",
                                    "application/json"))
        else:
            continue
        order, present = ascending(values)
        missing[str(c)] = len(rows) - present
        files.append(StoredFile(f"order:{c}", order.astype("<u4").tobytes(), "u4", "application/octet-stream"))
    header = {"format": FORMAT, "columns": list(columns), "column_types": dict(column_types),
              "rows": len(rows), "chunk_rows": chunk_rows, "chunks": chunks, "missing": missing}
    return json.dumps(header, separators=(",", ":")).encode(), files


class Reader(Protocol):
    """What reading a stored table needs of `darkroom.pipeline.reader.RunReader`."""

    def read(self, entry: dict[str, Any], role: str | None = None) -> bytes: ...

    def stream(self, entry: dict[str, Any], role: str | None = None, start: int = 0,
               end: int | None = None) -> Iterable[bytes]: ...


@dataclasses.dataclass(frozen=True)
class Filter:
    """Rows whose `column` (an index) compares with `value` by `op` (one of `OPS`)."""

    column: int
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> "Filter":
        """``"<column index>:<op>:<value>"``, e.g. ``"2:ge:0.5"``, ``"0:eq:cat"``.

        Raises
        ------
        InvalidInput (``invalid_parameter``): not of that form, or an unknown op.
        """
        column, _, rest = text.partition(":")
        op, sep, value = rest.partition(":")
        if not column.isdigit() or not sep or op not in OPS:
            raise InvalidInput("invalid_parameter", f"filter={text!r:.80}; accepted: <column index>:<op>:<value> "
                               f"with op one of {', '.join(OPS)} (e.g. 2:ge:0.5)")
        return cls(int(column), op, value)


class StoredTable:
    """One table item, either form, read through a run reader."""

    def __init__(self, reader: Reader, manifest: dict[str, Any], header: dict[str, Any]):
        self.reader, self.manifest, self.header = reader, manifest, header
        self.columns: list[str] = header["columns"]
        self.column_types: dict[str, str] = header.get("column_types", {})
        self.chunked = header.get("format") == FORMAT
        self.rows = int(header["rows"]) if self.chunked else len(header["data"])

    @classmethod
    def open(cls, reader: Reader, manifest: dict[str, Any]) -> "StoredTable":
        """Read the artifact: the header of a chunked table, or the whole of a table of the first form.

        Raises
        ------
        DamagedObject: the artifact is not a table.
        """
        where = f"table {manifest.get('key')!r} step {manifest.get('step')}"
        try:
            header = json.loads(reader.read(manifest))
        except ValueError as e:
            raise DamagedObject(where, f"not JSON ({e})") from None
        ok = isinstance(header, dict) and isinstance(header.get("columns"), list) and (
            header.get("format") == FORMAT or isinstance(header.get("data"), list))
        if not ok:
            raise DamagedObject(where, "not a stored table")
        return cls(reader, manifest, header)

    # -- reading ------------------------------------------------------------
    def row_values(self, ids: Sequence[int]) -> list[list[Any]]:
        """The rows `ids` (row numbers), in that order: one ranged read per chunk they fall in."""
        if not self.chunked:
            return [self.header["data"][i] for i in ids]
        size = int(self.header["chunk_rows"])
        wanted: dict[int, list[int]] = {}
        for i in ids:
            wanted.setdefault(i // size, []).append(i)
        found: dict[int, list[Any]] = {}
        for chunk, members in sorted(wanted.items()):
            start, end = self.header["chunks"][chunk]
            lines = b"".join(self.reader.stream(self.manifest, "rows", start, end)).split(b"\n")
            for i in members:
                found[i] = json.loads(lines[i - chunk * size])
        return [found[i] for i in ids]

    def column(self, c: int) -> np.ndarray | list[Any]:
        """Column `c`'s values for sorting and filtering (float64 for numbers and bools, else a list).

        Raises
        ------
        InvalidInput (``invalid_parameter``): no such column, or one of json or media values.
        """
        kind = self.column_type(c)
        if not self.chunked:
            values = [row[c] for row in self.header["data"]]
            return np.array([math.nan if v is None else float(v) for v in values]) if kind in NUMERIC else values
        data = self.reader.read(self.manifest, f"column:{c}")
        return np.frombuffer(data, dtype="<f8") if kind in NUMERIC else json.loads(data)

    def column_type(self, c: int) -> str:
        """Column `c`'s type, one that sorts and filters.

        Raises
        ------
        InvalidInput (``invalid_parameter``): no such column, or one of json or media values.
        """
        if not 0 <= c < len(self.columns):
            raise InvalidInput("invalid_parameter", f"column {c}: the table has columns 0..{len(self.columns) - 1}")
        kind = self.column_types.get(self.columns[c])
        if kind not in SEARCHABLE:
            raise InvalidInput("invalid_parameter", f"column {c} ({self.columns[c]!r}) holds {kind or 'no'} values, "
                               "which do not sort or filter; accepted: number, bool and string columns")
        return kind

    # -- a page ---------------------------------------------------------------
    def page(self, offset: int, limit: int, sort: int | None = None, descending: bool = False,
             filters: Sequence[Filter] = ()) -> dict[str, Any]:
        """Rows ``offset .. offset + limit`` of the table filtered by `filters` and sorted by column `sort`.

        Missing values sort last either way; ascending, ties keep the table's order, and
        descending is the reverse of that (missing values still last).  Only the
        page's slice of the sort order, the filter columns (and, with filters, the
        whole sort order) and the chunks holding the page's rows are read.

        Raises
        ------
        InvalidInput (``invalid_parameter``): a limit over `MAX_PAGE_ROWS`, a bad column or filter value.
        """
        if not 1 <= limit <= MAX_PAGE_ROWS:
            raise InvalidInput("invalid_parameter", f"limit={limit}; accepted: 1 to {MAX_PAGE_ROWS}")
        mask: np.ndarray | None = None  # None: every row
        for f in filters:
            keep = _matches(self.column(f.column), f, self.column_types[self.columns[f.column]])
            mask = keep if mask is None else mask & keep
        matched = self.rows if mask is None else int(mask.sum())
        end = min(offset + limit, matched)
        if end <= offset:
            page_ids = []
        elif sort is None:
            page_ids = list(range(offset, end)) if mask is None else \
                [int(i) for i in np.flatnonzero(mask)[offset:end]]
        elif mask is None:
            page_ids = [int(i) for i in self.sorted_ids(sort, descending, offset, end)]
        else:
            ids = self.sorted_ids(sort, descending, 0, self.rows)
            page_ids = [int(i) for i in ids[mask[ids]][offset:end]]
        return {"columns": self.columns, "column_types": self.column_types, "rows": self.rows, "matched": matched,
                "offset": offset, "limit": limit, "sort": sort, "descending": descending,
                "filters": [dataclasses.asdict(f) for f in filters],
                "sortable": [c for c, n in enumerate(self.columns) if self.column_types.get(n) in SEARCHABLE],
                "row_ids": page_ids, "data": self.row_values(page_ids)}

    def sorted_ids(self, c: int, descending: bool, start: int, stop: int) -> np.ndarray:
        """Positions ``start .. stop`` of the table's rows sorted by column `c` (see `page`)."""
        if not self.chunked or str(c) not in self.header.get("missing", {}):  # no stored order
            order, present = ascending(self.column(c))
        else:
            self.column_type(c)  # refuses a column that does not sort
            present = self.rows - int(self.header["missing"][str(c)])
            if not descending:  # one slice of the stored order
                return self._order_slice(c, start, stop)
            order = None
        parts = []
        if start < present:  # the present values, reversed when descending
            lo, hi = (present - min(stop, present), present - start) if descending else (start, min(stop, present))
            part = order[lo:hi] if order is not None else self._order_slice(c, lo, hi)
            parts.append(part[::-1] if descending else part)
        if stop > present:  # then the missing ones, in the table's order
            lo, hi = max(start, present), stop
            parts.append(order[lo:hi] if order is not None else self._order_slice(c, lo, hi))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def _order_slice(self, c: int, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.zeros(0, np.int64)
        data = b"".join(self.reader.stream(self.manifest, f"order:{c}", 4 * start, 4 * stop))
        return np.frombuffer(data, dtype="<u4").astype(np.int64)

    def whole(self) -> dict[str, Any]:
        """``{"columns", "column_types", "data"}`` with every row (the first form's shape)."""
        if not self.chunked:
            return {"columns": self.columns, "column_types": self.column_types, "data": self.header["data"]}
        lines = self.reader.read(self.manifest, "rows").splitlines()  # one read, not one a chunk
        return {"columns": self.columns, "column_types": self.column_types, "data": [json.loads(x) for x in lines]}


def _matches(values: np.ndarray | list[Any], f: Filter, kind: str) -> np.ndarray:
    """A boolean mask of the rows matching `f` (a missing value matches only ``ne``)."""
    if kind in NUMERIC:
        assert isinstance(values, np.ndarray)
        target = _number(f, kind)
        if f.op == "contains":
            raise InvalidInput("invalid_parameter", f"filter op contains is for string columns; column {f.column} "
                               "holds numbers: use eq, ne, lt, le, gt or ge")
        with np.errstate(invalid="ignore"):
            mask = {"eq": values == target, "ne": values != target, "lt": values < target,
                    "le": values <= target, "gt": values > target, "ge": values >= target}[f.op]
        return mask
    text = f.value
    if f.op == "contains":
        needle = text.casefold()
        return np.fromiter((v is not None and needle in v.casefold() for v in values), bool, len(values))
    compare = {"eq": lambda v: v == text, "ne": lambda v: v != text, "lt": lambda v: v < text,
               "le": lambda v: v <= text, "gt": lambda v: v > text, "ge": lambda v: v >= text}[f.op]
    return np.fromiter((compare(v) if v is not None else f.op == "ne" for v in values), bool, len(values))


def _number(f: Filter, kind: str) -> float:
    if kind == "bool":
        if f.value not in ("true", "false"):
            raise InvalidInput("invalid_parameter", f"filter value {f.value!r:.40} for bool column {f.column}; "
                               "accepted: true or false")
        return 1.0 if f.value == "true" else 0.0
    try:
        value = float(f.value)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInput("invalid_parameter", f"filter value {f.value!r:.40} for number column {f.column}; "
                           "accepted: a finite number")
    return value


def ascending(values: np.ndarray | list[Any]) -> tuple[np.ndarray, int]:
    """(row numbers in ascending order of `values`, ties in order, missing (NaN, None) last; how many present)."""
    if isinstance(values, np.ndarray):
        order = np.argsort(values, kind="stable")  # NaN sorts last
        return order, int((~np.isnan(values)).sum())
    present = sorted((i for i, v in enumerate(values) if v is not None), key=values.__getitem__)
    return np.array(present + [i for i, v in enumerate(values) if v is None], dtype=np.int64), len(present)
