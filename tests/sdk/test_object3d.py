"""darkroom.Object3D: what the constructors snapshot and refuse (MEDIA_TYPES.md, Object3D), then a run end to end.

The constructors check shapes and types only; values, boxes and file contents
are the worker's.  The last test logs every form in one embedded run and reads
the clouds back from pts.json and the meshes back with trimesh.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

import darkroom
from tensor_doubles import DuckTensor
from darkroom._media import ArraySnapshot, BytesSnapshot, FileSnapshot

COLUMNS = "N×3 (x, y, z), N×4 (x, y, z, category 1..14) or N×6 (x, y, z, r, g, b with 0..255)"
FORMATS = "obj, gltf, glb, babylon, stl, pts.json"
BOX = {"corners": [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
       "color": [255, 0, 0], "label": "car"}



# -- point clouds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [3, 4, 6])
def test_every_accepted_cloud_shape_is_snapshotted_as_a_private_copy(columns: int) -> None:
    points = np.ones((5, columns), np.float32)
    cloud = darkroom.Object3D(points, caption="scan")
    points[0, 0] = 7  # the caller reuses its buffer after log()
    payload = cloud._payload
    assert isinstance(payload, ArraySnapshot) and payload.array.shape == (5, columns)
    assert payload.array[0, 0] == 1 and cloud._options == {} and cloud.caption == "scan"


def test_tensors_nested_lists_and_from_numpy_give_the_same_snapshot() -> None:
    rows = [[0, 1, 2], [3, 4, 5]]
    for obj in (darkroom.Object3D(DuckTensor(np.array(rows))), darkroom.Object3D(rows),
                darkroom.Object3D.from_numpy(np.array(rows))):
        np.testing.assert_array_equal(obj._payload.array, rows)


@pytest.mark.parametrize("shape", [(5,), (5, 2), (5, 5), (5, 3, 1)])
def test_other_shapes_are_refused_naming_the_shape_and_the_accepted_ones(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError) as info:
        darkroom.Object3D(np.zeros(shape))
    assert str(info.value) == f"Object3D has shape {shape}; accepted: {COLUMNS}"


@pytest.mark.parametrize(("data", "error", "text"), [
    (np.zeros((2, 3), bool), TypeError, "Object3D has dtype bool; accepted: integer or float numbers"),
    (np.array([["a", "b", "c"]]), TypeError, "Object3D: array dtype <U1 is not accepted; accepted: bool, integer or float"),
    (3.5, TypeError, f"Object3D got float; accepted: a numpy array {COLUMNS}, or a path or open file of type {FORMATS}"),
])
def test_values_that_are_not_numeric_arrays_are_refused(data, error, text) -> None:
    with pytest.raises(error) as info:
        darkroom.Object3D(data)
    assert str(info.value) == text


def test_nan_and_out_of_range_values_are_left_to_the_worker() -> None:
    # Value checks cost a pass over the data: the worker makes them (MEDIA_TYPES.md, general rules).
    darkroom.Object3D(np.array([[np.nan, 0, 0, 99]]))


def test_from_point_cloud_sends_points_as_an_array_and_boxes_and_vectors_as_a_json_payload() -> None:
    points = np.zeros((4, 4))
    vectors = [{"start": np.array([0, 0, 0]), "end": [1, 1, 1]}]
    cloud = darkroom.Object3D.from_point_cloud(points, np.array([BOX]), vectors=vectors)
    vectors[0]["end"] = [9, 9, 9]  # later changes are not logged
    assert cloud._payload.array.shape == (4, 4) and cloud._options == {"point_cloud_type": "lidar/beta"}
    scene = cloud._related["scene"]
    assert (scene.ext, scene.media_type) == ("json", "application/json")
    assert json.loads(scene.data) == {"boxes": [BOX], "vectors": [{"start": [0, 0, 0], "end": [1, 1, 1]}]}


def test_a_lidar_dict_is_the_same_as_from_point_cloud() -> None:
    cloud = darkroom.Object3D({"type": "lidar/beta", "points": np.zeros((2, 3)), "boxes": [BOX]})
    assert cloud._options == {"point_cloud_type": "lidar/beta"}
    assert json.loads(cloud._related["scene"].data) == {"boxes": [BOX], "vectors": []}


@pytest.mark.parametrize(("call", "error", "text"), [
    (lambda: darkroom.Object3D.from_point_cloud(np.zeros((1, 3)), [], point_cloud_type="lidar/alpha"), ValueError,
     "Object3D.from_point_cloud point cloud type 'lidar/alpha'; accepted: lidar/beta"),
    (lambda: darkroom.Object3D.from_point_cloud(np.zeros((1, 3)), {"corners": []}), TypeError,
     "Object3D.from_point_cloud boxes must be a list of dicts; got dict"),
    (lambda: darkroom.Object3D.from_point_cloud(np.zeros((1, 3)), [[0, 0, 0]]), TypeError,
     "Object3D.from_point_cloud boxes[0] must be a dict; got list"),
    (lambda: darkroom.Object3D.from_point_cloud(np.zeros((1, 3)), [], vectors="up"), TypeError,
     "Object3D.from_point_cloud vectors must be a list of dicts; got str"),
    (lambda: darkroom.Object3D.from_point_cloud(np.zeros((1, 3)), [{"colour": [1, 2, 3]}]), TypeError,
     "Object3D.from_point_cloud boxes[0] has unknown keys ['colour']; accepted: corners, color, label, score"),
    (lambda: darkroom.Object3D.from_point_cloud(np.zeros((1, 3)), [], vectors=[{"to": [1, 2, 3]}]), TypeError,
     "Object3D.from_point_cloud vectors[0] has unknown keys ['to']; accepted: start, end, color"),
    (lambda: darkroom.Object3D.from_point_cloud(np.zeros((1, 2)), []), ValueError,
     f"Object3D.from_point_cloud points has shape (1, 2); accepted: {COLUMNS}"),
    (lambda: darkroom.Object3D({"type": "lidar/beta", "boxes": []}), ValueError,
     f"Object3D needs points: an array {COLUMNS}"),
    (lambda: darkroom.Object3D({"points": np.zeros((1, 3))}), ValueError,
     "Object3D point cloud type None; accepted: lidar/beta"),
    (lambda: darkroom.Object3D.from_point_cloud(np.zeros((1, 3)), [{"label": object()}]), TypeError,
     "Object3D.from_point_cloud boxes: object "),
])
def test_malformed_point_cloud_arguments_are_refused(call, error, text) -> None:
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(text)


# -- files --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt", "ext"), [("m.obj", "obj", "obj"), ("m.GLB", "glb", "glb"),
                                                   ("scan.pts.json", "pts.json", "json"), ("s.babylon", "babylon", "babylon")])
def test_a_path_is_snapshotted_by_name_with_its_format(tmp_path: Path, name: str, fmt: str, ext: str) -> None:
    path = tmp_path / name
    path.write_text("contents are the worker's business")
    obj = darkroom.Object3D.from_file(path)
    assert obj._payload == FileSnapshot(str(path.resolve()), ext) and obj._options == {"file_type": fmt}


def test_an_open_file_is_copied_whole_and_needs_a_file_type() -> None:
    obj = darkroom.Object3D(io.BytesIO(b"glTF..."), file_type="glb")
    assert obj._payload == BytesSnapshot(b"glTF...", "glb", "model/gltf-binary")
    assert darkroom.Object3D.from_file(io.StringIO("[]"), file_type="pts.json")._payload == BytesSnapshot(
        b"[]", "json", "application/json")
    with pytest.raises(ValueError) as info:
        darkroom.Object3D.from_file(io.BytesIO(b"x"))
    assert str(info.value) == f"Object3D: an open file needs file_type=; accepted: {FORMATS}"


@pytest.mark.parametrize(("call", "error", "text"), [
    (lambda p: darkroom.Object3D(p / "scene.ply"), ValueError,
     "cannot tell the format of '{dir}/scene.ply' from its extension '.ply'; accepted: " + FORMATS + " (or pass file_type=)"),
    (lambda p: darkroom.Object3D(p / "gone.obj"), FileNotFoundError,
     "no file at '{dir}/gone.obj'; accepted: a path to a " + FORMATS + " file"),
    (lambda p: darkroom.Object3D(io.BytesIO(b""), file_type="ply"), ValueError,
     "Object3D file_type='ply'; accepted: " + FORMATS),
    (lambda p: darkroom.Object3D(np.zeros((1, 3)), file_type="obj"), ValueError,
     "Object3D file_type='obj' is only for files; got ndarray"),
    (lambda p: darkroom.Object3D.from_numpy(str(p / "x.obj")), TypeError,
     "Object3D.from_numpy got str; accepted: an array " + COLUMNS),
    (lambda p: darkroom.Object3D.from_file(np.zeros((1, 3))), TypeError,
     "Object3D.from_file got ndarray; accepted: a path or an open file of type " + FORMATS),
])
def test_files_and_arguments_of_the_wrong_kind_are_refused(tmp_path: Path, call, error, text) -> None:
    with pytest.raises(error) as info:
        call(tmp_path)
    assert text.format(dir=tmp_path) in str(info.value)


def test_building_3d_objects_loads_no_trimesh_and_no_worker_code() -> None:
    code = ("import json, sys, io, numpy as np, darkroom\n"
            "darkroom.Object3D(np.zeros((3, 3))); darkroom.Object3D(io.BytesIO(b'x'), file_type='glb')\n"
            "darkroom.Object3D.from_point_cloud(np.zeros((3, 4)), [{'corners': [[0, 0, 0]] * 8, 'color': [0, 0, 0]}])\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('trimesh', 'PIL', 'pydantic') "
            "or m.startswith('darkroom.workers'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


# -- end to end ---------------------------------------------------------------------------------------------


def test_a_run_stores_clouds_as_pts_json_and_meshes_as_given_with_a_glb(embedded_env, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    xyz = rng.normal(size=(100, 3))
    coloured = np.hstack([xyz, rng.integers(0, 256, (100, 3))])
    sphere = trimesh.creation.icosphere(subdivisions=2)
    obj_path = tmp_path / "sphere.obj"
    obj_path.write_text(sphere.export(file_type="obj"))
    glb = trimesh.creation.box().export(file_type="glb")
    quad = json.dumps({"meshes": [{"positions": [0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0], "indices": [0, 1, 2, 0, 2, 3]}]})
    nan = xyz.copy()
    nan[7, 2] = np.nan

    run = darkroom.init(project="scenes")
    run.log({"cloud": darkroom.Object3D(xyz, caption="lidar sweep"),
             "coloured": darkroom.Object3D(coloured),
             "scene": darkroom.Object3D.from_point_cloud(np.hstack([xyz, np.full((100, 1), 3)]), [BOX]),
             "sphere": darkroom.Object3D.from_file(obj_path),
             "box": darkroom.Object3D(io.BytesIO(glb), file_type="glb"),
             "quad": darkroom.Object3D(io.StringIO(quad), file_type="babylon")})
    run.log({"bad": [darkroom.Object3D(nan),
                     darkroom.Object3D.from_point_cloud(xyz, [{**BOX, "corners": BOX["corners"][:4]}])]})
    report = run.finish(quiet=True)

    assert (report.converted, report.pending, report.spooled) == (6, 0, 0)
    assert [(f.key, f.index, f.code) for f in report.failed] == [("bad", 0, "non_finite"), ("bad", 1, "invalid_scene")]
    assert "points has 1 NaN or infinite values (first at row 7, column 2)" in report.failed[0].message
    assert "boxes[0] corners: got 4; accepted: exactly 8 corners" in report.failed[1].message

    reader = darkroom.Api().run(run.path)

    def read(key: str) -> tuple[dict, bytes]:
        (manifest,) = reader.manifests(key=key)
        assert manifest["status"] == "ok" and manifest["kind"] == "object3d", manifest
        return manifest, reader.read(manifest)

    manifest, data = read("cloud")
    np.testing.assert_array_equal(np.array(json.loads(data)), xyz)
    art = manifest["artifact"]
    assert (art["format"], art["media_type"], art["points"], art["display_truncated"]) == (
        "pts.json", "application/json", 100, False)
    assert manifest["caption"] == "lidar sweep"

    manifest, data = read("coloured")
    np.testing.assert_array_equal(np.array(json.loads(data)), coloured)

    manifest, data = read("scene")
    scene = json.loads(data)
    assert scene["type"] == "lidar/beta" and scene["boxes"] == [BOX] and scene["vectors"] == []
    assert [row[3] for row in scene["points"]] == [3] * 100 and manifest["artifact"]["points"] == 100

    manifest, data = read("sphere")
    assert data == obj_path.read_bytes()
    assert (manifest["artifact"]["vertices"], manifest["artifact"]["faces"]) == (len(sphere.vertices), len(sphere.faces))
    assert len(trimesh.load_scene(io.BytesIO(data), file_type="obj").to_mesh().vertices) == len(sphere.vertices)
    related, geometry_file = manifest["related"]
    assert (related["role"], related["format"], related["vertices"]) == ("glb", "glb", len(sphere.vertices))
    assert (geometry_file["role"], geometry_file["format"]) == ("geometry", "bin")
    back = trimesh.load_scene(io.BytesIO(reader.read(manifest, role="glb")), file_type="glb").to_mesh()
    assert len(back.vertices) == len(sphere.vertices) and len(back.faces) == len(sphere.faces)

    manifest, data = read("box")
    assert data == glb and (manifest["artifact"]["vertices"], manifest["artifact"]["faces"]) == (8, 12)

    manifest, data = read("quad")
    assert json.loads(data)["meshes"][0]["indices"] == [0, 1, 2, 0, 2, 3]
    assert (manifest["artifact"]["vertices"], manifest["artifact"]["faces"]) == (4, 2)
    assert [r["role"] for r in manifest["related"]] == ["geometry"]
