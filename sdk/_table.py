"""`darkroom.Table`: rows and columns, with media in cells, stored as JSON with column types."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from darkroom._media import Media
from darkroom.pipeline.history import media_ref
from darkroom.pipeline.table_schema import cell_type, check_row

DEFAULT_COLUMNS = ("Input", "Output", "Expected")


@dataclasses.dataclass(frozen=True)
class JsonSnapshot:
    """A JSON value serialised on the sender thread."""

    value: Any
    nbytes: int = 4096


class Table(Media):
    """A table to log.

    Parameters
    ----------
    columns: column names (default ``["Input", "Output", "Expected"]``).
    data: rows (lists), each as long as `columns`.
    dataframe: a pandas DataFrame (its columns and rows; pandas is not imported here).

    Cells hold numbers, str, bool, None, lists/dicts of those, or darkroom media
    (an Image per row...), which are converted like any other media and
    referenced from the table.  A column's type is its first non-null value's;
    the others must match.  At most `Table.MAX_ROWS` rows (10,000; set the class
    attribute to change it): more is an error, never a silent truncation.

    Raises
    ------
    TypeError, ValueError: what was wrong (column, row, type) and what is accepted.
    """

    kind = "table"
    MAX_ROWS: ClassVar[int] = 10_000

    def __init__(self, columns: list[str] | None = None, data: list[list[Any]] | None = None,
                 dataframe: Any = None):
        super().__init__(None)
        if dataframe is not None:
            if columns is not None or data is not None:
                raise TypeError("Table takes dataframe= or columns=/data=, not both")
            if not (hasattr(dataframe, "columns") and hasattr(dataframe, "itertuples")):
                raise TypeError(f"Table dataframe must be a pandas DataFrame; got {type(dataframe).__name__}")
            columns = [str(c) for c in dataframe.columns]
            data = [list(row) for row in dataframe.itertuples(index=False, name=None)]
        columns = list(DEFAULT_COLUMNS) if columns is None else list(columns)
        if not columns or not all(isinstance(c, str) and c for c in columns):
            raise TypeError(f"Table columns must be non-empty str; got {columns!r}")
        if len(set(columns)) != len(columns):
            raise ValueError(f"Table columns must be distinct; got {columns!r}")
        self.columns = columns
        self.column_types: dict[str, str] = {}
        self.data: list[list[Any]] = []
        for row in data or []:
            if not isinstance(row, (list, tuple)):
                raise TypeError(f"Table data rows must be lists; got {type(row).__name__}")
            self.add_data(*row)

    def add_data(self, *row: Any) -> None:
        """Append a row (one value per column)."""
        if len(self.data) >= self.MAX_ROWS:
            raise ValueError(f"Table has {self.MAX_ROWS} rows, its maximum (Table.MAX_ROWS); "
                             "raise Table.MAX_ROWS to log more")
        cells = [_cell(v) for v in row]
        try:
            check_row(self.columns, self.column_types, cells, _type_of)
        except ValueError as e:
            raise ValueError(f"Table row {len(self.data)}: {e}") from None
        self.data.append(cells)

    def add_column(self, name: str, data: list[Any]) -> None:
        """Add a column of values, one per existing row."""
        if len(data) != len(self.data):
            raise ValueError(f"column {name!r} has {len(data)} values for {len(self.data)} rows")
        if name in self.columns:
            raise ValueError(f"column {name!r} exists already")
        cells = [_cell(v) for v in data]
        types: dict[str, str] = {}
        for i, value in enumerate(cells):
            try:
                check_row([name], types, [value], _type_of)
            except ValueError as e:
                raise ValueError(f"Table row {i}: {e}") from None
        self.columns.append(name)
        self.column_types.update(types)
        for row, value in zip(self.data, cells):
            row.append(value)

    @property
    def nbytes(self) -> int:
        return 64 * len(self.data) * len(self.columns) + 4096

    def _children(self, key: str, step: int) -> list[tuple[str, list[Media], list[int]]]:
        """Media cells to send first, per column, and this table's payload referencing them."""
        children = []
        refs: dict[tuple[int, int], dict[str, Any]] = {}
        for c, column in enumerate(self.columns):
            rows = [r for r, row in enumerate(self.data) if isinstance(row[c], Media)]
            if not rows:
                continue
            child_key = f"_table/{key}/{column}"
            children.append((child_key, [self.data[r][c] for r in rows], rows))
            for r in rows:
                refs[(r, c)] = {**media_ref(self.data[r][c].kind, step, child_key, 1, False), "index": r}
        data = [[refs.get((r, c), v) for c, v in enumerate(row)] for r, row in enumerate(self.data)]
        self._payload = JsonSnapshot({"columns": self.columns, "column_types": self.column_types, "data": data})
        self._options = {"max_rows": self.MAX_ROWS}
        return children

    def __repr__(self) -> str:
        return f"<darkroom.Table {len(self.data)} rows x {len(self.columns)} columns>"


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _type_of(value: Any) -> str | None:
    if isinstance(value, Media):
        return value.kind
    return cell_type(value)
