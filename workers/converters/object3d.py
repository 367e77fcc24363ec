"""3-D objects: point clouds to pts.json; obj, gltf, glb, babylon, stl and pts.json files checked and kept.

The rules are MEDIA_TYPES.md's Object3D section.  Point rows, boxes and
vectors are checked in workers/converters/point_cloud.py; meshes are loaded
with trimesh in workers/converters/mesh.py, which also makes their GLB.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.object3d_layout import FILE_TYPES, MEDIA_TYPES, POINT_CLOUD_TYPES
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import Converter, ItemInput, Output, RelatedOutput, geometry
from darkroom.workers.converters.mesh import check_babylon, load_mesh
from darkroom.workers.converters.point_cloud import (
    DISPLAY_POINTS,
    check_points,
    check_pts_json,
    check_scene,
    display_file,
    rows_of,
)
from darkroom.workers.payloads import NPY_MEDIA_TYPE, load_npy

# 2: a `geometry` related file (or `display` for a cloud over DISPLAY_POINTS) for the viewer.
# 3: colours outside 0..255 (points, boxes, vectors) are clipped with a warning, not refused.
VERSION = "3"


class Object3DOptions(BaseModel):
    """Options that change the artifact (and so its content address)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file_type: Literal[FILE_TYPES] | None = None  # type: ignore[valid-type]
    point_cloud_type: Literal[POINT_CLOUD_TYPES] | None = None  # type: ignore[valid-type]


def convert(item: ItemInput, options: Object3DOptions, limits: Limits) -> Output:
    """Convert a point cloud to pts.json, or check a 3-D file and keep it (meshes also as GLB).

    Raises
    ------
    InvalidInput: the payload is not what its form needs, or too big; the
        message says what was wrong and what is accepted.
    """
    warnings: list[str] = []
    if options.file_type is not None:
        return _file(item.payload.data, options.file_type, limits, warnings)
    if item.payload.media_type != NPY_MEDIA_TYPE:
        raise InvalidInput("invalid_payload", f"object3d payload of type {item.payload.media_type!r} without a "
                           "file_type; accepted: an .npy point cloud, or a file with file_type")
    points = check_points(load_npy(item.payload.data, limits.max_payload_bytes), limits, "points", warnings)
    content: Any = rows_of(points)
    boxes: list[dict] = []
    vectors: list[dict] = []
    if options.point_cloud_type is not None:
        boxes, vectors = check_scene(_scene(item), "point cloud", warnings)
        content = {"type": options.point_cloud_type, "points": content, "boxes": boxes, "vectors": vectors}
    data = json.dumps(content, separators=(",", ":")).encode()
    return Output(data=data, format="pts.json", media_type="application/json",
                  measurements=_cloud(len(points), warnings), warnings=warnings,
                  related=[_display(points, boxes, vectors)])


def _scene(item: ItemInput) -> Any:
    payload = item.related.get("scene")
    if payload is None:
        return {}  # a lidar/beta cloud logged without boxes or vectors
    try:
        return json.loads(payload.data)
    except (ValueError, RecursionError) as e:
        raise InvalidInput("invalid_scene", f"point cloud boxes and vectors are not JSON ({str(e)[:200]})") from None


def _file(data: bytes, fmt: str, limits: Limits, warnings: list[str]) -> Output:
    related = []
    if fmt == "pts.json":
        points, boxes, vectors = check_pts_json(data, limits, warnings)
        measurements = _cloud(len(points), warnings)
        related.append(_display(points, boxes, vectors))
    elif fmt == "babylon":
        measurements, geometry_file = check_babylon(data, limits)
        related.append(_geometry("geometry", geometry_file, measurements))
    else:
        measurements, glb, geometry_file = load_mesh(data, fmt, limits, warnings)
        related.append(RelatedOutput(role="glb", data=glb, format="glb", media_type=MEDIA_TYPES["glb"],
                                     info=dict(measurements)))
        related.append(_geometry("geometry", geometry_file, measurements))
    return Output(data=data, format=fmt, media_type=MEDIA_TYPES[fmt], measurements=measurements,
                  warnings=warnings, related=related)


def _display(points: Any, boxes: list[dict], vectors: list[dict]) -> RelatedOutput:
    role, data = display_file(points, boxes, vectors)
    return _geometry(role, data, {"points": min(len(points), DISPLAY_POINTS)})


def _geometry(role: str, data: bytes, info: dict[str, Any]) -> RelatedOutput:
    """A geometry file (workers/converters/geometry.py) as a related file of the item."""
    return RelatedOutput(role=role, data=data, format="bin", media_type=geometry.MEDIA_TYPE, info=dict(info))


def _cloud(points: int, warnings: list[str]) -> dict[str, Any]:
    truncated = points > DISPLAY_POINTS
    if truncated:
        warnings.append(f"{points} points: viewers show at most {DISPLAY_POINTS}; stored whole (display_truncated)")
    return {"points": points, "display_truncated": truncated}


CONVERTER = Converter(name="object3d", version=VERSION, options_model=Object3DOptions, convert=convert)
