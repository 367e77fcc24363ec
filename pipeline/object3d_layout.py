"""Which arrays are point clouds, which files are 3-D objects, and the shape of a lidar scene (MEDIA_TYPES.md, Object3D).

One rule, used twice: the SDK applies what is cheap at construction (the
cloud's shape and dtype, the file format, the scene's lists and keys) and the
worker applies all of it again, with the values (categories, colours,
corners), because workers never trust a message.  `what` names the argument
in the message ("Object3D points" in the SDK, "points" in the worker).
"""

from __future__ import annotations

from darkroom.pipeline.errors import InvalidInput

FILE_TYPES = ("obj", "gltf", "glb", "babylon", "stl", "pts.json")
# A file's format to the media type it is stored and served with.
MEDIA_TYPES = {
    "obj": "model/obj", "gltf": "model/gltf+json", "glb": "model/gltf-binary", "stl": "model/stl",
    "babylon": "application/json", "pts.json": "application/json",
}
POINT_CLOUD_TYPES = ("lidar/beta",)
COLUMNS = "N×3 (x, y, z), N×4 (x, y, z, category 1..14) or N×6 (x, y, z, r, g, b with 0..255)"
# The same rule for a cloud written as JSON rows (pts.json).
JSON_ROWS = "rows of 3 (x, y, z), 4 (x, y, z, category 1..14) or 6 (x, y, z, r, g, b with 0..255) numbers"
BOX_KEYS = ("corners", "color", "label", "score")
VECTOR_KEYS = ("start", "end", "color")
SCENE_KEYS = ("type", "points", "boxes", "vectors")


def point_columns(shape: tuple[int, ...], what: str) -> int:
    """The columns (3, 4 or 6) of a point cloud of `shape`.

    Raises
    ------
    InvalidInput (``invalid_shape``): not N×3, N×4 or N×6.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) != 2 or shape[1] not in (3, 4, 6):
        raise InvalidInput("invalid_shape", f"{what} has shape {shape}; accepted: {COLUMNS}")
    return shape[1]


def check_point_dtype(dtype: object, kind: str, what: str) -> None:
    """Refuse a cloud whose numbers are not integers or floats (`kind` is numpy's dtype.kind).

    Raises
    ------
    InvalidInput (``invalid_dtype``).
    """
    if kind not in "iuf":
        raise InvalidInput("invalid_dtype", f"{what} has dtype {dtype}; accepted: integer or float numbers")


def check_point_cloud_type(value: object, what: str) -> str:
    """A point cloud type darkroom knows.

    Raises
    ------
    InvalidInput (``invalid_options``).
    """
    if value not in POINT_CLOUD_TYPES:
        raise InvalidInput("invalid_options",
                           f"{what} point cloud type {value!r}; accepted: {', '.join(POINT_CLOUD_TYPES)}")
    return value  # type: ignore[return-value]


def scene_entries(value: object, what: str, keys: tuple[str, ...]) -> list[dict]:
    """A scene's boxes or vectors: a list of dicts with no key outside `keys` (their fields are checked by the worker).

    Raises
    ------
    InvalidInput (``invalid_scene``): not a list, an entry not a dict, or an unknown key, naming the entry.
    """
    if not isinstance(value, list):
        raise InvalidInput("invalid_scene", f"{what} must be a list of dicts; got {type(value).__name__}")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise InvalidInput("invalid_scene", f"{what}[{i}] must be a dict; got {type(entry).__name__}")
        unknown = sorted(set(entry) - set(keys), key=str)
        if unknown:
            raise InvalidInput("invalid_scene", f"{what}[{i}] has unknown keys {unknown}; accepted: {', '.join(keys)}")
    return value
