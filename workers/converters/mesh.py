"""Mesh files: obj, gltf, glb and stl loaded with trimesh, bounded first, and re-exported as GLB.

Every count a file declares is read before trimesh allocates anything
(DESIGN.md, point 5): vertex and face lines (obj), the triangle count (stl),
accessor counts (glTF, whose accessors without a buffer view can declare any
size in a few bytes and are then filled at that size: a 500-byte GLB made
trimesh allocate 2 GiB, issue 16 item 11).  Vertices and faces are bounded by
DARKROOM_MAX_POINTS, the bytes all accessors declare by DARKROOM_MAX_PAYLOAD_BYTES.
trimesh cannot read Babylon files: those are checked as JSON and counted here.
"""

from __future__ import annotations

import io
import json
import re
import struct
from typing import Any

import numpy as np

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.optional import optional_import
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import geometry

_OBJ_VERTEX = re.compile(rb"^[ \t]*v[ \t]", re.MULTILINE)
_OBJ_FACE = re.compile(rb"^[ \t]*f[ \t]", re.MULTILINE)
_OBJ_MATERIALS = re.compile(rb"^[ \t]*mtllib[ \t]", re.MULTILINE)
# glTF componentType -> bytes; type -> components (glTF 2.0 spec, 3.6.2).
_COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


def load_mesh(data: bytes, fmt: str, limits: Limits, warnings: list[str]) -> tuple[dict[str, int], bytes, bytes]:
    """Load an obj, gltf, glb or stl file: its vertex and face counts, the mesh as GLB, and its geometry file.

    The geometry file (workers/converters/geometry.py) holds ``positions``
    (float32 V×3), ``indices`` (uint32 F×3, triangles) and, when the mesh has
    per-vertex colours, ``colors`` (uint8 V×4 RGBA): a viewer draws it with no
    glTF parser.

    Raises
    ------
    InvalidInput: ``too_large`` (DARKROOM_MAX_POINTS, DARKROOM_MAX_PAYLOAD_BYTES), ``invalid_mesh``
        (unreadable, no faces, external files), ``missing_dependency`` (no trimesh).
    """
    trimesh = optional_import("trimesh", "3-D files need trimesh", "object3d")
    if not data.strip():
        raise InvalidInput("invalid_mesh", f"{fmt} file is empty")
    if fmt == "obj" and _OBJ_MATERIALS.search(data):
        warnings.append("obj refers to material files (mtllib) the worker does not have: the GLB has no materials")
    _check_counts(*_declared_counts(data, fmt, limits), fmt, limits, "declares")
    try:
        scene = trimesh.load_scene(io.BytesIO(data), file_type=fmt)
        # An instanced mesh counts once per node that places it: the concatenated
        # mesh holds every instance, so the bound applies before `to_mesh`.
        meshes = [scene.geometry[scene.graph[node][1]] for node in scene.graph.nodes_geometry]
        meshes = [m for m in meshes if isinstance(m, trimesh.Trimesh)]
        _check_counts(sum(len(m.vertices) for m in meshes), sum(len(m.faces) for m in meshes), fmt, limits, "holds")
        bad = sum(int((~np.isfinite(m.vertices)).any(axis=1).sum()) for m in meshes)
        if bad:
            raise InvalidInput("invalid_mesh", f"{fmt} file has {bad} vertices with NaN or infinite "
                               "coordinates; accepted: finite numbers")
        if sum(len(m.faces) for m in meshes) == 0:
            raise InvalidInput("invalid_mesh", f"{fmt} file holds no faces (a mesh needs triangles; "
                               "log a point cloud as an N×3 array or pts.json)")
        for m in meshes:  # trimesh keeps a damaged file's indices as they are
            faces = np.asarray(m.faces)
            if len(faces) and (int(faces.min()) < 0 or int(faces.max()) >= len(m.vertices)):
                outside = int(faces.min()) if int(faces.min()) < 0 else int(faces.max())
                raise InvalidInput("invalid_mesh", f"{fmt} file has a face on vertex {outside}, outside "
                                   f"0..{len(m.vertices) - 1} (a damaged file); accepted: faces on the mesh's vertices")
        mesh = scene.to_mesh()
        glb = mesh.export(file_type="glb")
        arrays = {"positions": np.asarray(mesh.vertices), "indices": np.asarray(mesh.faces).astype(np.uint32)}
        if getattr(mesh.visual, "kind", None) == "vertex":
            arrays["colors"] = np.asarray(mesh.visual.vertex_colors, dtype=np.uint8)
    except InvalidInput:
        raise
    except Exception as e:  # trimesh raises anything (IndexError, KeyError, ...) on a corrupt file
        raise InvalidInput("invalid_mesh", f"{fmt} file could not be read by trimesh: "
                           f"{type(e).__name__}: {str(e)[:200]}") from None
    counts = {"vertices": len(mesh.vertices), "faces": len(mesh.faces)}
    info = {**counts, "bounds": geometry.bounds(arrays["positions"])}
    return counts, glb, geometry.encode("mesh", arrays, info)


