"""Custom charts: the drawn columns checked as a table, the spec against them; stored as table JSON.

The artifact is the table (so `RunReader.table` and the table view read it);
the spec (type, fields, title, W&B's string_fields) rides in the manifest as
``chart``.  The viewer draws it (sdk/ui/static/js/chart_view.js).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from darkroom.pipeline import chart_layout
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.table_schema import check_rows
from darkroom.workers.converters import Converter, ItemInput, Output

VERSION = "1"


class ChartOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chart: Literal["line", "scatter", "bar", "histogram", "line_series", "custom"]
    fields: dict[str, str] = Field(max_length=8)  # field -> column name
    title: str = Field(default="", max_length=chart_layout.MAX_STRING_FIELD_CHARS)
    string_fields: dict[str, str] = Field(default_factory=dict, max_length=chart_layout.MAX_STRING_FIELDS)
    vega_spec_name: str | None = Field(default=None, max_length=200)
    split_table: bool = False


def convert(item: ItemInput, options: ChartOptions, limits: Limits) -> Output:
    """Check a chart's table and spec; store the table as strict JSON and the spec in the manifest.

    Raises
    ------
    InvalidInput (``invalid_chart``, ``invalid_table``, ``too_large``): what is wrong, naming the row,
        column or field, and what is accepted.
    """
    try:
        table = json.loads(item.payload.data, parse_constant=lambda t: None if t == "NaN" else float(t))
    except (ValueError, RecursionError) as e:
        raise InvalidInput("invalid_table", f"chart payload is not JSON ({e})") from None
    if not isinstance(table, dict) or not isinstance(table.get("columns"), list) or not isinstance(table.get("data"), list):
        raise InvalidInput("invalid_table", "chart payload must be {'columns': [...], 'data': [[...], ...]}")
    columns, rows = table["columns"], table["data"]
    if not all(isinstance(c, str) and c for c in columns) or len(set(columns)) != len(columns):
        raise InvalidInput("invalid_table", f"chart columns must be distinct non-empty str; got {columns!r:.200}")
    types = check_rows("chart table", columns, rows, limits.max_table_cells)
    chart_layout.check_spec(options.chart, options.fields, columns, options.string_fields)
    chart_layout.check_column_types(options.chart, options.fields, types)
    bad = [c for c, t in types.items() if t not in ("number", "string", "bool")]
    if bad:
        raise InvalidInput("invalid_chart", f"chart column {bad[0]!r} holds {types[bad[0]]} values; "
                           "accepted: numbers, str or bool")
    try:
        data = json.dumps({"columns": columns, "column_types": types, "data": rows}, separators=(",", ":"),
                          allow_nan=False).encode()
    except ValueError:
        raise InvalidInput("invalid_table", "a chart cell holds an infinite number (JSON has none)") from None
    spec: dict[str, Any] = {"type": options.chart, "fields": options.fields, "title": options.title,
                            "string_fields": options.string_fields, "split_table": options.split_table}
    if options.vega_spec_name:
        spec["vega_spec_name"] = options.vega_spec_name
    return Output(data=data, format="json", media_type="application/json",
                  measurements={"rows": len(rows), "columns": len(columns), "column_types": types,
                                "chart": options.chart},
                  warnings=[] if rows else ["the chart's table has no rows: nothing to draw"],
                  manifest_fields={"chart": spec})


CONVERTER = Converter(name="chart", version=VERSION, options_model=ChartOptions, convert=convert)
