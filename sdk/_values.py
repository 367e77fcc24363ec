"""What a history row holds for a logged value, and which log keys are accepted.

Said at `log()`, on the caller's thread, so a value JSON cannot hold never
reaches the spool (where it would cost the entries behind it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from darkroom._histogram import Histogram
from darkroom.pipeline import item_bounds
from darkroom.pipeline.errors import InvalidInput


def is_dataframe(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "pandas" and type(value).__name__ == "DataFrame"


_MAX_DEPTH = 64  # levels of dicts and lists in one logged value
_MAX_INT = 10 ** 4300  # Python's own bound on int <-> str (sys.int_info.default_max_str_digits)


def plain_value(value: Any, depth: int = 0) -> Any:
    """What a row holds for a non-media value: JSON data (or a Histogram, binned later).

    Raises
    ------
    TypeError, ValueError: a value JSON cannot hold, said at log() so it never reaches the spool.
    """
    if depth > _MAX_DEPTH:
        raise ValueError(f"a value nested deeper than {_MAX_DEPTH} levels of dicts and lists (or one that "
                         "contains itself) is not loggable")
    if value is None or isinstance(value, (bool, float, str, Histogram)):
        return value
    if isinstance(value, int):
        if not -_MAX_INT < value < _MAX_INT:
            raise ValueError("an int of more than 4300 digits is not loggable; accepted: log it as a str or float")
        return value
    if isinstance(value, (np.generic, complex, bytes, dt.date)):
        return _scalar(value)
    if isinstance(value, np.ndarray) or all(hasattr(value, n) for n in ("detach", "cpu", "numpy")):
        array = value if isinstance(value, np.ndarray) else value.detach().cpu().numpy()
        if array.dtype.kind not in "biuf":
            if array.size <= 32:
                return [_scalar(v) for v in array.reshape(-1)]
            raise TypeError(f"an array of dtype {array.dtype} is not loggable; accepted: bool, integer or float "
                            "arrays (and up to 32 values of other dtypes, stored as text)")
        if array.size == 1:
            return array.reshape(-1)[0].item()
        if array.size <= 32:
            return array.reshape(-1).tolist()
        return Histogram(array, num_bins=32)  # binned on the sender thread
    if isinstance(value, dict):
        return {str(k): plain_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v, depth + 1) for v in value]
    raise TypeError(f"{type(value).__name__} is not loggable; accepted: numbers, str, bool, None, "
                    "numpy scalars and small arrays, dicts and lists of those, and darkroom media "
                    "(Image) or lists of one media type")


def _scalar(value: Any) -> Any:
    """A scalar JSON can hold: complex numbers and dates become text, as W&B stores them."""
    if isinstance(value, (bytes, np.bytes_)):
        raise TypeError("bytes are not loggable; accepted: str (decode them first)")
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (complex, np.complexfloating, np.timedelta64)):
        return str(value)
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, (bool, int, float, str)) and not isinstance(item, bytes):
            return plain_value(item)
        raise TypeError(f"numpy {type(value).__name__} is not loggable; accepted: numbers, str and bool")
    return value


_RESERVED_KEYS = ("_step", "_timestamp", "_runtime")
_RESERVED_PREFIXES = ("_summary/", "_table/")  # where summary media and a table's media cells are stored


def check_key(key: Any) -> None:
    """Refuse a `log` or summary key that `paths.check_user_key` refuses, or a name darkroom writes itself.

    Raises
    ------
    InvalidInput (``invalid_key``)
    """
    item_bounds.check_key(key)  # paths.check_user_key, and no text a storage path cannot hold
    if key in _RESERVED_KEYS or key.startswith(_RESERVED_PREFIXES):
        raise InvalidInput("invalid_key", f"log key {key!r} is reserved: darkroom writes "
                           f"{', '.join(_RESERVED_KEYS)} in every row and stores media under "
                           f"{' and '.join(p + '...' for p in _RESERVED_PREFIXES)}; accepted: any other key")
