"""workers/converters/mesh.py: a mesh file's declared counts are bounded before trimesh allocates (issue 16, item 11).

Each bomb is converted in a child process whose address space is limited to
1 GiB, with the default bounds: a file that made trimesh allocate gigabytes
fails there as a MemoryError (or kills the child) instead of a clear
``too_large`` manifest.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trimesh

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Payload
from darkroom.workers.converters.object3d import Object3DOptions, convert

_CONVERT_IN_A_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Payload
from darkroom.workers.converters.object3d import Object3DOptions, convert
data = open(sys.argv[1], "rb").read()
try:
    out = convert(ItemInput(Payload(data, "application/octet-stream", "bin")),
                  Object3DOptions(file_type=sys.argv[2]), Limits())
    print(json.dumps(out.measurements))
except InvalidInput as e:
    print(json.dumps({"code": e.code, "message": e.message}))
"""


def convert_in_a_child(tmp_path: Path, data: bytes, fmt: str) -> dict[str, Any]:
    path = tmp_path / f"mesh.{fmt}"
    path.write_bytes(data)
    done = subprocess.run([sys.executable, "-c", _CONVERT_IN_A_CHILD, str(path), fmt],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def glb(index_accessors: list[tuple[int, int]]) -> bytes:
    """A GLB of one triangle's positions and one primitive per (count, componentType) index
    accessor, each declared without a buffer view (so a reader fills it with zeros)."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    accessors: list[dict[str, Any]] = [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                                        "min": [0, 0, 0], "max": [1, 1, 0]}]
    primitives = []
    for count, component in index_accessors:
        accessors.append({"componentType": component, "count": count, "type": "SCALAR"})
        primitives.append({"attributes": {"POSITION": 0}, "indices": len(accessors) - 1})
    gltf = {"asset": {"version": "2.0"}, "buffers": [{"byteLength": len(positions)}],
            "bufferViews": [{"buffer": 0, "byteLength": len(positions)}], "accessors": accessors,
            "meshes": [{"primitives": primitives}], "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}], "scene": 0}
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(positions), b"BIN\0") + positions
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


UBYTE, UINT = 5121, 5125


def test_item_11_a_glb_whose_accessors_declare_more_than_the_bound_fails_before_allocating(tmp_path: Path) -> None:
    # 255 M one-byte indices: under the byte bound (256 MiB), 85 M triangles; trimesh made 2 GiB of them.
    one = glb([(255_000_000, UBYTE)])
    assert len(one) < 700
    assert convert_in_a_child(tmp_path, one, "glb") == {
        "code": "too_large", "message": "glb file declares 85000000 faces; the bound is 10000000 (DARKROOM_MAX_POINTS)"}
    # Four primitives of 29,999,997 four-byte indices: each under both bounds, 480 MB together.
    four = glb([(29_999_997, UINT)] * 4)
    assert len(four) < 1000
    assert convert_in_a_child(tmp_path, four, "glb") == {
        "code": "too_large", "message": "glb accessors 0..3 declare 360000000 bytes; the bound is "
                                        f"{Limits().max_payload_bytes} (DARKROOM_MAX_PAYLOAD_BYTES)"}
    # The same file with one honest primitive converts in the same child.
    assert convert_in_a_child(tmp_path, glb([(3, UBYTE)]), "glb") == {"vertices": 3, "faces": 1}


def test_item_11_an_obj_with_more_faces_than_the_bound_fails_before_allocating(tmp_path: Path) -> None:
    # 80 MB of face lines on three vertices: trimesh's parser needs ~200 bytes a face.
    bomb = b"v 0 0 0\nv 1 0 0\nv 0 1 0\n" + b"f 1 2 3\n" * 10_000_001
    assert convert_in_a_child(tmp_path, bomb, "obj") == {
        "code": "too_large", "message": "obj file declares 10000001 faces; the bound is 10000000 (DARKROOM_MAX_POINTS)"}


def test_faces_share_the_vertex_bound_in_every_mesh_format() -> None:
    limits = Limits(max_points=15)  # a box: 8 vertices, 12 faces
    for fmt in ("obj", "glb"):
        data = trimesh.creation.box().export(file_type=fmt)
        data = data.encode() if isinstance(data, str) else data
        assert convert(_item(data), Object3DOptions(file_type=fmt), limits).measurements == {"vertices": 8, "faces": 12}
    obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\n" + b"f 1 2 3\n" * 16
    with pytest.raises(InvalidInput) as info:
        convert(_item(obj), Object3DOptions(file_type="obj"), limits)
    assert (info.value.code, info.value.message) == (
        "too_large", "obj file declares 16 faces; the bound is 15 (DARKROOM_MAX_POINTS)")
    with pytest.raises(InvalidInput) as info:
        convert(_item(glb([(48, UBYTE)])), Object3DOptions(file_type="glb"), limits)
    assert info.value.message == "glb file declares 16 faces; the bound is 15 (DARKROOM_MAX_POINTS)"


def _item(data: bytes) -> ItemInput:
    return ItemInput(Payload(data, "application/octet-stream", "bin"))
