"""Table cells and column types: one rule, applied by the SDK when a row is added
and again by the worker, which never trusts a message.

A column's type is the type of its first non-null value; every other value
must match it.  Types: number, string, bool, json (lists and dicts of plain
values), and the media kinds (image, video, ...) for cells holding media.
A missing value (None, NaN, pandas' NA and NaT) is null: it types nothing and
is stored as JSON null, since strict JSON has no NaN (RFC 8259, section 6).
For the same reason an infinite number is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.history import is_media_ref

PLAIN_TYPES = ("number", "string", "bool", "json")
# pandas' missing-value singletons, recognised by type name so that pandas is not imported.
_PANDAS_MISSING = ("NAType", "NaTType")


def is_missing(value: Any) -> bool:
    """Whether `value` is a missing value: None, a NaN float, or pandas' NA or NaT."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    kind = type(value)
    return kind.__name__ in _PANDAS_MISSING and kind.__module__.startswith("pandas")


def cell_type(value: Any) -> str | None:
    """The type name of a stored cell value (None for a missing value).

    Raises
    ------
    ValueError: a value a table cannot hold.
    """
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isinf(value):
            raise ValueError(f"{value} cannot be stored (JSON has no infinity); accepted: finite numbers, "
                             "or None or NaN for a missing value")
        return "number"
    if isinstance(value, str):
        return "string"
    if is_media_ref(value):
        return str(value["kind"])
    if isinstance(value, (list, dict)):
        return "json"
    raise ValueError(f"a {type(value).__name__} cannot be a table cell; accepted: numbers, str, bool, None, "
                     "lists and dicts of those, and darkroom media")


def check_row(columns: Sequence[str], types: dict[str, str], row: Sequence[Any], types_of: Any = cell_type) -> None:
    """Check one row against the columns, inferring a column's type from its first non-null value.

    `types` is updated in place.  `types_of` maps a cell to its type name (the
    SDK passes one that knows media objects).

    Raises
    ------
    ValueError: wrong length, a value no cell can hold, or a cell whose type differs from
    its column's (names the column).
    """
    if len(row) != len(columns):
        raise ValueError(f"a row of {len(row)} values for {len(columns)} columns {list(columns)}")
    for column, value in zip(columns, row):
        try:
            kind = types_of(value)
        except ValueError as e:
            raise ValueError(f"column {column!r}: {e}") from None
        if kind is None:
            continue
        expected = types.setdefault(column, kind)
        if kind != expected:
            raise ValueError(f"column {column!r} holds {expected} values; got a {kind} ({value!r:.60})")


def check_rows(what: str, columns: Sequence[str], rows: Sequence[Any], max_cells: int) -> dict[str, str]:
    """The worker's check of a whole table's rows (a table, a chart's data): return the column types.

    Raises
    ------
    InvalidInput: ``too_large`` (more cells than `max_cells`, DARKROOM_MAX_TABLE_CELLS), ``invalid_table``
        (a row that is not a list, or fails `check_row`; names `what` and the row).
    """
    cells = len(rows) * max(1, len(columns))
    if cells > max_cells:
        raise InvalidInput("too_large", f"{what} of {cells} cells exceeds the bound of {max_cells} "
                           "(DARKROOM_MAX_TABLE_CELLS)")
    types: dict[str, str] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise InvalidInput("invalid_table", f"{what} row {i} is not a list")
        try:
            check_row(columns, types, row)
        except ValueError as e:
            raise InvalidInput("invalid_table", f"{what} row {i}: {e}") from None
    return types
