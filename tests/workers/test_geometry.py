"""workers/converters/geometry.py and the `geometry` / `display` files the 3-D converters add, decoded back."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
import trimesh
from rdkit import Chem
from rdkit.Chem import AllChem

from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload, geometry
from darkroom.workers.converters import object3d, point_cloud
from darkroom.workers.converters.molecule import MoleculeOptions
from darkroom.workers.converters.molecule import convert as convert_molecule
from darkroom.workers.converters.object3d import Object3DOptions
from darkroom.workers.converters.object3d import convert as convert_object3d

BOX = {"corners": [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
       "color": [255, 0, 0], "label": "car", "score": 0.9}


def related(output: Output, role: str) -> tuple[dict, dict[str, np.ndarray]]:
    (file,) = [r for r in output.related if r.role == role]
    assert (file.format, file.media_type) == ("bin", "application/vnd.darkroom.geometry")
    return geometry.decode(file.data)


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def cloud(array: np.ndarray, scene: dict | None = None, **options: object) -> Output:
    extra = {} if scene is None else {"scene": Payload(json.dumps(scene).encode(), "application/json", "json")}
    item = ItemInput(Payload(npy(array), "application/x-npy", "npy"), related=extra)
    return convert_object3d(item, Object3DOptions(**options), Limits())


def file3d(data: bytes | str, fmt: str) -> Output:
    raw = data.encode() if isinstance(data, str) else data
    return convert_object3d(ItemInput(Payload(raw, "application/octet-stream", "bin")),
                            Object3DOptions(file_type=fmt), Limits())


def molecule(data: str, **options: object) -> Output:
    return convert_molecule(ItemInput(Payload(data.encode(), "text/plain", "txt")), MoleculeOptions(**options),
                            Limits())


# -- the format ---------------------------------------------------------------------------------------


def test_arrays_come_back_with_their_dtypes_shapes_and_values_each_4_byte_aligned() -> None:
    positions = np.arange(15, dtype=np.float64).reshape(5, 3) / 7
    tags = np.array([1, 2, 3], np.uint8)  # 3 bytes: the next array must still start aligned
    indices = np.array([[0, 1, 2], [2, 3, 4]], np.uint32)
    data = geometry.encode("mesh", {"positions": positions, "tags": tags, "indices": indices}, {"note": "é"})
    assert data[:4] == b"DRG1"
    (length,) = struct.unpack_from("<I", data, 4)
    assert length % 4 == 0
    header, arrays = geometry.decode(data)
    assert header["format"] == "darkroom.geometry/1" and header["kind"] == "mesh" and header["note"] == "é"
    assert all(spec["offset"] % 4 == 0 for spec in header["arrays"].values())
    assert arrays["positions"].dtype == np.float32 and arrays["positions"].shape == (5, 3)
    np.testing.assert_allclose(arrays["positions"], positions, rtol=1e-6)
    assert arrays["tags"].tolist() == [1, 2, 3] and arrays["indices"].tolist() == indices.tolist()
    assert arrays["indices"].dtype == np.dtype("<u4")
    assert len(data) % 4 == 0


def test_a_file_that_is_not_geometry_or_whose_array_runs_past_the_end_is_refused() -> None:
    with pytest.raises(ValueError, match="not a darkroom geometry file"):
        geometry.decode(b"PNG....")
    data = geometry.encode("points", {"positions": np.zeros((4, 3))})
    with pytest.raises(ValueError, match="is not inside the file"):
        geometry.decode(data[:-8])
    with pytest.raises(ValueError, match="has dtype int64"):
        geometry.encode("points", {"positions": np.zeros((1, 3), np.int64)})


# -- meshes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["obj", "glb", "stl"])
def test_a_mesh_file_has_a_geometry_file_with_the_glbs_positions_and_triangles(fmt: str) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=1)
    data = sphere.export(file_type=fmt)
    output = file3d(data if isinstance(data, bytes) else data.encode(), fmt)
    header, arrays = related(output, "geometry")
    glb = trimesh.load_scene(io.BytesIO(output.related[0].data), file_type="glb").to_mesh()
    assert header["kind"] == "mesh" and header["vertices"] == len(glb.vertices) and header["faces"] == len(glb.faces)
    np.testing.assert_allclose(arrays["positions"], glb.vertices, atol=1e-6)
    assert arrays["indices"].shape == (len(glb.faces), 3) and (arrays["indices"] == glb.faces).all()
    np.testing.assert_allclose(header["bounds"], [glb.vertices.min(axis=0), glb.vertices.max(axis=0)], atol=1e-6)


def test_a_mesh_with_vertex_colours_keeps_them_as_rgba() -> None:
    box = trimesh.creation.box()
    box.visual.vertex_colors = np.tile([10, 200, 30, 255], (len(box.vertices), 1)).astype(np.uint8)
    _, arrays = related(file3d(box.export(file_type="glb"), "glb"), "geometry")
    assert arrays["colors"].shape == (8, 4) and (arrays["colors"] == [10, 200, 30, 255]).all()


def test_a_babylon_files_meshes_are_joined_with_their_indices_offset() -> None:
    quad = {"positions": [0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0], "indices": [0, 1, 2, 0, 2, 3]}
    tri = {"positions": [5, 5, 5, 6, 5, 5, 5, 6, 5], "indices": [0, 1, 2]}
    header, arrays = related(file3d(json.dumps({"meshes": [quad, tri]}), "babylon"), "geometry")
    assert arrays["positions"].shape == (7, 3) and arrays["positions"][4].tolist() == [5, 5, 5]
    assert arrays["indices"].tolist() == [[0, 1, 2], [0, 2, 3], [4, 5, 6]]
    assert header["bounds"] == [[0, 0, 0], [6, 6, 5]]


# -- point clouds ------------------------------------------------------------------------------------------


def test_a_cloud_has_a_geometry_file_with_every_point_its_colours_boxes_and_vectors() -> None:
    rgb = np.array([[0, 0, 0, 255, 0, 0], [1.5, 2, 3, 0, 128, 255]])
    vector = {"start": [0, 0, 0], "end": [1, 2, 3]}
    output = cloud(rgb, {"boxes": [BOX], "vectors": [vector]}, point_cloud_type="lidar/beta")
    header, arrays = related(output, "geometry")
    assert header["kind"] == "points" and header["points"] == header["total_points"] == 2
    assert "subsample" not in header and header["boxes"] == [BOX] and header["vectors"] == [vector]
    assert arrays["positions"].tolist() == [[0, 0, 0], [1.5, 2, 3]]
    assert arrays["colors"].tolist() == [[255, 0, 0], [0, 128, 255]] and "categories" not in arrays
    _, categorised = related(cloud(np.array([[0, 0, 0, 3], [1, 1, 1, 14]])), "geometry")
    assert categorised["categories"].tolist() == [3, 14] and "colors" not in categorised


def test_a_cloud_over_the_display_cap_gets_a_seeded_display_subsample_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(point_cloud, "DISPLAY_POINTS", 100)
    monkeypatch.setattr(object3d, "DISPLAY_POINTS", 100)
    points = np.column_stack([np.arange(1000.0), np.zeros(1000), np.zeros(1000)])
    output = cloud(points)
    assert [r.role for r in output.related] == ["display"]
    header, arrays = related(output, "display")
    assert header["points"] == 100 and header["total_points"] == 1000 and header["subsample"]["of"] == 1000
    xs = arrays["positions"][:, 0]
    assert len(np.unique(xs)) == 100 and (np.diff(xs) > 0).all()  # distinct points, in their original order
    assert xs.max() - xs.min() > 500  # spread over the cloud, not its first rows
    assert geometry.decode(cloud(points).related[0].data)[1]["positions"].tolist() == arrays["positions"].tolist()
    assert output.measurements == {"points": 1000, "display_truncated": True}


def test_a_pts_json_file_gets_the_same_geometry_as_the_logged_cloud() -> None:
    text = json.dumps({"type": "lidar/beta", "points": [[0, 0, 0, 2], [1, 2, 3, 5]], "boxes": [BOX]})
    header, arrays = related(file3d(text, "pts.json"), "geometry")
    assert arrays["positions"].tolist() == [[0, 0, 0], [1, 2, 3]] and arrays["categories"].tolist() == [2, 5]
    assert header["boxes"] == [BOX] and header["vectors"] == []


# -- molecules -------------------------------------------------------------------------------------------------


def test_a_smiles_molecule_has_its_3d_atoms_elements_and_bonds_with_orders() -> None:
    output = molecule("C=CC#N", source="smiles")  # acrylonitrile: a double and a triple bond
    header, arrays = related(output, "geometry")
    pdb = Chem.MolFromPDBBlock(output.data.decode(), removeHs=False)
    assert header["kind"] == "molecule" and header["atoms"] == pdb.GetNumAtoms() == 7
    np.testing.assert_allclose(arrays["positions"], pdb.GetConformer().GetPositions(), atol=1e-3)  # PDB: 3 decimals
    assert sorted(arrays["elements"].tolist()) == [1, 1, 1, 6, 6, 6, 7]
    assert sorted(arrays["bond_orders"].tolist()) == [1, 1, 1, 1, 2, 3]  # C-C, 3 C-H, C=C, C#N
    assert arrays["bonds"].shape == (6, 2) and arrays["bonds"].max() < 7
    for (a, b), order in zip(arrays["bonds"], arrays["bond_orders"]):
        if order == 3:
            assert sorted(arrays["elements"][[a, b]].tolist()) == [6, 7]  # C#N


def test_an_sdf_files_records_sit_side_by_side_with_bond_indices_offset() -> None:
    mols = [Chem.AddHs(Chem.MolFromSmiles(s)) for s in ("O", "CO")]
    buf = io.StringIO()
    with Chem.SDWriter(buf) as writer:
        for mol in mols:
            AllChem.EmbedMolecule(mol, randomSeed=1)
            writer.write(mol)
    header, arrays = related(molecule(buf.getvalue(), file_type="sdf"), "geometry")
    assert header["atoms"] == 3 + 6 and header["bonds"] == 2 + 5
    assert arrays["elements"][:3].tolist() == [8, 1, 1]
    assert arrays["bonds"][:2].max() < 3 and arrays["bonds"][2:].min() >= 3  # water's, then methanol's
    np.testing.assert_allclose(arrays["positions"][3:], mols[1].GetConformer().GetPositions(), atol=1e-3)


def test_a_file_format_rdkit_does_not_parse_has_no_geometry_file() -> None:
    gro = "water\n    3\n    1SOL     OW    1   0.126   1.624   1.679\n    1SOL    HW1    2   0.190   1.661   1.747\n" \
          "    1SOL    HW2    3   0.177   1.568   1.613\n   1.86206   1.86206   1.86206\n"
    assert molecule(gro, file_type="gro").related == []
