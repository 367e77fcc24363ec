"""`run.summary`: each key's last logged value, unless set; a set value holds until the key is logged again."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from darkroom._guard import warn
from darkroom._media import array_from
from darkroom._payloads import ObjectWork
from darkroom._summary_array import SummaryArray, is_summary_array
from darkroom._values import check_key
from darkroom.pipeline import paths

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
        """Set a summary value; refused as the call's own error (like a bad key), never later in finish().

        A numpy array or tensor is kept whole in storage and summarised by its statistics
        (`darkroom._summary_array`); the summary of a key logged later is that key's last value again.
        """
        check_key(key)
        if is_summary_array(value):
            self._data[key] = self._array(key, value)
            return
        self._data[key] = self._run._row_value(f"_summary/{key}", value, self._run._step)

    def _array(self, key: str, value: Any) -> SummaryArray:
        array = array_from(value, f"summary[{key!r}]")
        assert array is not None
        run = self._run
        stored = SummaryArray(array, paths.summary_array_key(run.project, run.id, key))
        body = stored.object_body() if run._sender is not None else b""
        if run._sender is None or len(body) > run.settings.limits.max_payload_bytes:
            if body:
                warn(f"darkroom: summary[{key!r}] of {len(body)} bytes exceeds DARKROOM_MAX_PAYLOAD_BYTES "
                     f"({run.settings.limits.max_payload_bytes}); its statistics are kept, not the array")
            return SummaryArray(array, None)
        run._sender.put(ObjectWork(stored.storage_key, body), len(body))
        return stored

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"
