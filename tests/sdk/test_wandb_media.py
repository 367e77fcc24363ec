"""W&B media code that darkroom refused or lacked: open files typed by their name, clipped colours,
empty clouds, W&B's attributes on media objects and the keyword arguments W&B code passes.
Each logged item is read back from storage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from rdkit import Chem
from rdkit.Chem import AllChem

import darkroom

BOX = {"corners": [[x, y, z] for z in (-1, 1) for y in (-1, 1) for x in (-1, 1)], "color": [300, -5, 128]}


def logged(**values):
    run = darkroom.init(project="wbmedia")
    run.log(values)
    report = run.finish(quiet=True)
    reader = darkroom.Api().run(run.path)
    return report, reader


# -- open files: the type from the file's name ------------------------------------------------------------


def test_open_files_without_file_type_are_typed_by_their_name(embedded_env, tmp_path: Path):
    obj = tmp_path / "wolf.obj"
    obj.write_text(trimesh.creation.box().export(file_type="obj"))
    pdb = tmp_path / "ethanol.pdb"
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=5)
    pdb.write_text(Chem.MolToPDBBlock(mol))
    with open(obj) as mesh_file, open(pdb) as molecule_file:
        report, reader = logged(mesh=darkroom.Object3D(mesh_file), molecule=darkroom.Molecule(molecule_file))
    assert report.failed == [] and report.converted == 2
    mesh = reader.manifests(key="mesh")[0]
    assert mesh["artifact"]["format"] == "obj" and mesh["artifact"]["faces"] == 12
    molecule = reader.manifests(key="molecule")[0]
    assert molecule["artifact"]["format"] == "pdb" and molecule["artifact"]["atoms"] == 9


def test_an_open_file_whose_name_does_not_tell_still_needs_file_type(tmp_path: Path):
    path = tmp_path / "scene.xyz"
    path.write_text("1 2 3")
    with open(path) as f, pytest.raises(ValueError, match=r"needs file_type= \(its name '.*scene.xyz' does not "
                                                          r"tell\); accepted: obj, gltf"):
        darkroom.Object3D(f)


# -- clip instead of refuse ----------------------------------------------------------------------------------


def test_out_of_range_colours_are_clipped_with_warnings_in_the_manifest(embedded_env):
    scene = darkroom.Object3D.from_point_cloud(np.zeros((2, 3)), [BOX],
                                               [{"start": [0, 0, 0], "end": [1, 1, 1], "color": [0, 0, 999]}])
    coloured = darkroom.Object3D(np.array([[0, 0, 0, 300, -1, 5.0]]))
    report, reader = logged(scene=scene, coloured=coloured)
    assert report.failed == []
    stored = reader.manifests(key="scene")[0]
    assert json.loads(reader.read(stored))["boxes"][0]["color"] == [255, 0, 128]
    assert stored["warnings"] == [
        "point cloud boxes[0] color: [300, -5, 128] is outside 0..255; clipped to [255, 0, 128]",
        "point cloud vectors[0] color: [0, 0, 999] is outside 0..255; clipped to [0, 0, 255]"]
    points = reader.manifests(key="coloured")[0]
    assert json.loads(reader.read(points)) == [[0.0, 0.0, 0.0, 255, 0, 5]]  # a bare array: its rows
    assert "clipped to 0..255" in points["warnings"][0]


def test_empty_point_clouds_and_scenes_are_stored(embedded_env):
    report, reader = logged(empty=darkroom.Object3D(np.zeros((0, 3))),
                            scene=darkroom.Object3D.from_point_cloud([], [], []))
    assert report.failed == [] and report.converted == 2
    empty, scene = reader.manifests(key="empty")[0], reader.manifests(key="scene")[0]
    assert empty["artifact"]["points"] == 0 and json.loads(reader.read(empty)) == []
    assert scene["artifact"]["points"] == 0 and json.loads(reader.read(scene))["points"] == []
