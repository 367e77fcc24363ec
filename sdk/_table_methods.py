"""W&B's Table methods on `darkroom.Table`: the inputs it takes and the ways to read a table back.

`rows_from` turns what W&B's ``Table(columns, data, rows, dataframe)`` accepts
(lists of rows, a 2-D numpy array or tensor, a pandas DataFrame) into columns
and rows; `TableMethods` adds ``add_row``, ``iterrows``, ``get_column``,
``get_index``, ``get_dataframe`` and ``add_computed_columns``, which behave as
W&B documents them.  pandas is imported only by ``get_dataframe``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

LOG_MODES = ("IMMUTABLE", "MUTABLE", "INCREMENTAL")


def is_dataframe(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "itertuples")


def rows_from(columns: Any, data: Any, rows: Any, dataframe: Any) -> tuple[Any, list[Any] | None]:
    """(columns, rows) from W&B's constructor arguments.

    Raises
    ------
    TypeError: two sources of rows, or a source of a type not accepted.
    ValueError: an array that is not 2-D.
    """
    if rows is not None:
        if data is not None:
            raise TypeError("Table takes data= or rows= (the same thing), not both")
        data = rows
    if data is not None and is_dataframe(data):
        dataframe, data = data, None
    if dataframe is not None:
        if data is not None:
            raise TypeError("Table takes dataframe= or data=, not both")
        if not is_dataframe(dataframe):
            raise TypeError(f"Table dataframe must be a pandas DataFrame; got {type(dataframe).__name__}")
        if columns is None:
            columns = [str(c) for c in dataframe.columns]
        return columns, [list(row) for row in dataframe.itertuples(index=False, name=None)]
    if data is None:
        return columns, None
    if all(hasattr(data, n) for n in ("detach", "cpu", "numpy")):
        data = data.detach().cpu().numpy()
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise ValueError(f"Table data as an array must be 2-D (rows, columns); got shape {data.shape}")
        return columns, data.tolist()  # numpy scalars become Python numbers
    if not isinstance(data, (list, tuple)):
        raise TypeError(f"Table data must be a list of rows, a 2-D numpy array or a pandas DataFrame; "
                        f"got {type(data).__name__}")
    return columns, [row.tolist() if isinstance(row, np.ndarray) else row for row in data]


def check_log_mode(log_mode: Any) -> str:
    mode = "IMMUTABLE" if log_mode is None else log_mode
    if mode not in LOG_MODES:
        raise ValueError(f"Table log_mode={log_mode!r}; accepted: {', '.join(LOG_MODES)}")
    return mode


class TableMethods:
    """W&B's methods of a table (mixed into `darkroom.Table`)."""

    columns: list[str]
    data: list[list[Any]]
    add_data: Callable[..., None]
    add_column: Callable[..., None]

    def __eq__(self, other: object) -> bool:
        """Same columns and rows (media cells compared as media), as W&B's."""
        if not isinstance(other, TableMethods):
            return NotImplemented
        return self.columns == other.columns and self.data == other.data

    def __hash__(self) -> int:  # one value for every table: a table changes, and its hash must not
        return hash("darkroom.Table")

    def add_row(self, *row: Any) -> None:
        """`add_data` under W&B's other name."""
        self.add_data(*row)

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """(index, row) for each row, in order."""
        for index, row in enumerate(self.data):
            yield index, row

    def get_index(self) -> list[int]:
        """The row indices, 0..n-1 (W&B gives them as int subclasses; plain ints here)."""
        return list(range(len(self.data)))

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The values of column `name`, as a list or (``convert_to="numpy"``) a numpy array.

        Raises
        ------
        ValueError: no such column (the columns are listed), or a `convert_to` not accepted.
        """
        if name not in self.columns:
            raise ValueError(f"Table has no column {name!r}; columns: {', '.join(self.columns)}")
        c = self.columns.index(name)
        values = [row[c] for row in self.data]
        if convert_to is None:
            return values
        if convert_to != "numpy":
            raise ValueError(f"get_column convert_to={convert_to!r}; accepted: None or 'numpy'")
        return np.array([v.to_data_array() if hasattr(v, "to_data_array") else v for v in values])

    def get_dataframe(self) -> Any:
        """The table as a pandas DataFrame (media cells stay media objects).

        Raises
        ------
        ImportError: pandas is not installed.
        """
        import pandas as pd

        return pd.DataFrame(self.data, columns=list(self.columns))

    def add_computed_columns(self, fn: Callable[[int, dict[str, Any]], dict[str, Any]]) -> None:
        """Add the columns `fn(index, row)` returns for each row (a dict of new column -> value).

        Raises
        ------
        TypeError: `fn` returned something other than a dict.
        ValueError: rows returned different columns, or a column that exists already.
        """
        computed = []
        for index, row in enumerate(self.data):
            out = fn(index, dict(zip(self.columns, row)))
            if not isinstance(out, dict):
                raise TypeError(f"add_computed_columns: fn returned {type(out).__name__} for row {index}; "
                                "accepted: a dict of {new column: value}")
            computed.append(out)
        names = list(computed[0]) if computed else []
        for index, out in enumerate(computed):
            if list(out) != names:
                raise ValueError(f"add_computed_columns: row {index} gave columns {list(out)}, row 0 gave {names}; "
                                 "every row must give the same columns")
        for name in names:
            self.add_column(name, [out[name] for out in computed])
