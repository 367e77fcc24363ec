"""Fuzzing the object3d converter: an Output or an InvalidInput, never another exception or a hang.

Bounded (50 examples each, small clouds and meshes, a low point bound) so the
file runs in seconds.  Where MEDIA_TYPES.md predicts the outcome (an N×3/4/6
cloud of finite, in-range values converts and reads back to its rows) the
tests check it.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import trimesh
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload, geometry
from darkroom.workers.converters.object3d import Object3DOptions, convert

from converter_harness import (NPY, byte_flips, damaged, file_item, fuzz_settings, npy_bytes, npy_item,
                               run_converter)

LIMITS = Limits(max_points=2_000, max_payload_bytes=1 << 20)
FUZZ = fuzz_settings(50)
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", ">i4", "float16", "float32", "float64", ">f8"]
MESHES = ["obj", "stl", "glb", "gltf"]


def outcome(item: ItemInput, options: Object3DOptions) -> Output | InvalidInput:
    """Run the converter (converter_harness.run_converter); an Output's related files must read back."""
    result = run_converter(convert, item, options, LIMITS)
    if isinstance(result, InvalidInput):
        return result
    m = result.measurements
    assert 0 <= m.get("points", 0) <= LIMITS.max_points and 0 <= m.get("vertices", 0)
    for related in result.related:
        if related.role == "glb":  # a mesh's GLB reads back with its counts
            mesh = trimesh.load_scene(io.BytesIO(related.data), file_type="glb").to_mesh()
            assert (len(mesh.vertices), len(mesh.faces)) == (m["vertices"], m["faces"])
            continue
        assert related.role in ("geometry", "display")  # the viewer's binary reads back too
        header, arrays = geometry.decode(related.data)
        if header["kind"] == "mesh":
            assert arrays["positions"].shape == (m["vertices"], 3) and arrays["indices"].shape == (m["faces"], 3)
            assert not len(arrays["indices"]) or int(arrays["indices"].max()) < m["vertices"]
        else:
            assert header["total_points"] == m["points"] and len(arrays["positions"]) == header["points"]
    return result


# -- clouds --------------------------------------------------------------------------------------


@st.composite
def clouds(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(st.one_of(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
                           st.tuples(st.integers(0, 30), st.sampled_from([3, 4, 6]))))
    if dtype.kind in "iuf" and draw(st.booleans()):
        # Mostly valid values, so the accepted path and the range checks both get hit.
        return draw(hnp.arrays(dtype, shape, elements=st.integers(0, 20) if dtype.kind in "iu"
                               else st.floats(0, 20, width=dtype.itemsize * 8)))
    return draw(hnp.arrays(dtype, shape))


def accepted(array: np.ndarray) -> bool:
    """MEDIA_TYPES.md's rule, restated independently of the code under test."""
    if array.ndim != 2 or array.shape[1] not in (3, 4, 6) or array.dtype.kind not in "iuf":
        return False
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        return False
    if array.shape[1] == 4:
        return bool(((values[:, 3] >= 1) & (values[:, 3] <= 14) & (values[:, 3] == np.rint(values[:, 3]))).all())
    return True  # six columns: colours outside 0..255 are clipped, not refused


@FUZZ
@given(array=clouds(), lidar=st.booleans())
def test_any_array_converts_to_its_rows_or_is_refused(array: np.ndarray, lidar: bool) -> None:
    options = Object3DOptions(point_cloud_type="lidar/beta" if lidar else None)
    result = outcome(npy_item(array), options)
    assert isinstance(result, Output) == accepted(array), result
    if isinstance(result, Output):
        content = json.loads(result.data)
        rows = np.array(content["points"] if lidar else content, dtype=np.float64).reshape(array.shape)
        expected = array.astype(np.float64)
        if array.shape[1] == 6:
            outside = ((expected[:, 3:] < 0) | (expected[:, 3:] > 255)).any()
            assert outside == any("clipped to 0..255" in w for w in result.warnings), result.warnings
            expected[:, 3:] = np.rint(np.clip(expected[:, 3:], 0, 255))
        np.testing.assert_array_equal(rows.astype(array.dtype) if array.dtype.kind == "f" else rows,
                                      expected.astype(array.dtype) if array.dtype.kind == "f" else expected)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=8) | st.dictionaries(
        st.sampled_from(["type", "points", "boxes", "vectors", "corners", "color", "label", "score", "start",
                         "end", "meshes", "positions", "indices", "geometries", "vertexData", "x"]),
        children, max_size=5),
    max_leaves=40,
)


@FUZZ
@given(scene=json_values, points=st.integers(0, 4))
def test_any_json_as_boxes_and_vectors_never_crashes(scene: Any, points: int) -> None:
    related = {"scene": Payload(json.dumps(scene).encode(), "application/json", "json")}
    item = ItemInput(Payload(npy_bytes(np.ones((points, 3))), NPY, "npy"), related=related)
    outcome(item, Object3DOptions(point_cloud_type="lidar/beta"))


@FUZZ
@given(value=json_values, fmt=st.sampled_from(["pts.json", "babylon", "gltf"]))
def test_any_json_as_a_json_format_never_crashes(value: Any, fmt: str) -> None:
    outcome(file_item(json.dumps(value).encode()), Object3DOptions(file_type=fmt))


# -- files -----------------------------------------------------------------------------------------


def samples() -> dict[str, bytes]:
    mesh = trimesh.creation.icosphere(subdivisions=1)
    files = {fmt: mesh.export(file_type=fmt) for fmt in ("obj", "stl", "glb")}
    files["gltf"] = trimesh.exchange.gltf.export_gltf(trimesh.Scene(mesh), embed_buffers=True)["model.gltf"]
    files["stl_ascii"] = trimesh.exchange.stl.export_stl_ascii(mesh)
    files["babylon"] = json.dumps({"meshes": [{"positions": [0, 0, 0, 1, 0, 0, 0, 1, 0], "indices": [0, 1, 2]}]})
    files["pts.json"] = json.dumps({"type": "lidar/beta", "points": [[0, 0, 0, 1]], "boxes": [
        {"corners": [[0, 0, 0]] * 8, "color": [1, 2, 3]}], "vectors": [{"start": [0, 0, 0], "end": [1, 1, 1]}]})
    return {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}


SAMPLES = samples()


@FUZZ
@given(name=st.sampled_from(sorted(SAMPLES)), cut=st.integers(0, 3000), flips=byte_flips(4, max_position=100_000))
def test_truncated_or_damaged_files_never_crash(name: str, cut: int, flips: list[tuple[int, int]]) -> None:
    result = outcome(file_item(damaged(SAMPLES[name], flips, cut)), Object3DOptions(file_type=name.split("_")[0]))
    if not flips and not cut:
        assert isinstance(result, Output)


@FUZZ
@given(magic=st.sampled_from([b"", b"glTF\x02\x00\x00\x00", b"solid ", b"v ", b"{", b"["]),
       body=st.binary(max_size=600), fmt=st.sampled_from(MESHES + ["babylon", "pts.json"]))
def test_random_bytes_as_any_file_type_are_refused_or_converted(magic: bytes, body: bytes, fmt: str) -> None:
    outcome(file_item(magic + body), Object3DOptions(file_type=fmt))
