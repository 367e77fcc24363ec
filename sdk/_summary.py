"""`run.summary`: each key's last logged value, unless set; a set value holds until the key is logged again."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from darkroom._values import check_key

if TYPE_CHECKING:
    from darkroom._run import Run


class Summary(MutableMapping):
    """Each key's last logged value, unless set here; a set value holds until the key is logged again."""

    def __init__(self, run: "Run"):
        self._run = run
        self._data: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        """Set a summary value; refused as the call's own error (like a bad key), never later in finish()."""
        check_key(key)
        self._data[key] = self._run._row_value(f"_summary/{key}", value, self._run._step)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"
