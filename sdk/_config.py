"""`run.config` (and `darkroom.config`): a run's hyperparameters, read and set as keys or attributes.

W&B code reads ``config.lr`` and ``config["lr"]``, sets either way, and calls
``config.update(...)`` with a dict or an ``argparse.Namespace``; all of it is
kept in the run's ``run.json``.  Values are stored as JSON: numpy scalars and
arrays and tensors become numbers and lists; anything else JSON cannot hold
is stored as its ``str()``, as W&B does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

_MAX_DEPTH = 32


class Config:
    """A run's hyperparameters: ``config.lr``, ``config["lr"]``, ``config.update({...})``.

    Setting a key changes the stored ``run.json`` when the current row is
    written (and at ``finish()``), not at once.
    """

    def __init__(self, data: Any = None, on_change: Callable[[], None] | None = None):
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_on_change", None)
        if data is not None:
            self.update(data)
        object.__setattr__(self, "_on_change", on_change)

    # -- W&B's methods -------------------------------------------------------
    def update(self, data: Any, allow_val_change: bool | None = None) -> None:
        """Set every key of `data`: a dict, a Config, an ``argparse.Namespace`` or an object with ``__dict__``.

        Raises
        ------
        TypeError: `data` is none of those, or a key is not a str.
        """
        for key, value in _items(data):
            self[key] = value

    def setdefaults(self, data: Any) -> None:
        """Set the keys of `data` that are not set yet."""
        for key, value in _items(data):
            if key not in self._data:
                self[key] = value

    def as_dict(self) -> dict[str, Any]:
        """A copy of the keys and values."""
        return dict(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return self._data.items()

    def values(self) -> Any:
        return self._data.values()

    # -- keys and attributes ----------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str) or not key:
            raise TypeError(f"config keys must be non-empty str; got {type(key).__name__} {key!r}")
        self._data[key] = _json_value(value, 0)
        if self._on_change is not None:
            self._on_change()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        if self._on_change is not None:
            self._on_change()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}; keys: {', '.join(self._data) or 'none'}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._data == other._data
        return isinstance(other, Mapping) and self._data == dict(other)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


def _items(data: Any) -> list[tuple[Any, Any]]:
    if isinstance(data, Config):
        return list(data._data.items())
    if isinstance(data, Mapping):
        return list(data.items())
    if hasattr(data, "__dict__") and not isinstance(data, type):  # argparse.Namespace, a simple object
        return [(k, v) for k, v in vars(data).items() if not k.startswith("_")]
    raise TypeError(f"config takes a dict, an argparse.Namespace or an object with attributes; "
                    f"got {type(data).__name__}")


def _json_value(value: Any, depth: int) -> Any:
    """`value` as JSON data: numpy and tensors as numbers and lists, other objects as their str (as W&B)."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"a config value nested deeper than {_MAX_DEPTH} levels is not accepted")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return _json_value(value.item(), depth)
    if all(hasattr(value, n) for n in ("detach", "cpu", "numpy")):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return _json_value(value.tolist(), depth)
    if isinstance(value, Config):
        return value.as_dict()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v, depth + 1) for v in value]
    return str(value)