def _check_counts(vertices: int, faces: int, fmt: str, limits: Limits, verb: str) -> None:
    # Faces share the vertices' bound: trimesh holds both as N×3 arrays of 8-byte numbers.
    for count, what in ((vertices, "vertices"), (faces, "faces")):
        if count > limits.max_points:
            raise InvalidInput("too_large", f"{fmt} file {verb} {count} {what}; the bound is "
                               f"{limits.max_points} (DARKROOM_MAX_POINTS)")


def _declared_counts(data: bytes, fmt: str, limits: Limits) -> tuple[int, int]:
    """(vertices, faces) the file declares, at least as many as trimesh will build."""
    if fmt == "obj":
        # A face line of k corners is k - 2 triangles: at least one each (the
        # corners are bounded by the file's size, DARKROOM_MAX_PAYLOAD_BYTES).
        return sum(1 for _ in _OBJ_VERTEX.finditer(data)), sum(1 for _ in _OBJ_FACE.finditer(data))
    if fmt == "stl":
        if len(data) >= 84:
            (triangles,) = struct.unpack_from("<I", data, 80)
            if 84 + 50 * triangles == len(data):  # binary: the size matches the header's count
                return 3 * triangles, triangles
        vertices = data.count(b"vertex")
        return vertices, vertices // 3
    gltf = _glb_json(data) if fmt == "glb" else _json_object(data, fmt)
    return _gltf_counts(gltf, fmt, limits)


def _glb_json(data: bytes) -> dict[str, Any]:
    # GLB: 12-byte header (magic, version, length), then chunk 0: length, type "JSON", data.
    if len(data) < 20 or data[:4] != b"glTF":
        raise InvalidInput("invalid_mesh", f"glb file does not start with a GLB header (starts {data[:8]!r})")
    length, kind = struct.unpack_from("<I4s", data, 12)
    if kind != b"JSON" or 20 + length > len(data):
        raise InvalidInput("invalid_mesh", "glb file's first chunk is not a JSON chunk within the file")
    return _json_object(data[20:20 + length], "glb")


