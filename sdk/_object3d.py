"""`darkroom.Object3D`: point clouds (arrays, lidar scenes) and 3-D files (meshes, pts.json).

Only shapes and types are checked here; values (NaN, categories, colours),
boxes and file contents are checked by the worker (MEDIA_TYPES.md, Object3D).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from darkroom._media import ArraySnapshot, BytesSnapshot, Media, array_from, format_file_snapshot, json_copy
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.object3d_layout import (
    BOX_KEYS,
    COLUMNS,
    FILE_TYPES,
    MEDIA_TYPES,
    VECTOR_KEYS,
    check_point_cloud_type,
    check_point_dtype,
    point_columns,
    scene_entries,
)


class Object3D(Media):
    """A 3-D object to log: a point cloud or a 3-D file.

    Parameters
    ----------
    data: a numpy array (or tensor, or nested list) of shape N×3, N×4 or N×6;
        a path to an obj, gltf, glb, babylon, stl or pts.json file; an open
        file with `file_type`; or a dict ``{"type": "lidar/beta", "points":
        ..., "boxes": [...], "vectors": [...]}`` (as `from_point_cloud`).
    caption: text kept in the manifest.
    file_type: the format of an open file (required) or of a path (overrides
        its extension).

    Raises
    ------
    TypeError, ValueError, FileNotFoundError: what was given and what is accepted.
    """

    kind = "object3d"

    def __init__(self, data: Any, caption: str | None = None, file_type: str | None = None):
        super().__init__(caption)
        if isinstance(data, dict):
            self._point_cloud(data.get("points"), data.get("boxes", []), data.get("vectors"),
                              data.get("type"), "Object3D")
            return
        if hasattr(data, "read") or isinstance(data, (str, os.PathLike)):
            self._payload, fmt = format_file_snapshot(data, file_type, FILE_TYPES, "Object3D", MEDIA_TYPES)
            self._options = {"file_type": fmt}
            return
        if file_type is not None:
            raise ValueError(f"Object3D file_type={file_type!r} is only for files; got {type(data).__name__}")
        self._payload = ArraySnapshot(_points(data, "Object3D"))

    @classmethod
    def from_numpy(cls, arr: Any) -> "Object3D":
        """A point cloud from an N×3, N×4 or N×6 array."""
        if isinstance(arr, (str, os.PathLike, dict)) or hasattr(arr, "read"):
            raise TypeError(f"Object3D.from_numpy got {type(arr).__name__}; accepted: an array {COLUMNS}")
        return cls(arr)

    @classmethod
    def from_file(cls, path_or_io: Any, file_type: str | None = None) -> "Object3D":
        """A 3-D file: a path, or an open file with `file_type`."""
        if not (hasattr(path_or_io, "read") or isinstance(path_or_io, (str, os.PathLike))):
            raise TypeError(f"Object3D.from_file got {type(path_or_io).__name__}; accepted: a path or an "
                            f"open file of type {', '.join(FILE_TYPES)}")
        return cls(path_or_io, file_type=file_type)

    @classmethod
    def from_point_cloud(cls, points: Any, boxes: Any, vectors: Any = None,
                         point_cloud_type: str = "lidar/beta") -> "Object3D":
        """A lidar scene: points, 3-D boxes and vectors, stored as pts.json.

        Parameters
        ----------
        points: an array N×3, N×4 or N×6 (as for `Object3D`).
        boxes: a list of ``{"corners": [[x, y, z]] * 8, "color": [r, g, b],
            "label": str (optional), "score": number (optional)}``.
        vectors: a list of ``{"start": [x, y, z], "end": [x, y, z],
            "color": [r, g, b] (optional)}``.
        point_cloud_type: "lidar/beta".
        """
        obj = cls.__new__(cls)
        Media.__init__(obj)
        obj._point_cloud(points, boxes, vectors, point_cloud_type, "Object3D.from_point_cloud")
        return obj

    def _point_cloud(self, points: Any, boxes: Any, vectors: Any, cloud_type: Any, where: str) -> None:
        try:
            check_point_cloud_type(cloud_type, where)
        except InvalidInput as e:
            raise ValueError(e.message) from None
        if points is None:
            raise ValueError(f"{where} needs points: an array {COLUMNS}")
        self._payload = ArraySnapshot(_points(points, f"{where} points"))
        scene = {"boxes": _items(boxes, f"{where} boxes", BOX_KEYS),
                 "vectors": [] if vectors is None else _items(vectors, f"{where} vectors", VECTOR_KEYS)}
        # Boxes and vectors go as their own payload, not in the queue message:
        # a scene may hold thousands, and a message stays a few KB (DESIGN.md, point 2).
        self._related["scene"] = BytesSnapshot(json.dumps(scene).encode(), "json", "application/json")
        self._options = {"point_cloud_type": cloud_type}


def _points(data: Any, what: str) -> np.ndarray:
    array = array_from(data, what)
    if array is None:
        raise TypeError(f"{what} got {type(data).__name__}; accepted: a numpy array {COLUMNS}, "
                        f"or a path or open file of type {', '.join(FILE_TYPES)}")
    if array.size == 0 and array.ndim == 1:  # [] or an empty array: an empty cloud, as W&B accepts
        array = np.zeros((0, 3))
    try:
        point_columns(array.shape, what)
    except InvalidInput as e:
        raise ValueError(e.message) from None
    try:
        check_point_dtype(array.dtype, array.dtype.kind, what)
    except InvalidInput as e:
        raise TypeError(e.message) from None
    return array


def _items(value: Any, what: str, keys: tuple[str, ...]) -> list[Any]:
    """A JSON copy of a list of boxes or vectors; their keys are checked here, their fields by the worker."""
    if isinstance(value, (np.ndarray, tuple)):
        value = value.tolist() if isinstance(value, np.ndarray) else list(value)
    try:
        scene_entries(value, what, keys)
    except InvalidInput as e:
        raise TypeError(e.message) from None
    return json_copy(value, what)
