"""Point clouds: rows checked and written as pts.json, and the lidar/beta scene's boxes and vectors.

The rules are MEDIA_TYPES.md's Object3D section: rows of 3 (x, y, z), 4 (+
category 1..14) or 6 (+ r, g, b in 0..255) finite numbers; a box has exactly
8 corners and a colour; a vector has a start and an end.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.object3d_layout import (
    BOX_KEYS,
    JSON_ROWS,
    POINT_CLOUD_TYPES,
    SCENE_KEYS,
    VECTOR_KEYS,
    check_point_dtype,
    point_columns,
    scene_entries,
)
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import geometry

# Viewers show at most this many points (MEDIA_TYPES.md); more are stored whole and flagged.
DISPLAY_POINTS = 300_000


def check_points(array: np.ndarray, limits: Limits, what: str, warnings: list[str]) -> np.ndarray:
    """Check a cloud's shape, size and values; return it with colours rounded to whole numbers.

    Raises
    ------
    InvalidInput: ``invalid_shape``, ``invalid_dtype``, ``too_large`` (DARKROOM_MAX_POINTS),
        ``non_finite`` or ``invalid_points`` (a category or colour out of range, naming the row).
    """
    point_columns(array.shape, what)
    check_point_dtype(array.dtype, array.dtype.kind, what)
    if array.shape[0] > limits.max_points:
        raise InvalidInput("too_large", f"{what} has {array.shape[0]} points; the bound is "
                           f"{limits.max_points} (DARKROOM_MAX_POINTS)")
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            bad = np.argwhere(~finite)
            raise InvalidInput("non_finite", f"{what} has {len(bad)} NaN or infinite values (first at row "
                               f"{int(bad[0][0])}, column {int(bad[0][1])}); accepted: finite numbers")
    columns = array.shape[1]
    if columns == 4:
        _check_range(array[:, 3], 1, 14, what, "category", "a whole number 1..14", whole=True)
    elif columns == 6:
        colours = array[:, 3:]
        outside = ((colours < 0) | (colours > 255)).any(axis=1)
        if outside.any():  # W&B stores them as given; clipped here, and said (MEDIA_TYPES.md, Object3D)
            row = int(np.argmax(outside))
            warnings.append(f"{what}: {int(outside.sum())} rows had colours outside 0..255 (first: row {row}, "
                            f"{colours[row].tolist()}); clipped to 0..255")
            array = array.copy()
            array[:, 3:] = np.clip(colours, 0, 255)
            colours = array[:, 3:]
        if array.dtype.kind == "f" and not np.array_equal(colours, np.rint(colours)):
            warnings.append(f"{what}: colours that were not whole numbers were rounded")
            array = array.copy()
            array[:, 3:] = np.rint(colours)
    return array


def _check_range(values: np.ndarray, low: int, high: int, what: str, name: str, accepted: str,
                 whole: bool) -> None:
    bad = (values < low) | (values > high)
    if whole and values.dtype.kind == "f":
        bad |= values != np.rint(values)
    if bad.any():
        rows = bad.reshape(len(bad), -1).any(axis=1)
        row = int(np.argmax(rows))
        raise InvalidInput("invalid_points", f"{what} row {row} has {name} {values[row].tolist()}; "
                           f"accepted: {accepted} ({int(rows.sum())} rows out of range)")


def rows_of(array: np.ndarray) -> list[list[Any]]:
    """The rows as JSON numbers: x, y, z as given; categories and colours as integers."""
    xyz = array[:, :3]
    if xyz.dtype.kind == "f" and xyz.dtype.itemsize < 8:
        # float32's shortest text ("0.1", not 0.10000000149011612) reads back to the same float32.
        xyz = xyz.astype(str).astype(np.float64)
    rows = xyz.tolist()
    if array.shape[1] > 3:
        extra = array[:, 3:].astype(np.int64).tolist()
        rows = [p + e for p, e in zip(rows, extra)]
    return rows


def points_from_json(value: Any, limits: Limits, what: str, warnings: list[str]) -> np.ndarray:
    """A pts.json points list as a checked array.

    Raises
    ------
    InvalidInput: not a list of equal-length numeric rows, or any `check_points` refusal.
    """
    if not isinstance(value, list):
        raise InvalidInput("invalid_points", f"{what} must be a list of rows ({JSON_ROWS}); got {type(value).__name__}")
    if len(value) > limits.max_points:
        raise InvalidInput("too_large", f"{what} has {len(value)} points; the bound is "
                           f"{limits.max_points} (DARKROOM_MAX_POINTS)")
    if not value:
        return np.zeros((0, 3))
    try:
        array = np.array(value)
    except (ValueError, TypeError, OverflowError):
        array = None  # ragged rows
    if array is None or array.dtype.kind not in "iuf" or array.ndim != 2:
        raise InvalidInput("invalid_points", f"{what} must be {JSON_ROWS}, every row the same length; "
                           f"first row {json.dumps(value[0])[:80]}")
    return check_points(array, limits, what, warnings)


def check_scene(scene: Any, what: str, warnings: list[str]) -> tuple[list[dict], list[dict]]:
    """The boxes and vectors of a lidar/beta scene, checked.

    Raises
    ------
    InvalidInput (``invalid_scene``): names the box or vector, the field and what is accepted.
    """
    if not isinstance(scene, dict):
        raise InvalidInput("invalid_scene", f"{what} must be a JSON object; got {type(scene).__name__}")
    boxes = scene_entries(scene.get("boxes", []), f"{what} boxes", BOX_KEYS)
    for i, box in enumerate(boxes):
        where = f"{what} boxes[{i}]"
        corners = box.get("corners")
        if not isinstance(corners, list) or len(corners) != 8:
            count = len(corners) if isinstance(corners, list) else type(corners).__name__
            raise InvalidInput("invalid_scene", f"{where} corners: got {count}; accepted: exactly 8 corners [x, y, z]")
        for j, corner in enumerate(corners):
            _xyz(corner, f"{where} corners[{j}]")
        box["color"] = _colour(box.get("color"), f"{where} color", warnings)
        if "label" in box and not isinstance(box["label"], str):
            raise InvalidInput("invalid_scene", f"{where} label must be a str; got {box['label']!r}")
        if "score" in box and not _number(box["score"]):
            raise InvalidInput("invalid_scene", f"{where} score must be a finite number; got {box['score']!r}")
    vectors = scene_entries(scene.get("vectors", []), f"{what} vectors", VECTOR_KEYS)
    for i, vector in enumerate(vectors):
        where = f"{what} vectors[{i}]"
        _xyz(vector.get("start"), f"{where} start")
        _xyz(vector.get("end"), f"{where} end")
        if "color" in vector:
            vector["color"] = _colour(vector["color"], f"{where} color", warnings)
    return boxes, vectors


def check_pts_json(data: bytes, limits: Limits, warnings: list[str]) -> tuple[np.ndarray, list[dict], list[dict]]:
    """Check a pts.json file (a plain list of rows, or a lidar/beta scene); return its points, boxes and vectors.

    Raises
    ------
    InvalidInput: not JSON (``invalid_json``), or what `points_from_json` and `check_scene` refuse.
    """
    try:
        # Memory here grows with the file, which DARKROOM_MAX_PAYLOAD_BYTES bounds;
        # the point count is checked as soon as the list is known.
        value = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise InvalidInput("invalid_json", f"pts.json is not JSON ({str(e)[:200]})") from None
    if isinstance(value, list):
        return points_from_json(value, limits, "pts.json points", warnings), [], []
    if not isinstance(value, dict):
        raise InvalidInput("invalid_scene", f"pts.json must be a list of rows or a lidar/beta object; "
                           f"got {type(value).__name__}")
    unknown = sorted(set(value) - set(SCENE_KEYS))
    if unknown or value.get("type") not in POINT_CLOUD_TYPES or "points" not in value:
        raise InvalidInput("invalid_scene", f"pts.json object must have type 'lidar/beta' and points (type "
                           f"{value.get('type')!r}, unknown keys {unknown}); accepted keys: {', '.join(SCENE_KEYS)}")
    points = points_from_json(value["points"], limits, "pts.json points", warnings)
    boxes, vectors = check_scene(value, "pts.json", warnings)
    return points, boxes, vectors


def display_file(array: np.ndarray, boxes: list[dict], vectors: list[dict]) -> tuple[str, bytes]:
    """The cloud as the viewer draws it: (role, geometry file) (workers/converters/geometry.py).

    Up to `DISPLAY_POINTS` points: role ``geometry``, every point.  More: role
    ``display``, a subsample of `DISPLAY_POINTS` points drawn uniformly with a
    fixed seed (the same cloud always gives the same file), in their original
    order; a stride would alias with a lidar's scan lines.  Arrays:
    ``positions`` (float32 N×3), and ``categories`` (uint8 N, 1..14) or
    ``colors`` (uint8 N×3) for 4- and 6-column clouds.  The header carries the
    boxes, the vectors, ``points`` (in the file), ``total_points`` and ``bounds``.
    """
    total = len(array)
    role = "geometry"
    info: dict[str, Any] = {}
    if total > DISPLAY_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(total, DISPLAY_POINTS, replace=False))
        array = array[keep]
        role = "display"
        info["subsample"] = {"of": total, "method": "uniform random, seed 0"}
    positions = np.asarray(array[:, :3], dtype=np.float64)
    arrays: dict[str, np.ndarray] = {"positions": positions}
    if array.shape[1] == 4:
        arrays["categories"] = array[:, 3].astype(np.uint8)
    elif array.shape[1] == 6:
        arrays["colors"] = array[:, 3:].astype(np.uint8)
    info.update({"points": len(array), "total_points": total, "bounds": geometry.bounds(positions),
                 "boxes": boxes, "vectors": vectors})
    return role, geometry.encode("points", arrays, info)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _xyz(value: Any, what: str) -> None:
    if not (isinstance(value, list) and len(value) == 3 and all(_number(v) for v in value)):
        raise InvalidInput("invalid_scene", f"{what}: got {json.dumps(value)[:80]}; accepted: [x, y, z] finite numbers")


def _colour(value: Any, what: str, warnings: list[str]) -> list[float]:
    """An [r, g, b] colour; numbers outside 0..255 are clipped, with a warning (W&B stores them as given)."""
    if not (isinstance(value, list) and len(value) == 3 and all(_number(v) for v in value)):
        raise InvalidInput("invalid_scene", f"{what}: got {json.dumps(value)[:80]}; accepted: [r, g, b] with 0..255")
    clipped = [min(255, max(0, v)) for v in value]
    if clipped != value:
        warnings.append(f"{what}: {json.dumps(value)[:80]} is outside 0..255; clipped to {clipped}")
    return clipped