def _json_object(data: bytes, fmt: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise InvalidInput("invalid_mesh", f"{fmt} file is not JSON ({str(e)[:200]})") from None
    if not isinstance(value, dict):
        raise InvalidInput("invalid_mesh", f"{fmt} file must hold a JSON object; got {type(value).__name__}")
    return value


def _gltf_counts(gltf: dict[str, Any], fmt: str, limits: Limits) -> tuple[int, int]:
    """(vertices, faces) of every primitive, after checking every accessor's size and every buffer's URI.

    A primitive's vertices are its largest attribute or morph-target accessor
    (trimesh reads each), its faces its indices' count over 3 (strips and fans:
    count - 2), or its vertices over 3 without indices.
    """
    for field in ("buffers", "images"):
        for i, entry in enumerate(_list(gltf, field, fmt)):
            uri = entry.get("uri") if isinstance(entry, dict) else None
            if isinstance(uri, str) and not uri.startswith("data:"):
                raise InvalidInput("invalid_mesh", f"{fmt} {field}[{i}] refers to the external file {uri[:100]!r}, "
                                   "which the worker does not have; embed it (data: URI) or log a .glb")
    accessors = _list(gltf, "accessors", fmt)
    total_bytes = 0
    for i, accessor in enumerate(accessors):
        try:
            count = accessor["count"]
            if not isinstance(count, int) or count < 0:
                raise ValueError(count)
            size = count * _TYPE_COMPONENTS[accessor["type"]] * _COMPONENT_BYTES[accessor["componentType"]]
        except (KeyError, TypeError, ValueError):
            raise InvalidInput("invalid_mesh", f"{fmt} accessors[{i}] needs count (a whole number), "
                               "type and componentType") from None
        total_bytes += size
        for declared, where in ((size, f"accessors[{i}] declares"), (total_bytes, f"accessors 0..{i} declare")):
            if declared > limits.max_payload_bytes:
                raise InvalidInput("too_large", f"{fmt} {where} {declared} bytes; the bound is "
                                   f"{limits.max_payload_bytes} (DARKROOM_MAX_PAYLOAD_BYTES)")

    def count_of(index: Any) -> int:
        return accessors[index]["count"] if isinstance(index, int) and 0 <= index < len(accessors) else 0

    vertices = faces = 0
    for mesh in _list(gltf, "meshes", fmt):
        for primitive in (mesh.get("primitives") or []) if isinstance(mesh, dict) else []:
            if not isinstance(primitive, dict):
                continue
            targets = primitive.get("targets")
            attribute_sets = [primitive.get("attributes")] + (targets if isinstance(targets, list) else [])
            counts = [count_of(a) for attributes in attribute_sets if isinstance(attributes, dict)
                      for a in attributes.values()]
            primitive_vertices = max(counts, default=0)
            corners = count_of(primitive["indices"]) if "indices" in primitive else primitive_vertices
            vertices += primitive_vertices
            faces += max(corners - 2, 0) if primitive.get("mode") in (5, 6) else corners // 3
    return vertices, faces


def _list(value: dict[str, Any], field: str, fmt: str) -> list[Any]:
    entries = value.get(field, [])
    if not isinstance(entries, list):
        raise InvalidInput("invalid_mesh", f"{fmt} {field} must be a list; got {type(entries).__name__}")
    return entries


def check_babylon(data: bytes, limits: Limits) -> tuple[dict[str, int], bytes]:
    """Check a Babylon file (JSON: meshes with positions and indices); return its counts and geometry file.

    The geometry file joins every mesh's positions and triangles, as they are
    given (each mesh's own position, rotation and scaling are not applied).

    Memory grows with the file, which DARKROOM_MAX_PAYLOAD_BYTES bounds; the
    vertex count is checked before any array is built.

    Raises
    ------
    InvalidInput: ``invalid_mesh`` naming the mesh and field, ``too_large`` (DARKROOM_MAX_POINTS).
    """
    scene = _json_object(data, "babylon")
    sources = [(f"meshes[{i}]", m) for i, m in enumerate(_list(scene, "meshes", "babylon"))]
    geometries = scene.get("geometries")
    if isinstance(geometries, dict):  # shared geometry: {"vertexData": [{"positions", "indices"}]}
        shared = _list(geometries, "vertexData", "babylon")
        sources += [(f"geometries.vertexData[{i}]", g) for i, g in enumerate(shared)]
    if not sources:
        raise InvalidInput("invalid_mesh", "babylon file has no meshes; accepted: a Babylon scene with meshes")
    arrays = []
    for where, source in sources:
        if not isinstance(source, dict):
            raise InvalidInput("invalid_mesh", f"babylon {where} must be an object; got {type(source).__name__}")
        positions, indices = source.get("positions"), source.get("indices")
        if positions is None:
            continue  # a mesh that uses shared geometry, a camera target, an empty node
        for field, value, width in (("positions", positions, 3), ("indices", indices, 3)):
            if value is not None and (not isinstance(value, list) or len(value) % width):
                raise InvalidInput("invalid_mesh", f"babylon {where} {field} must be a flat list of numbers, "
                                   f"a multiple of {width} long")
        arrays.append((where, positions, indices or []))
    vertices = sum(len(p) // 3 for _, p, _ in arrays)
    _check_counts(vertices, sum(len(i) // 3 for _, _, i in arrays), "babylon", limits, "declares")
    if vertices == 0:
        raise InvalidInput("invalid_mesh", "babylon file has no mesh positions")
    xyz, faces = [], []
    for where, positions, indices in arrays:
        points, triangles = _babylon_numbers(positions, indices, where)
        faces.append(triangles.reshape(-1, 3) + sum(len(p) for p in xyz))
        xyz.append(points.reshape(-1, 3).astype(np.float64))
    counts = {"vertices": vertices, "faces": sum(len(i) // 3 for _, _, i in arrays)}
    joined = np.concatenate(xyz)
    geometry_file = geometry.encode(
        "mesh", {"positions": joined, "indices": np.concatenate(faces).astype(np.uint32)},
        {**counts, "bounds": geometry.bounds(joined)})
    return counts, geometry_file


def _babylon_numbers(positions: list[Any], indices: list[Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        xyz = np.array(positions)
        faces = np.array(indices)
    except (ValueError, TypeError, OverflowError):
        xyz = faces = np.array([None])
    if xyz.ndim != 1 or xyz.dtype.kind not in "iuf" or not np.isfinite(xyz).all():
        raise InvalidInput("invalid_mesh", f"babylon {where} positions must be a flat list of finite numbers")
    if faces.size and (faces.ndim != 1 or faces.dtype.kind not in "iu" or faces.min() < 0
                       or faces.max() >= len(positions) // 3):
        raise InvalidInput("invalid_mesh", f"babylon {where} indices must be whole numbers below its "
                           f"{len(positions) // 3} vertices")
    return xyz, faces if faces.size else np.zeros(0, dtype=np.int64)
