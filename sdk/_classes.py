"""`darkroom.Classes` (W&B's ``wandb.Classes``): names of class ids, for an image's boxes and masks.

``Image(..., classes=Classes([{"id": 1, "name": "cat"}, ...]))`` (or the plain
list) names the classes of every box group and mask that does not name its
own with ``class_labels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Classes:
    """A set of classes: ``[{"id": int, "name": str}, ...]``.

    Raises
    ------
    TypeError: not a list of dicts with an int ``id`` and a str ``name``.
    """

    def __init__(self, class_set: Sequence[dict[str, Any]]):
        self.labels = class_labels(class_set, "Classes")

    def __repr__(self) -> str:
        return f"<darkroom.Classes {len(self.labels)} classes>"


def class_labels(classes: Any, what: str) -> dict[str, str]:
    """``{str(id): name}`` of a `Classes` or a list of ``{"id", "name"}`` dicts."""
    if isinstance(classes, Classes):
        return dict(classes.labels)
    if isinstance(classes, (str, bytes, dict)) or not isinstance(classes, Sequence):
        raise TypeError(f"{what} must be a list of {{'id': int, 'name': str}}; got {type(classes).__name__}")
    labels: dict[str, str] = {}
    for entry in classes:
        ident = entry.get("id") if isinstance(entry, dict) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(ident, bool) or not isinstance(ident, int) or not isinstance(name, str):
            raise TypeError(f"{what}: each class must be {{'id': int, 'name': str}}; got {entry!r:.80}")
        labels[str(ident)] = name
    return labels
