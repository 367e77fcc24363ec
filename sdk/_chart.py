"""Custom charts, as W&B's ``wandb.plot.line/scatter/bar/histogram/line_series`` and ``wandb.plot_table``.

A chart is the columns of a table it draws plus a small spec (type, fields,
title); the viewer draws it with its own canvas code.  On the caller's thread
only the drawn columns are copied (a tuple per row: ~0.7 ms for 10,000 rows) and
the fields checked against the table's columns; the worker checks the rest
(pipeline/chart_layout.py holds the rules both apply).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

import numpy as np

from darkroom._guard import DarkroomWarning
from darkroom._media import Media
from darkroom._table import JsonSnapshot, Table
from darkroom._values import is_dataframe
from darkroom.pipeline import chart_layout
from darkroom.pipeline.errors import InvalidInput

_PLAIN = ("number", "string", "bool", None)  # what a drawn column may hold


class Chart(Media):
    """A custom chart: made by `darkroom.plot.line` (scatter, bar, histogram, line_series) or
    `darkroom.plot_table`, and logged like any media: ``run.log({"loss curve": chart})``.

    Reading it back: its manifest's ``chart`` is the spec (type, fields, title, string_fields) and
    ``Api().run(path).table(manifest)`` the table of the columns it draws.
    """

    kind = "chart"

    def __init__(self, chart: str, table: Any, fields: dict[str, Any], title: Any = "",
                 string_fields: Any = None, vega_spec_name: str | None = None, split_table: bool = False):
        super().__init__(None)
        if is_dataframe(table):
            table = Table(dataframe=table)
        if not isinstance(table, Table):
            raise TypeError(f"a {chart} chart takes a darkroom.Table (or a pandas DataFrame); got {type(table).__name__}")
        if title is not None and not isinstance(title, str):
            raise TypeError(f"a {chart} chart's title must be a str; got {type(title).__name__}")
        fields = {k: v for k, v in fields.items() if v is not None}
        try:
            chart_layout.check_spec(chart, fields, table.columns, string_fields)
            chart_layout.check_column_types(chart, fields, table.column_types)
        except InvalidInput as e:
            raise ValueError(e.message) from None
        columns = list(dict.fromkeys(fields.values()))  # each drawn column once, in field order
        for column in columns:
            if table.column_types.get(column) not in _PLAIN:
                raise ValueError(f"{chart} chart column {column!r} holds {table.column_types[column]} values; "
                                 "accepted: numbers, str or bool")
        # The snapshot: a tuple of the drawn cells per row (plain values, which cannot change; JSON
        # writes tuples as lists).  zip over itemgetters: ~0.7 ms for 10,000 rows, 3x a list per row.
        data = list(zip(*(map(itemgetter(table.columns.index(c)), table.data) for c in columns))) if columns else []
        self.chart, self.fields, self.title = chart, fields, title or ""
        snapshot = {"columns": columns, "column_types": {c: table.column_types[c] for c in columns
                                                         if c in table.column_types}, "data": data}
        self._payload = JsonSnapshot(snapshot, nbytes=48 * len(data) * len(columns) + 4096)
        self._options = {"chart": chart, "fields": fields, "title": self.title,
                         "string_fields": dict(string_fields or {}), "vega_spec_name": vega_spec_name,
                         "split_table": bool(split_table)}

    def __repr__(self) -> str:
        return f"<darkroom.plot.Chart {self.chart} {self.fields}>"


def line(table: Any, x: str, y: str, stroke: str | None = None, title: str = "", split_table: bool = False) -> Chart:
    """A line chart of column `y` over column `x`, one line per value of column `stroke` (if given).

    Raises
    ------
    TypeError, ValueError: not a Table, a column not in it (the columns are listed), a column of non-numbers.
    """
    return Chart("line", table, {"x": x, "y": y, "stroke": stroke}, title, split_table=split_table)


def scatter(table: Any, x: str, y: str, title: str = "", split_table: bool = False) -> Chart:
    """A scatter plot of columns `x` and `y`.  Raises as `line`."""
    return Chart("scatter", table, {"x": x, "y": y}, title, split_table=split_table)


def bar(table: Any, label: str, value: str, title: str = "", split_table: bool = False) -> Chart:
    """A bar per row: its `label` column's value, its bar the `value` column's number.  Raises as `line`."""
    return Chart("bar", table, {"label": label, "value": value}, title, split_table=split_table)


def histogram(table: Any, value: str, title: str = "", split_table: bool = False) -> Chart:
    """A histogram of the numbers of column `value` (binned by the viewer).  Raises as `line`."""
    return Chart("histogram", table, {"value": value}, title, split_table=split_table)


def line_series(xs: Any, ys: Any, keys: Any = None, title: str = "", xname: str = "x",
                split_table: bool = False) -> Chart:
    """Several lines on one chart: ``ys[i]`` over ``xs`` (shared) or ``xs[i]``, named ``keys[i]``
    (default ``key_<i>``), stored as W&B does: a table of columns ``step, lineKey, lineVal``.

    Raises
    ------
    TypeError, ValueError: lengths that do not match (naming the line), values that are not numbers.
    """
    series = [_numbers(y, f"line_series ys[{i}]") for i, y in enumerate(_sequence(ys, "ys"))]
    shared = not _is_nested(xs)
    xs_list = [_numbers(xs, "line_series xs")] * len(series) if shared else \
        [_numbers(x, f"line_series xs[{i}]") for i, x in enumerate(_sequence(xs, "xs"))]
    if len(xs_list) != len(series):
        raise ValueError(f"line_series has {len(xs_list)} xs for {len(series)} ys; accepted: one xs for all, "
                         "or one per line")
    names = [f"key_{i}" for i in range(len(series))] if keys is None else [str(k) for k in _sequence(keys, "keys")]
    if len(names) != len(series):
        raise ValueError(f"line_series has {len(names)} keys for {len(series)} lines")
    table = Table(columns=["step", "lineKey", "lineVal"])
    for i, (x, y) in enumerate(zip(xs_list, series)):
        if len(x) != len(y):
            raise ValueError(f"line_series line {i} ({names[i]!r}) has {len(x)} xs and {len(y)} ys")
        table.data.extend([xv, names[i], yv] for xv, yv in zip(x, y))  # numbers checked above: no per-row check
        if len(table.data) > Table.MAX_ROWS:
            raise ValueError(f"line_series of more than {Table.MAX_ROWS} points in all (Table.MAX_ROWS); "
                             "raise Table.MAX_ROWS to log more")
    table.column_types = {"step": "number", "lineKey": "string", "lineVal": "number"} if table.data else {}
    return Chart("line_series", table, {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"}, title,
                 string_fields={"title": title or "", "xname": str(xname)}, split_table=split_table)


def plot_table(vega_spec_name: str, data_table: Any, fields: dict[str, str], string_fields: dict[str, str] | None = None,
               split_table: bool = False) -> Chart:
    """W&B's ``wandb.plot_table``: a chart of a preset Vega spec (``"wandb/line/v0"``,
    ``"wandb/area-under-curve/v0"``, ...) over `data_table`, its `fields` naming the columns.

    Raises
    ------
    ValueError: fields not matching the spec, or not columns of the table.

    A spec of one's own (not a preset) is kept with its fields' columns and shown as a table, with a
    `DarkroomWarning` (darkroom has no Vega runtime).
    """
    try:
        chart, mapped = chart_layout.preset(vega_spec_name, fields)
    except InvalidInput as e:
        raise ValueError(e.message) from None
    title = (string_fields or {}).get("title", "") if isinstance(string_fields, dict) else ""
    made = Chart(chart, data_table, mapped, title, string_fields=string_fields, vega_spec_name=vega_spec_name,
                 split_table=split_table)
    if chart == "custom":
        warnings.warn(f"darkroom: plot_table({vega_spec_name!r}): darkroom draws W&B's preset charts "
                      f"({', '.join(chart_layout.PRESETS)}); this one is kept, spec name and data, and shown as "
                      "a table", DarkroomWarning, stacklevel=2)
    return made


def _sequence(value: Any, what: str) -> list[Any]:
    if isinstance(value, np.ndarray) or all(hasattr(value, n) for n in ("detach", "cpu", "numpy")):
        value = value if isinstance(value, np.ndarray) else value.detach().cpu().numpy()
        return list(value)
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, dict)):
        raise TypeError(f"line_series {what} must be a list (or array); got {type(value).__name__}")
    return list(value)


def _is_nested(xs: Any) -> bool:
    if isinstance(xs, np.ndarray):
        return xs.ndim > 1
    items = _sequence(xs, "xs")
    return bool(items) and isinstance(items[0], (Iterable, np.ndarray)) and not isinstance(items[0], str)


def _numbers(values: Any, what: str) -> list[float | int | None]:
    """Plain numbers (NaN as None, a missing value); refused: anything that is not a number."""
    if all(hasattr(values, n) for n in ("detach", "cpu", "numpy")):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be a 1-D sequence of numbers; got {type(values).__name__} "
                        f"of shape {array.shape} and dtype {array.dtype}")
    if array.dtype.kind == "f" and np.isinf(array).any():
        raise ValueError(f"{what} holds an infinite number (JSON has none); accepted: finite numbers, NaN as missing")
    out = array.tolist()
    return [None if isinstance(v, float) and v != v else v for v in out] if array.dtype.kind == "f" else out
