"""`darkroom.Table`: rows and columns, with media in cells, stored as JSON with column types."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from darkroom._media import Media, json_copy
from darkroom._table_methods import TableMethods, check_log_mode, rows_from
from darkroom.pipeline.history import media_ref
from darkroom.pipeline.table_schema import cell_type, check_row, is_missing

DEFAULT_COLUMNS = ("Input", "Output", "Expected")


@dataclasses.dataclass(frozen=True)
class JsonSnapshot:
    """A JSON value serialised on the sender thread."""

    value: Any
    nbytes: int = 4096


class Table(TableMethods, Media):
    """A table to log.

    Parameters
    ----------
    columns: column names (default ``["Input", "Output", "Expected"]``).
    data: rows (lists), each as long as `columns`; or a 2-D numpy array, or a DataFrame.
    rows: the same as `data` (W&B's other name).
    dataframe: a pandas DataFrame (its columns and rows; pandas is not imported here).
    log_mode: W&B's "IMMUTABLE" (the default) or "MUTABLE": each log stores the table as it
        is then; "INCREMENTAL": each log stores the rows added since the previous log.
    dtype, optional, allow_mixed_types: W&B's column-type hints, accepted and unused: a
        column's type is its first non-null value's here.

    Cells hold numbers, str, bool, None, lists/dicts of those, or darkroom media
    (an Image per row...), which are converted like any other media and
    referenced from the table.  A missing value (None, NaN, pandas' NA or NaT)
    is kept as None; an infinite number is refused (JSON has none).  A column's
    type is its first non-null value's; the others must match.  At most
    `Table.MAX_ROWS` rows (200,000; set the class attribute to change it): more
    is an error, never a silent truncation.

    Each log takes a copy of the table as it is then; changing the table
    afterwards changes what the next log stores, not what was logged.

    Raises
    ------
    TypeError, ValueError: what was wrong (column, row, type) and what is accepted.
    """

    kind = "table"
    MAX_ROWS: ClassVar[int] = 200_000

    def __init__(self, columns: list[str] | None = None, data: Any = None, rows: Any = None,
                 dataframe: Any = None, dtype: Any = None, optional: Any = True, allow_mixed_types: bool = False,
                 log_mode: str | None = None):
        super().__init__(None)
        self.log_mode = check_log_mode(log_mode)
        self._logged_rows = 0  # rows an INCREMENTAL table has logged so far
        columns, data = rows_from(columns, data, rows, dataframe)
        columns = list(DEFAULT_COLUMNS) if columns is None else list(columns)
        if not all(isinstance(c, str) and c for c in columns):  # none (W&B's columns=[]): add_column later
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

    def add_column(self, name: str, data: Any, optional: bool = False) -> None:
        """Add a column of values, one per existing row (a list, or a 1-D array; W&B's `optional` is unused)."""
        if isinstance(data, np.ndarray) or all(hasattr(data, n) for n in ("detach", "cpu", "numpy")):
            data = (data if isinstance(data, np.ndarray) else data.detach().cpu().numpy()).tolist()
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

    def _media_cells(self, key: str) -> list[tuple[int, str, list[int]]]:
        """(column position, the key its media cells are logged under, their rows) of each media column."""
        cells = []
        for c, column in enumerate(self.columns):
            rows = [r for r, row in enumerate(self.data) if r >= self._logged_rows and isinstance(row[c], Media)]
            if rows:
                cells.append((c, f"_table/{key}/{column}", rows))
        return cells

    def _children(self, key: str, step: int) -> list[tuple[str, list[Media], list[int]]]:
        """Media cells to send first, per column."""
        return [(child_key, [self.data[r][c] for r in rows], rows) for c, child_key, rows in self._media_cells(key)]

    def _as_logged(self, key: str, step: int) -> Media:
        """A private copy of the table as it is now, its media cells as references to their items.

        Taken on the caller's thread: the caller may change any row, list, dict
        or cell once log() returns, and log the same table again.

        Raises
        ------
        TypeError: a cell holds something that is not JSON data (inside a list or dict).
        """
        # Rows are copied; cells only in "json" columns (lists and dicts), one column at a
        # time: numbers, str, bool and None cannot change.  10,000 rows: ~3 ms, ~8 ms more a json column.
        first = self._logged_rows  # 0 unless INCREMENTAL: then the rows after the previous log's
        data = [list(row) for row in self.data[first:]]
        for c, name in enumerate(self.columns):
            if self.column_types.get(name) == "json":
                for row, value in zip(data, json_copy([row[c] for row in data], "Table")):
                    row[c] = value
        for c, child_key, rows in self._media_cells(key):
            for r in rows:
                data[r - first][c] = {**media_ref(self.data[r][c].kind, step, child_key, 1, False), "index": r}
        table = {"columns": list(self.columns), "column_types": dict(self.column_types), "data": data}
        logged = _LoggedTable(table, self.caption, self.MAX_ROWS, self.nbytes)
        if self.log_mode == "INCREMENTAL":
            logged._extra = {"log_mode": "INCREMENTAL", "first_row": first}
            self._logged_rows = len(self.data)
        return logged

    def __repr__(self) -> str:
        return f"<darkroom.Table {len(self.data)} rows x {len(self.columns)} columns>"


class _LoggedTable(Media):
    """What one log of a Table sends: its JSON as it was then."""

    kind = "table"

    def __init__(self, table: dict[str, Any], caption: str | None, max_rows: int, nbytes: int):
        super().__init__(caption)
        self._payload = JsonSnapshot(table, nbytes=nbytes)
        self._options = {"max_rows": max_rows}


def _cell(value: Any) -> Any:
    """A cell as the table keeps it: numpy scalars as Python values, an array or tensor as its nested
    list (a json cell: W&B code puts arrays in cells), a missing value as None."""
    if all(hasattr(value, n) for n in ("detach", "cpu", "numpy")):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    return None if is_missing(value) else value


def _type_of(value: Any) -> str | None:
    if isinstance(value, Media):
        return value.kind
    return cell_type(value)
