"""Tables: the SDK's JSON rows checked again (shape, column types, bounds) and stored in chunks
(`darkroom.pipeline.table_store`), so the viewer reads a page at a time."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.table_schema import check_rows
from darkroom.pipeline.table_store import encode
from darkroom.workers.converters import Converter, ItemInput, Output, RelatedOutput

# 2: NaN cells are stored as null (strict JSON); infinite numbers are refused.
# 3: stored as darkroom.table/2: a header, the rows in chunks, the sortable columns.
VERSION = "3"


class TableOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rows: int = Field(default=200_000, ge=1)  # Table.MAX_ROWS as the logging code set it


def convert(item: ItemInput, options: TableOptions, limits: Limits) -> Output:
    """Validate a table payload and store it as canonical, strict JSON in chunks (`table_store.encode`).

    A NaN token (Python's json writes one for a float NaN, as the SDK's sender does inside a list or
    dict cell) is a missing value, stored as null.

    Raises
    ------
    InvalidInput (``invalid_table``, ``too_large``): what is wrong, naming the row and column.
    """
    try:
        table = json.loads(item.payload.data, parse_constant=_nan_as_null)
    except (ValueError, RecursionError) as e:
        raise InvalidInput("invalid_table", f"table payload is not JSON ({e})") from None
    if not isinstance(table, dict) or not isinstance(table.get("columns"), list) or not isinstance(table.get("data"), list):
        raise InvalidInput("invalid_table", "table payload must be {'columns': [...], 'data': [[...], ...]}")
    columns, rows = table["columns"], table["data"]
    if not columns or not all(isinstance(c, str) and c for c in columns) or len(set(columns)) != len(columns):
        raise InvalidInput("invalid_table", f"table columns must be distinct non-empty str; got {columns!r:.200}")
    if len(rows) > options.max_rows:
        raise InvalidInput("too_large", f"table of {len(rows)} rows exceeds Table.MAX_ROWS = {options.max_rows}")
    types = check_rows("table", columns, rows, limits.max_table_cells)
    claimed: Any = table.get("column_types", {})
    if claimed and claimed != types:
        raise InvalidInput("invalid_table", f"column_types {claimed!r:.200} do not match the cells ({types!r:.200})")
    try:
        header, files = encode(columns, types, rows)
    except ValueError:  # a cell's type was checked, not what its lists and dicts hold
        raise InvalidInput("invalid_table", "a list or dict cell holds an infinite number (JSON has no "
                           "infinity); accepted: finite numbers, or null or NaN for a missing value") from None
    return Output(
        data=header,
        format="json",
        media_type="application/json",
        measurements={"rows": len(rows), "columns": len(columns), "column_types": types},
        related=[RelatedOutput(f.role, f.data, f.format, f.media_type) for f in files],
    )


def _nan_as_null(token: str) -> float | None:
    """json's hook for the tokens NaN, Infinity and -Infinity: NaN is a missing value, the others are kept
    (and refused: a cell by `check_rows`, a number inside a list or dict cell when stored)."""
    return None if token == "NaN" else float(token)


CONVERTER = Converter(name="table", version=VERSION, options_model=TableOptions, convert=convert)
