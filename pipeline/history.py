"""The history row format: what a row or the summary holds for a media value.

Rows are JSON objects with ``_step``, ``_timestamp``, ``_runtime`` and the
logged keys.  A media value is a reference the reader resolves to manifests,
so a row is written once and never waits for a conversion.
"""

from __future__ import annotations

from typing import Any

MEDIA_REF = "media-ref"


def media_ref(kind: str, step: int, key: str, count: int, is_list: bool) -> dict[str, Any]:
    """What a history row or the summary holds for a media value."""
    return {"_type": MEDIA_REF, "kind": kind, "step": step, "key": key, "count": count, "list": is_list}


def is_media_ref(value: Any) -> bool:
    return isinstance(value, dict) and value.get("_type") == MEDIA_REF
