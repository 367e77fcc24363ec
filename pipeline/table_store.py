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
  nor filter.

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
    for c, name in enumerate(columns):
        kind = column_types.get(name)
        if kind in NUMERIC:
            values = np.array([math.nan if row[c] is None else float(row[c]) for row in rows], dtype="<f8")
            files.append(StoredFile(f"column:{c}", values.tobytes(), "f8", "application/octet-stream"))
        elif kind == "string":
            data = json.dumps([row[c] for row in rows], separators=(",", ":")).encode()
            files.append(StoredFile(f"column:{c}", data, "json", "application/json"))
    header = {"format": FORMAT, "columns": list(columns), "column_types": dict(column_types),
              "rows": len(rows), "chunk_rows": chunk_rows, "chunks": chunks}
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
        if not 0 <= c < len(self.columns):
            raise InvalidInput("invalid_parameter", f"column {c}: the table has columns 0..{len(self.columns) - 1}")
        kind = self.column_types.get(self.columns[c])
        if kind not in SEARCHABLE:
            raise InvalidInput("invalid_parameter", f"column {c} ({self.columns[c]!r}) holds {kind or 'no'} values, "
                               "which do not sort or filter; accepted: number, bool and string columns")
        if not self.chunked:
            values = [row[c] for row in self.header["data"]]
            return np.array([math.nan if v is None else float(v) for v in values]) if kind in NUMERIC else values
        data = self.reader.read(self.manifest, f"column:{c}")
        return np.frombuffer(data, dtype="<f8") if kind in NUMERIC else json.loads(data)

    # -- a page ---------------------------------------------------------------
    def page(self, offset: int, limit: int, sort: int | None = None, descending: bool = False,
             filters: Sequence[Filter] = ()) -> dict[str, Any]:
        """Rows ``offset .. offset + limit`` of the table filtered by `filters` and sorted by column `sort`.

        Missing values sort last either way; ties keep the table's order.  Only
        the sort and filter columns and the chunks holding the page's rows are read.

        Raises
        ------
        InvalidInput (``invalid_parameter``): a limit over `MAX_PAGE_ROWS`, a bad column or filter value.
        """
        if not 1 <= limit <= MAX_PAGE_ROWS:
            raise InvalidInput("invalid_parameter", f"limit={limit}; accepted: 1 to {MAX_PAGE_ROWS}")
        ids: np.ndarray | None = None  # None: every row, in order
        for f in filters:
            keep = np.flatnonzero(_matches(self.column(f.column), f, self.column_types[self.columns[f.column]]))
            ids = keep if ids is None else np.intersect1d(ids, keep, assume_unique=True)
        matched = self.rows if ids is None else len(ids)
        if sort is not None:
            values = self.column(sort)
            chosen = np.arange(self.rows) if ids is None else ids
            ids = chosen[_order([values[i] for i in chosen] if isinstance(values, list) else values[chosen],
                                descending)]
        page_ids = list(range(offset, min(offset + limit, matched))) if ids is None else \
            [int(i) for i in ids[offset:offset + limit]]
        return {"columns": self.columns, "column_types": self.column_types, "rows": self.rows, "matched": matched,
                "offset": offset, "limit": limit, "sort": sort, "descending": descending,
                "filters": [dataclasses.asdict(f) for f in filters],
                "sortable": [c for c, n in enumerate(self.columns) if self.column_types.get(n) in SEARCHABLE],
                "row_ids": page_ids, "data": self.row_values(page_ids)}

    def whole(self) -> dict[str, Any]:
        """``{"columns", "column_types", "data"}`` with every row (the first form's shape)."""
        return {"columns": self.columns, "column_types": self.column_types,
                "data": self.row_values(range(self.rows))}


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


def _order(values: np.ndarray | list[Any], descending: bool) -> np.ndarray:
    """Positions of `values` in sorted order, missing (NaN, None) last, ties in their own order."""
    if isinstance(values, np.ndarray):
        missing = np.isnan(values)
        key = -values if descending else values
        order = np.argsort(np.where(missing, 0.0, key), kind="stable")
        return np.concatenate([order[~missing[order]], np.flatnonzero(missing)])
    present = [i for i, v in enumerate(values) if v is not None]
    present.sort(key=lambda i: values[i], reverse=descending)  # stable either way: ties keep their order
    return np.array(present + [i for i, v in enumerate(values) if v is None], dtype=np.int64)
