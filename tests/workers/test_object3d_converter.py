"""workers/converters/object3d.py: clouds read back from pts.json, meshes with trimesh, refusals with their messages."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import numpy as np
import pytest
import trimesh

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload, converter_for
from darkroom.workers.converters.object3d import CONVERTER, Object3DOptions, convert

NPY = "application/x-npy"
BOX = {"corners": [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
       "color": [255, 0, 0], "label": "car", "score": 0.9}
VECTOR = {"start": [0, 0, 0], "end": [1, 2, 3], "color": [0, 255, 0]}


# -- building inputs ------------------------------------------------------------------------------


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def cloud_item(array: np.ndarray, scene: Any = None) -> ItemInput:
    related = {} if scene is None else {"scene": Payload(json.dumps(scene).encode(), "application/json", "json")}
    return ItemInput(Payload(npy(array), NPY, "npy"), related=related)


def run_cloud(array: np.ndarray, scene: Any = None, limits: Limits = Limits(), **options: Any) -> Output:
    return convert(cloud_item(array, scene), Object3DOptions(**options), limits)


def run_file(data: bytes | str, fmt: str, limits: Limits = Limits()) -> Output:
    raw = data.encode() if isinstance(data, str) else data
    return convert(ItemInput(Payload(raw, "application/octet-stream", "bin")), Object3DOptions(file_type=fmt), limits)


def refused_cloud(array: np.ndarray, code: str, scene: Any = None, limits: Limits = Limits(), **options: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        run_cloud(array, scene, limits, **options)
    assert info.value.code == code, info.value.message
    return info.value.message


def refused_file(data: bytes | str, fmt: str, code: str, limits: Limits = Limits()) -> str:
    with pytest.raises(InvalidInput) as info:
        run_file(data, fmt, limits)
    assert info.value.code == code, info.value.message
    return info.value.message


def mesh_bytes(mesh: trimesh.Trimesh, fmt: str) -> bytes:
    if fmt == "gltf":
        return trimesh.exchange.gltf.export_gltf(trimesh.Scene(mesh), embed_buffers=True)["model.gltf"]
    data = mesh.export(file_type=fmt)
    return data.encode() if isinstance(data, str) else data


def load(data: bytes, fmt: str) -> trimesh.Trimesh:
    return trimesh.load_scene(io.BytesIO(data), file_type=fmt).to_mesh()


def babylon(*meshes: dict[str, Any]) -> str:
    return json.dumps({"meshes": list(meshes)})


# -- point clouds from arrays -----------------------------------------------------------------------


def test_an_n_by_3_float_cloud_becomes_a_plain_json_array_of_its_rows() -> None:
    points = np.random.default_rng(0).normal(size=(50, 3))
    output = run_cloud(points)
    assert (output.format, output.media_type) == ("pts.json", "application/json")
    np.testing.assert_array_equal(np.array(json.loads(output.data)), points)
    assert output.measurements == {"points": 50, "display_truncated": False} and output.warnings == []


def test_float32_coordinates_are_written_short_and_read_back_to_the_same_float32() -> None:
    points = np.random.default_rng(1).uniform(-10, 10, (40, 3)).astype(np.float32)
    output = run_cloud(points)
    np.testing.assert_array_equal(np.array(json.loads(output.data), dtype=np.float32), points)
    assert b"0.1" in run_cloud(np.full((1, 3), 0.1, np.float32)).data
    assert b"000000" not in run_cloud(np.full((1, 3), 0.1, np.float32)).data


def test_categories_are_whole_numbers_1_to_14_written_as_integers() -> None:
    points = np.array([[0.5, 1, 2, 1], [3, 4, 5, 14.0]])
    rows = json.loads(run_cloud(points).data)
    assert rows == [[0.5, 1.0, 2.0, 1], [3.0, 4.0, 5.0, 14]] and isinstance(rows[1][3], int)


def test_integer_rgb_clouds_keep_their_colours_and_float_colours_are_rounded_with_a_warning() -> None:
    ints = np.array([[1, 2, 3, 0, 128, 255]], dtype=np.int32)
    assert json.loads(run_cloud(ints).data) == [[1, 2, 3, 0, 128, 255]]
    output = run_cloud(np.array([[0.0, 0, 0, 10.4, 20.6, 255.0]]))
    assert json.loads(output.data) == [[0.0, 0.0, 0.0, 10, 21, 255]]
    assert output.warnings == ["points: colours that were not whole numbers were rounded"]


def test_an_empty_cloud_is_accepted_with_zero_points() -> None:
    output = run_cloud(np.zeros((0, 3)))
    assert json.loads(output.data) == [] and output.measurements["points"] == 0


def test_a_cloud_over_300000_points_is_stored_whole_and_flagged() -> None:
    points = np.zeros((300_001, 3), np.int8)
    output = run_cloud(points)
    assert len(json.loads(output.data)) == 300_001
    assert output.measurements == {"points": 300_001, "display_truncated": True}
    assert output.warnings == ["300001 points: viewers show at most 300000; stored whole (display_truncated)"]


# -- point clouds refused --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (5, 2), (5, 5), (5, 7), (2, 5, 3)])
def test_shapes_other_than_n_by_3_4_or_6_are_refused_naming_the_shape(shape: tuple[int, ...]) -> None:
    message = refused_cloud(np.zeros(shape), "invalid_shape")
    assert message.startswith(f"points has shape {shape}; accepted: N×3 (x, y, z), N×4")


def test_nan_and_infinity_are_refused_with_the_count_and_first_position() -> None:
    points = np.zeros((4, 3))
    points[2, 1], points[3, 0] = np.nan, np.inf
    assert refused_cloud(points, "non_finite") == (
        "points has 2 NaN or infinite values (first at row 2, column 1); accepted: finite numbers")


@pytest.mark.parametrize("category", [0, 15, 2.5])
def test_categories_outside_1_to_14_or_not_whole_are_refused(category: float) -> None:
    points = np.array([[0, 0, 0, 3], [0, 0, 0, category]], dtype=np.float64)
    message = refused_cloud(points, "invalid_points")
    assert message == (f"points row 1 has category {float(category)}; accepted: a whole number 1..14 "
                       "(1 rows out of range)")


def test_colours_outside_0_to_255_are_clipped_with_a_warning() -> None:
    points = np.array([[0, 0, 0, 0, 0, 256], [0, 0, 0, -1, 0, 0], [1, 1, 1, 9, 9, 9]], dtype=np.int64)
    output = run_cloud(points, point_cloud_type="lidar/beta")
    assert [row[3:] for row in json.loads(output.data)["points"]] == [[0, 0, 255], [0, 0, 0], [9, 9, 9]]
    assert output.warnings == ["points: 2 rows had colours outside 0..255 (first: row 0, [0, 0, 256]); "
                               "clipped to 0..255"]


def test_box_and_vector_colours_outside_0_to_255_are_clipped_with_a_warning() -> None:
    scene = {"boxes": [{**BOX, "color": [0, -3, 300]}], "vectors": [{**VECTOR, "color": [256, 1, 2]}]}
    output = run_cloud(np.zeros((1, 3)), scene, point_cloud_type="lidar/beta")
    stored = json.loads(output.data)
    assert stored["boxes"][0]["color"] == [0, 0, 255] and stored["vectors"][0]["color"] == [255, 1, 2]
    assert output.warnings == [
        "point cloud boxes[0] color: [0, -3, 300] is outside 0..255; clipped to [0, 0, 255]",
        "point cloud vectors[0] color: [256, 1, 2] is outside 0..255; clipped to [255, 1, 2]"]


def test_an_empty_cloud_is_a_valid_scene() -> None:
    output = run_cloud(np.zeros((0, 3)), {"boxes": [BOX], "vectors": []}, point_cloud_type="lidar/beta")
    assert json.loads(output.data)["points"] == [] and output.measurements["points"] == 0


def test_a_cloud_over_the_point_bound_is_refused_naming_the_variable() -> None:
    assert refused_cloud(np.zeros((11, 3)), "too_large", limits=Limits(max_points=10)) == (
        "points has 11 points; the bound is 10 (DARKROOM_MAX_POINTS)")


def test_a_bool_cloud_is_refused_by_dtype() -> None:
    assert refused_cloud(np.zeros((2, 3), bool), "invalid_dtype") == (
        "points has dtype bool; accepted: integer or float numbers")


def test_a_payload_that_is_neither_npy_nor_a_file_is_refused() -> None:
    item = ItemInput(Payload(b"[]", "application/json", "json"))
    with pytest.raises(InvalidInput, match=r"^object3d payload of type 'application/json' without a file_type"):
        convert(item, Object3DOptions(), Limits())


# -- lidar/beta scenes -------------------------------------------------------------------------------------


def test_a_lidar_scene_holds_the_points_boxes_and_vectors() -> None:
    points = np.array([[1.5, 2, 3, 4]])
    output = run_cloud(points, {"boxes": [BOX], "vectors": [VECTOR, {"start": [1, 1, 1], "end": [2, 2, 2]}]},
                       point_cloud_type="lidar/beta")
    scene = json.loads(output.data)
    assert scene == {"type": "lidar/beta", "points": [[1.5, 2.0, 3.0, 4]], "boxes": [BOX],
                     "vectors": [VECTOR, {"start": [1, 1, 1], "end": [2, 2, 2]}]}
    assert output.measurements == {"points": 1, "display_truncated": False}


def test_a_lidar_scene_without_a_scene_payload_has_no_boxes_or_vectors() -> None:
    scene = json.loads(run_cloud(np.zeros((2, 3)), point_cloud_type="lidar/beta").data)
    assert scene["boxes"] == [] and scene["vectors"] == []


@pytest.mark.parametrize(("scene", "message"), [
    ({"boxes": [{**BOX, "corners": BOX["corners"][:7]}]},
     "point cloud boxes[0] corners: got 7; accepted: exactly 8 corners [x, y, z]"),
    ({"boxes": [{**BOX, "corners": [[0, 0]] + BOX["corners"][1:]}]},
     "point cloud boxes[0] corners[0]: got [0, 0]; accepted: [x, y, z] finite numbers"),
    ({"boxes": [{k: v for k, v in BOX.items() if k != "color"}]},
     "point cloud boxes[0] color: got null; accepted: [r, g, b] with 0..255"),
    ({"boxes": [{**BOX, "label": 3}]}, "point cloud boxes[0] label must be a str; got 3"),
    ({"boxes": [{**BOX, "score": "high"}]}, "point cloud boxes[0] score must be a finite number; got 'high'"),
    ({"boxes": [{**BOX, "colour": [1, 2, 3]}]},
     "point cloud boxes[0] has unknown keys ['colour']; accepted: corners, color, label, score"),
    ({"boxes": {"a": 1}}, "point cloud boxes must be a list of dicts; got dict"),
    ({"vectors": [{"start": [0, 0, 0]}]}, "point cloud vectors[0] end: got null; accepted: [x, y, z] finite numbers"),
    ({"vectors": [{**VECTOR, "color": [1, 2]}]}, "point cloud vectors[0] color: got [1, 2]; accepted: [r, g, b] with 0..255"),
])
def test_malformed_boxes_and_vectors_are_refused_naming_the_entry_and_field(scene: Any, message: str) -> None:
    assert refused_cloud(np.zeros((1, 3)), "invalid_scene", scene, point_cloud_type="lidar/beta") == message


# -- pts.json files ------------------------------------------------------------------------------------------


def test_a_pts_json_file_of_rows_is_checked_and_stored_as_given() -> None:
    text = json.dumps([[0, 0, 0, 1, 2, 3], [1.5, 2.5, 3.5, 255, 255, 255]])
    output = run_file(text, "pts.json")
    assert output.data == text.encode() and output.format == "pts.json"
    assert [r.role for r in output.related] == ["geometry"]
    assert output.measurements == {"points": 2, "display_truncated": False}
    assert len(json.loads(output.data)) == 2


def test_a_pts_json_lidar_scene_is_checked_like_a_logged_one() -> None:
    text = json.dumps({"type": "lidar/beta", "points": [[0, 0, 0, 2]], "boxes": [BOX], "vectors": [VECTOR]})
    assert run_file(text, "pts.json").measurements == {"points": 1, "display_truncated": False}
    bad = json.dumps({"type": "lidar/beta", "points": [[0, 0, 0]], "boxes": [{**BOX, "corners": []}]})
    assert refused_file(bad, "pts.json", "invalid_scene") == (
        "pts.json boxes[0] corners: got 0; accepted: exactly 8 corners [x, y, z]")


@pytest.mark.parametrize(("text", "code", "message"), [
    ("[[0, 0", "invalid_json", "pts.json is not JSON (Expecting"),
    ('"points"', "invalid_scene", "pts.json must be a list of rows or a lidar/beta object; got str"),
    ('{"type": "lidar/alpha", "points": []}', "invalid_scene", "pts.json object must have type 'lidar/beta'"),
    ("[[0, 0, 0], [1, 1]]", "invalid_points", "pts.json points must be rows of 3"),
    ('[["a", "b", "c"]]', "invalid_points", "pts.json points must be rows of 3"),
    ("[[0, 0, NaN]]", "non_finite", "pts.json points has 1 NaN or infinite values"),
    ("[[0, 0, 0, 99]]", "invalid_points", "pts.json points row 0 has category 99"),
])
def test_malformed_pts_json_files_are_refused(text: str, code: str, message: str) -> None:
    assert refused_file(text, "pts.json", code).startswith(message)


def test_a_pts_json_over_the_point_bound_is_refused() -> None:
    assert refused_file("[[0,0,0],[0,0,0],[0,0,0]]", "pts.json", "too_large", Limits(max_points=2)) == (
        "pts.json points has 3 points; the bound is 2 (DARKROOM_MAX_POINTS)")


# -- meshes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["obj", "stl", "glb", "gltf"])
def test_a_mesh_file_is_kept_as_given_and_also_stored_as_glb_with_its_counts(fmt: str) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=2)
    data = mesh_bytes(sphere, fmt)
    output = run_file(data, fmt)
    assert output.data == data and output.format == fmt
    assert output.measurements == {"vertices": len(sphere.vertices), "faces": len(sphere.faces)}
    assert len(load(output.data, fmt).vertices) == len(sphere.vertices)
    glb, geometry_file = output.related
    assert (glb.role, glb.format, glb.media_type) == ("glb", "glb", "model/gltf-binary")
    assert geometry_file.role == "geometry"
    back = load(glb.data, "glb")
    assert (len(back.vertices), len(back.faces)) == (len(sphere.vertices), len(sphere.faces))
    np.testing.assert_allclose(np.sort(back.vertices, axis=0), np.sort(sphere.vertices, axis=0), atol=1e-6)


def test_an_ascii_stl_is_read_too() -> None:
    data = trimesh.exchange.stl.export_stl_ascii(trimesh.creation.box()).encode()
    assert run_file(data, "stl").measurements == {"vertices": 8, "faces": 12}


def test_an_instanced_glb_counts_every_placed_copy() -> None:
    scene = trimesh.Scene()
    for i in range(3):
        scene.add_geometry(trimesh.creation.box(), node_name=f"n{i}", geom_name="box",
                           transform=trimesh.transformations.translation_matrix([3 * i, 0, 0]))
    output = run_file(scene.export(file_type="glb"), "glb")
    assert output.measurements == {"vertices": 24, "faces": 36}
    assert len(load(output.related[0].data, "glb").vertices) == 24


def test_an_obj_with_material_files_converts_and_records_that_they_are_missing() -> None:
    data = b"mtllib scene.mtl\n" + mesh_bytes(trimesh.creation.box(), "obj")
    output = run_file(data, "obj")
    assert output.measurements == {"vertices": 8, "faces": 12}
    assert output.warnings == ["obj refers to material files (mtllib) the worker does not have: the GLB has no materials"]


def test_a_mesh_over_the_vertex_bound_is_refused_before_loading() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=2)  # 162 vertices
    limits = Limits(max_points=100)
    assert refused_file(mesh_bytes(sphere, "obj"), "obj", "too_large", limits) == (
        "obj file declares 162 vertices; the bound is 100 (DARKROOM_MAX_POINTS)")
    assert refused_file(mesh_bytes(sphere, "stl"), "stl", "too_large", limits) == (
        "stl file declares 960 vertices; the bound is 100 (DARKROOM_MAX_POINTS)")
    assert "declares 162 vertices" in refused_file(mesh_bytes(sphere, "glb"), "glb", "too_large", limits)


def test_a_glb_whose_accessor_declares_more_bytes_than_the_bound_is_refused_unread() -> None:
    # A sparse accessor needs no buffer data: a few bytes of JSON can declare any size.
    gltf = {"asset": {"version": "2.0"}, "accessors": [{"count": 10**12, "type": "VEC3", "componentType": 5126}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}]}
    body = json.dumps(gltf).encode()
    body += b" " * (-len(body) % 4)
    glb = b"glTF" + struct.pack("<II", 2, 20 + len(body)) + struct.pack("<I4s", len(body), b"JSON") + body
    assert refused_file(glb, "glb", "too_large") == (
        f"glb accessors[0] declares {12 * 10**12} bytes; the bound is {Limits().max_payload_bytes} "
        "(DARKROOM_MAX_PAYLOAD_BYTES)")


def test_a_gltf_with_external_buffers_is_refused_naming_the_file() -> None:
    gltf = json.loads(mesh_bytes(trimesh.creation.box(), "gltf"))
    gltf["buffers"][0]["uri"] = "mesh.bin"
    assert refused_file(json.dumps(gltf), "gltf", "invalid_mesh") == (
        "gltf buffers[0] refers to the external file 'mesh.bin', which the worker does not have; "
        "embed it (data: URI) or log a .glb")


@pytest.mark.parametrize(("data", "fmt", "message"), [
    (b"", "obj", "obj file is empty"),
    (b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", "obj", "obj file holds no faces"),
    (b"solid nothing\nendsolid nothing\n", "stl", "stl file holds no faces"),
    (b"GIF89a....", "glb", "glb file does not start with a GLB header"),
    (b"glTF\x02\x00\x00\x00\x20\x00\x00\x00\xff\x00\x00\x00JSON", "glb",
     "glb file's first chunk is not a JSON chunk within the file"),
    (b"{not json", "gltf", "gltf file is not JSON"),
    (b"[1, 2]", "gltf", "gltf file must hold a JSON object; got list"),
])
def test_files_that_are_not_meshes_are_refused(data: bytes, fmt: str, message: str) -> None:
    assert refused_file(data, fmt, "invalid_mesh").startswith(message)


# -- babylon ------------------------------------------------------------------------------------------------------


def test_a_babylon_file_is_checked_as_json_and_its_meshes_counted() -> None:
    quad = {"name": "quad", "positions": [0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0], "indices": [0, 1, 2, 0, 2, 3]}
    text = json.dumps({"meshes": [quad, {"name": "camera-target"}],
                       "geometries": {"vertexData": [{"id": "g", "positions": [0, 0, 0, 1, 1, 1, 2, 2, 2],
                                                      "indices": [0, 1, 2]}]}})
    output = run_file(text, "babylon")
    assert output.data == text.encode() and output.media_type == "application/json"
    assert [r.role for r in output.related] == ["geometry"]
    assert output.measurements == {"vertices": 7, "faces": 3}
    assert len(json.loads(output.data)["meshes"][0]["positions"]) // 3 == 4


@pytest.mark.parametrize(("text", "code", "message"), [
    ('{"meshes": []}', "invalid_mesh", "babylon file has no meshes"),
    (babylon({"name": "x"}), "invalid_mesh", "babylon file has no mesh positions"),
    (babylon({"positions": [0, 0]}), "invalid_mesh", "babylon meshes[0] positions must be a flat list of numbers, a multiple of 3 long"),
    (babylon({"positions": [0, 0, "a"]}), "invalid_mesh", "babylon meshes[0] positions must be a flat list of finite numbers"),
    (babylon({"positions": [[0, 0, 0]] * 3}), "invalid_mesh", "babylon meshes[0] positions must be a flat list of finite numbers"),
    (babylon({"positions": [0, 0, 0], "indices": [0, 1, 2]}), "invalid_mesh",
     "babylon meshes[0] indices must be whole numbers below its 1 vertices"),
    ('{"meshes": "many"}', "invalid_mesh", "babylon meshes must be a list; got str"),
    (babylon({"positions": [0.0] * 9}), "too_large", "babylon file declares 3 vertices; the bound is 2 (DARKROOM_MAX_POINTS)"),
])
def test_malformed_babylon_files_are_refused(text: str, code: str, message: str) -> None:
    assert refused_file(text, "babylon", code, Limits(max_points=2)).startswith(message)


# -- options ---------------------------------------------------------------------------------------------------------


def test_options_are_typed_and_the_kind_is_registered() -> None:
    assert CONVERTER.parse_options({}) == Object3DOptions(file_type=None, point_cloud_type=None)
    with pytest.raises(InvalidInput, match=r"^object3d options: file_type: Input should be 'obj'"):
        CONVERTER.parse_options({"file_type": "ply"})
    assert converter_for("object3d") is CONVERTER


def test_a_glb_whose_faces_point_past_its_vertices_is_refused_as_a_damaged_mesh() -> None:
    glb = bytearray(trimesh.creation.box().export(file_type="glb"))
    json_len = struct.unpack_from("<I", glb, 12)[0]
    doc = json.loads(glb[20:20 + json_len])
    accessor = doc["accessors"][doc["meshes"][0]["primitives"][0]["indices"]]
    view = doc["bufferViews"][accessor["bufferView"]]
    first_index = 20 + json_len + 8 + view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    struct.pack_into({5125: "<I", 5123: "<H", 5121: "<B"}[accessor["componentType"]], glb, first_index, 200)
    with pytest.raises(InvalidInput) as info:
        run_file(bytes(glb), "glb")
    assert info.value.code == "invalid_mesh"
    assert "glb file has a face on vertex 200, outside 0..7 (a damaged file)" in info.value.message
