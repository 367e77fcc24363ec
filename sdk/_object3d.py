"""`darkroom.Object3D`: point clouds (arrays, lidar scenes) and 3-D files (meshes, pts.json).

Only shapes and types are checked here; values (NaN, categories, colours),
boxes and file contents are checked by the worker (MEDIA_TYPES.md, Object3D).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from darkroom._media import ArraySnapshot, BytesSnapshot, FileSnapshot, Media, array_from, json_copy, read_open_file

FILE_TYPES = ("obj", "gltf", "glb", "babylon", "stl", "pts.json")
POINT_CLOUD_TYPES = ("lidar/beta",)
_COLUMNS = "N×3 (x, y, z), N×4 (x, y, z, category 1..14) or N×6 (x, y, z, r, g, b with 0..255)"
_MEDIA_TYPES = {"glb": "model/gltf-binary", "gltf": "model/gltf+json", "obj": "model/obj", "stl": "model/stl",
                "babylon": "application/json", "pts.json": "application/json"}


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
            self._payload, fmt = _file_snapshot(data, file_type)
            self._options = {"file_type": fmt}
            return
        if file_type is not None:
            raise ValueError(f"Object3D file_type={file_type!r} is only for files; got {type(data).__name__}")
        self._payload = ArraySnapshot(_points(data, "Object3D"))

    @classmethod
    def from_numpy(cls, arr: Any) -> "Object3D":
        """A point cloud from an N×3, N×4 or N×6 array."""
        if isinstance(arr, (str, os.PathLike, dict)) or hasattr(arr, "read"):
            raise TypeError(f"Object3D.from_numpy got {type(arr).__name__}; accepted: an array {_COLUMNS}")
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
        if cloud_type not in POINT_CLOUD_TYPES:
            raise ValueError(f"{where} point cloud type {cloud_type!r}; accepted: {', '.join(POINT_CLOUD_TYPES)}")
        if points is None:
            raise ValueError(f"{where} needs points: an array {_COLUMNS}")
        self._payload = ArraySnapshot(_points(points, f"{where} points"))
        scene = {"boxes": _items(boxes, f"{where} boxes"),
                 "vectors": [] if vectors is None else _items(vectors, f"{where} vectors")}
        # Boxes and vectors go as their own payload, not in the queue message:
        # a scene may hold thousands, and a message stays a few KB (DESIGN.md, point 2).
        self._related["scene"] = BytesSnapshot(json.dumps(scene).encode(), "json", "application/json")
        self._options = {"point_cloud_type": cloud_type}


def _points(data: Any, what: str) -> np.ndarray:
    array = array_from(data, what)
    if array is None:
        raise TypeError(f"{what} got {type(data).__name__}; accepted: a numpy array {_COLUMNS}, "
                        f"or a path or open file of type {', '.join(FILE_TYPES)}")
    if array.ndim != 2 or array.shape[1] not in (3, 4, 6):
        raise ValueError(f"{what} has shape {array.shape}; accepted: {_COLUMNS}")
    if array.dtype.kind == "b":
        raise TypeError(f"{what} array dtype bool is not accepted; accepted: integer or float")
    return array


def _items(value: Any, what: str) -> list[Any]:
    """A JSON copy of a list of boxes or vectors (their fields are checked by the worker)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{what} must be a list of dicts; got {type(value).__name__}")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise TypeError(f"{what}[{i}] must be a dict; got {type(entry).__name__}")
    return json_copy(list(value), what)


def _file_snapshot(data: Any, file_type: str | None) -> tuple[Any, str]:
    listed = ", ".join(FILE_TYPES)
    if file_type is not None and (not isinstance(file_type, str) or file_type.lower() not in FILE_TYPES):
        raise ValueError(f"Object3D file_type={file_type!r}; accepted: {listed}")
    fmt = file_type.lower() if file_type else None
    if hasattr(data, "read"):
        if fmt is None:
            raise ValueError(f"Object3D: an open file needs file_type=; accepted: {listed}")
        return BytesSnapshot(read_open_file(data, "Object3D"), _ext(fmt), _media_type(fmt)), fmt
    path = Path(data)
    if fmt is None:
        name = path.name.lower()
        fmt = "pts.json" if name.endswith(".pts.json") else path.suffix.lower().lstrip(".")
        if fmt not in FILE_TYPES:
            raise ValueError(f"Object3D: cannot tell the format of {str(path)!r} from its name; "
                             f"accepted: {listed} (or pass file_type=)")
    if not path.is_file():
        raise FileNotFoundError(f"Object3D: no file at {str(path)!r}; accepted: a path to a {listed} file")
    return FileSnapshot.of(path, _ext(fmt)), fmt


def _ext(fmt: str) -> str:
    return "json" if fmt == "pts.json" else fmt  # a raw payload's extension is one word


def _media_type(fmt: str) -> str:
    return _MEDIA_TYPES[fmt]
