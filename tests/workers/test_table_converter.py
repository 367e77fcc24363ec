"""workers/converters/table.py: payloads from anything but the SDK, checked again and stored as strict JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload
from darkroom.workers.converters.table import TableOptions, convert


def run(payload: bytes) -> Output:
    return convert(ItemInput(Payload(payload, "application/json", "json")), TableOptions(), Limits())


def strict_json(data: bytes) -> Any:
    """`data` parsed as strict JSON (RFC 8259): NaN and Infinity tokens are refused."""

    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return json.loads(data, parse_constant=refuse)


def test_a_nan_token_is_a_missing_value_typed_by_the_other_cells_and_stored_as_null() -> None:
    out = run(b'{"columns": ["s", "n", "j"], "data": [[NaN, NaN, {"v": [NaN, 1]}], ["x", 2, null]]}')
    assert out.measurements["column_types"] == {"s": "string", "n": "number", "j": "json"}
    rows = next(f.data for f in out.related if f.role == "rows")
    assert [strict_json(line) for line in rows.splitlines()] == [[None, None, {"v": [None, 1]}], ["x", 2, None]]
    assert strict_json(out.data)["rows"] == 2


def test_an_infinite_cell_fails_the_table_naming_the_row_and_column() -> None:
    with pytest.raises(InvalidInput) as info:
        run(b'{"columns": ["a", "b"], "data": [[1, 2], [3, -Infinity]]}')
    assert info.value.code == "invalid_table"
    assert info.value.message == ("table row 1: column 'b': -inf cannot be stored (JSON has no infinity); "
                                  "accepted: finite numbers, or None or NaN for a missing value")


@pytest.mark.parametrize("number", [b"Infinity", b"1e999"])
def test_an_infinite_number_inside_a_list_or_dict_cell_fails_the_table(number: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        run(b'{"columns": ["j"], "data": [[{"v": [1, %s]}]]}' % number)
    assert info.value.code == "invalid_table"
    assert info.value.message.startswith("a list or dict cell holds an infinite number (JSON has no infinity)")
