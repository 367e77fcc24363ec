"""Custom charts (W&B's ``wandb.plot.line`` ... and ``plot_table``): the chart types, the table
fields each needs, and the names of W&B's preset Vega specs.  One rule for the SDK (cheap checks
at the call) and the chart converter (the whole check).

A chart is stored as a table (the columns it draws) plus a small spec: its
type, which column plays which field, its title and W&B's ``string_fields``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from darkroom.pipeline.errors import InvalidInput

# chart type -> (required fields, optional fields); a field's value is a column name.
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "line": (("x", "y"), ("stroke",)),
    "scatter": (("x", "y"), ("stroke",)),
    "bar": (("label", "value"), ()),
    "histogram": (("value",), ()),
    "line_series": (("step", "lineKey", "lineVal"), ()),
    # A Vega spec of the user's own (`plot_table("me/my_chart/v1", ...)`): darkroom has no Vega
    # runtime, so it keeps the spec's name and the fields' columns, and the viewer shows them as a table.
    "custom": ((), ()),
}
CHARTS = tuple(FIELDS)
# Fields whose column must hold numbers.
NUMERIC = {"x", "y", "value", "step", "lineVal"}

# W&B's preset Vega specs (`wandb.plot_table(vega_spec_name, ...)`) drawn here as a chart type,
# and the fields they take: W&B's "class" (area-under-curve) is this viewer's stroke.
PRESETS: dict[str, tuple[str, dict[str, str]]] = {
    "wandb/line/v0": ("line", {}),
    "wandb/scatter/v0": ("scatter", {}),
    "wandb/bar/v0": ("bar", {}),
    "wandb/histogram/v0": ("histogram", {}),
    "wandb/lineseries/v0": ("line_series", {}),
    "wandb/area-under-curve/v0": ("line", {"class": "stroke"}),
}
MAX_FIELDS = 8
MAX_STRING_FIELD_CHARS = 1000
MAX_STRING_FIELDS = 32


def preset(vega_spec_name: Any, fields: Any) -> tuple[str, dict[str, str]]:
    """The chart type and fields of a ``plot_table`` call: a preset's, else ``custom`` (kept, shown as a table).

    Raises
    ------
    InvalidInput (``invalid_chart``): a spec name that is not a str, or fields that are not a dict of str.
    """
    if not isinstance(vega_spec_name, str) or not vega_spec_name or len(vega_spec_name) > 200:
        raise InvalidInput("invalid_chart", f"plot_table vega_spec_name={vega_spec_name!r:.80}; accepted: a spec "
                           f"name such as {', '.join(PRESETS)}")
    if not isinstance(fields, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        raise InvalidInput("invalid_chart", f"plot_table fields must be a dict of {{field: column name}}; got {fields!r:.200}")
    chart, renamed = PRESETS.get(vega_spec_name, ("custom", {}))
    return chart, {renamed.get(k, k): v for k, v in fields.items()}


def check_spec(chart: Any, fields: Any, columns: list[str], string_fields: Any = None) -> None:
    """That `fields` names the columns `chart` needs, and `string_fields` is a small dict of str.

    Raises
    ------
    InvalidInput (``invalid_chart``): the chart type, a missing or unknown field, a column not in the
        table, or string fields not accepted; each names what is accepted.
    """
    if chart not in FIELDS:
        raise InvalidInput("invalid_chart", f"chart type {chart!r}; accepted: {', '.join(CHARTS)}")
    required, optional = FIELDS[chart]
    missing = [f for f in required if not fields.get(f)]
    if missing:
        raise InvalidInput("invalid_chart", f"{chart} chart needs the field {missing[0]!r} (a column name); "
                           f"fields: {', '.join(required + optional)}")
    if len(fields) > MAX_FIELDS:
        raise InvalidInput("invalid_chart", f"{len(fields)} fields; accepted: at most {MAX_FIELDS}")
    for field, column in fields.items():
        if chart != "custom" and field not in required + optional:
            raise InvalidInput("invalid_chart", f"{chart} chart has no field {field!r}; fields: "
                               f"{', '.join(required + optional)}")
        if column is not None and column not in columns:
            raise InvalidInput("invalid_chart", f"{chart} chart field {field}={column!r} is not a column of the "
                               f"table; columns: {', '.join(columns)}")
    if string_fields is None:
        return
    if (not isinstance(string_fields, Mapping) or len(string_fields) > MAX_STRING_FIELDS
            or not all(isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_STRING_FIELD_CHARS
                       for k, v in string_fields.items())):
        raise InvalidInput("invalid_chart", f"string_fields must be a dict of at most {MAX_STRING_FIELDS} str "
                           f"values of at most {MAX_STRING_FIELD_CHARS} characters; got {string_fields!r:.200}")


def check_column_types(chart: str, fields: Mapping[str, str | None], column_types: Mapping[str, str]) -> None:
    """That each numeric field's column holds numbers (an empty column types nothing).

    Raises
    ------
    InvalidInput (``invalid_chart``)
    """
    for field, column in fields.items():
        kind = column_types.get(column) if column else None
        if field in NUMERIC and kind not in (None, "number"):
            raise InvalidInput("invalid_chart", f"{chart} chart field {field}={column!r} must be a column of "
                               f"numbers; it holds {kind} values")
