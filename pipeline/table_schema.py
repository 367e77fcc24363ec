"""Table cells and column types: one rule, applied by the SDK when a row is added
and again by the worker, which never trusts a message.

A column's type is the type of its first non-null value; every other value
must match it.  Types: number, string, bool, json (lists and dicts of plain
values), and the media kinds (image, video, ...) for cells holding media.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from darkroom.pipeline.history import is_media_ref

PLAIN_TYPES = ("number", "string", "bool", "json")


def cell_type(value: Any) -> str | None:
    """The type name of a stored cell value (None for a null cell).

    Raises
    ------
    ValueError: a value a table cannot hold.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
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
    """Check one row against the columns, inferring a column's type from its first value.

    `types` is updated in place.  `types_of` maps a cell to its type name (the
    SDK passes one that knows media objects).

    Raises
    ------
    ValueError: wrong length, or a cell whose type differs from its column's (names the column).
    """
    if len(row) != len(columns):
        raise ValueError(f"a row of {len(row)} values for {len(columns)} columns {list(columns)}")
    for column, value in zip(columns, row):
        kind = types_of(value)
        if kind is None:
            continue
        expected = types.setdefault(column, kind)
        if kind != expected:
            raise ValueError(f"column {column!r} holds {expected} values; got a {kind} ({value!r:.60})")
