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


# -- W&B's attributes, computed when read ----------------------------------------------------------------


def test_image_attributes_follow_the_workers_pixel_rule_and_are_computed_only_when_read(embedded_env):
    floats = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    image = darkroom.Image(floats)
    assert "_pil" not in image.__dict__  # nothing computed at construction
    pil = image.image
    assert pil.size == (4, 3) and pil.mode == "L" and image.format == "png"
    report, reader = logged(img=image)
    from PIL import Image as PILImage
    import io

    stored = np.asarray(PILImage.open(io.BytesIO(reader.read(reader.manifests(key="img")[0]))))
    np.testing.assert_array_equal(image.to_data_array(), stored)  # what the worker stored, pixel for pixel


def test_an_image_made_from_an_image_or_from_pyplot_is_a_copy_of_it(embedded_env):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    boxes = {"p": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.1, "maxY": 0.5}, "class_id": 1}]}}
    original = darkroom.Image(np.full((4, 4, 3), 7, np.uint8), caption="orig", boxes=boxes)
    copy = darkroom.Image(original)
    assert copy == original and copy.caption == "orig" and copy._extra["boxes"] == original._extra["boxes"]
    assert darkroom.Image(original, caption="other") != original
    plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [1, 0])
    figure = darkroom.Image(plt)
    plt.close("all")
    assert figure.image.size == (100, 50)
    report, reader = logged(copy=copy, figure=figure)
    assert report.failed == []
    assert reader.manifests(key="copy")[0]["boxes"]["p"]["box_data"][0]["class_id"] == 1
    assert reader.manifests(key="figure")[0]["artifact"]["width"] == 100


def test_equal_media_are_those_made_from_the_same_input():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert darkroom.Image(a) == darkroom.Image(a.copy()) and darkroom.Image(a) != darkroom.Image(a + 1)
    assert darkroom.Html("<p>x</p>") == darkroom.Html("<p>x</p>") != darkroom.Html("<p>y</p>")
    assert darkroom.Table(columns=["a"], data=[[1]]) == darkroom.Table(columns=["a"], data=[[1]])
    assert len({darkroom.Image(a), darkroom.Image(a)}) == 1


def test_histogram_html_and_audio_attributes(tmp_path: Path):
    values = np.array([0.0, 0.0, 1.0, 2.0])
    hist = darkroom.Histogram(values, num_bins=2)
    assert "_binned_json" not in hist.__dict__
    assert hist.histogram == [2, 2] and hist.bins == [0.0, 1.0, 2.0]
    page = tmp_path / "page.html"
    page.write_text("<h1>hi</h1>")
    assert darkroom.Html(str(page)).html == "<h1>hi</h1>" and darkroom.Html("<b>x</b>").html == "<b>x</b>"
    clip = darkroom.Audio(np.zeros(8000, np.float32), sample_rate=16000)
    assert clip.sample_rate == 16000 and clip.duration == 0.5
    import soundfile

    wav = tmp_path / "tone.wav"
    soundfile.write(wav, np.zeros(22050, np.float32), 44100)
    from_file = darkroom.Audio(str(wav))
    assert from_file.sample_rate == 44100 and from_file.duration == 0.5
    assert darkroom.Audio.durations([clip, from_file]) == [0.5, 0.5]


# -- keyword arguments W&B code passes ------------------------------------------------------------------------


def test_tensors_inside_box_positions_are_read_as_numbers(embedded_env):
    import torch

    box = {"position": {"minX": torch.tensor(0.25), "maxX": torch.tensor(0.75), "minY": 0.0, "maxY": 0.5},
           "class_id": torch.tensor(2), "scores": {"p": torch.tensor(0.5)}}
    image = darkroom.Image(np.zeros((8, 8, 3), np.uint8), boxes={"pred": {"box_data": [box]}})
    report, reader = logged(img=image)
    assert report.failed == []
    stored = reader.manifests(key="img")[0]["boxes"]["pred"]["box_data"][0]
    assert stored["position"] == {"minX": 0.25, "maxX": 0.75, "minY": 0.0, "maxY": 0.5} and stored["class_id"] == 2


def test_pr_curve_takes_interp_size_and_keeps_every_threshold(embedded_env):
    y_true = [0, 1, 1, 0, 1, 0]
    probas = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3], [0.35, 0.65], [0.6, 0.4]])
    with pytest.raises(ValueError, match="interp_size=1; accepted: an int >= 2"):
        darkroom.plot.pr_curve(y_true, probas, interp_size=1)
    report, reader = logged(pr=darkroom.plot.pr_curve(y_true, probas, labels=["a", "b"], interp_size=21,
                                                      split_table=True))
    assert report.failed == []
    points = json.loads(reader.read(reader.manifests(key="pr")[0], "table"))
    assert len([row for row in points["data"] if row[0] == "b"]) > 2  # every threshold, not 21 made-up points


# -- aliases -----------------------------------------------------------------------------------------------


def test_w_and_b_plots_and_sklearn_aliases_store_darkrooms_charts(embedded_env):
    y_true = np.array([0, 1, 1, 0])
    probas = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    run = darkroom.init(project="wbmedia")
    run.log({"roc": darkroom.plots.ROC(y_true, probas, ["neg", "pos"]),
             "pr": darkroom.plots.precision_recall(y_true, probas, ["neg", "pos"]),
             "heat": darkroom.plots.HeatMap(["a", "b"], ["x"], [[1.0, 2.0]], show_text=True)})
    darkroom.sklearn.plot_confusion_matrix(["cat", "dog", "dog"], ["cat", "cat", "dog"], ["cat", "dog"])
    report = run.finish(quiet=True)
    assert report.failed == []
    reader = darkroom.Api().run(run.path)
    charts = {m["key"]: m["input"]["options"]["chart"] for m in reader.manifests()}
    assert charts == {"roc": "roc", "pr": "pr", "heat": "heatmap", "confusion_matrix": "confusion_matrix"}
    matrix = json.loads(reader.read(reader.manifests(key="confusion_matrix")[0], "table"))
    assert ["dog", "cat", 1] in matrix["data"] and ["cat", "cat", 1] in matrix["data"]


def test_classes_name_the_boxes_and_masks_that_name_none(embedded_env):
    classes = darkroom.Classes([{"id": 0, "name": "road"}, {"id": 1, "name": "car"}])
    box = {"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.1, "maxY": 0.5}, "class_id": 1}
    mask = np.zeros((8, 8), np.uint8)
    mask[:4] = 1
    image = darkroom.Image(np.zeros((8, 8, 3), np.uint8), grouping=2, classes=classes,
                           boxes={"pred": {"box_data": [box]}, "own": {"box_data": [box], "class_labels": {1: "bus"}}},
                           masks={"seg": {"mask_data": mask}})
    report, reader = logged(img=image)
    assert report.failed == []
    stored = reader.manifests(key="img")[0]
    assert stored["boxes"]["pred"]["class_labels"] == {"0": "road", "1": "car"}
    assert stored["boxes"]["own"]["class_labels"] == {"1": "bus"}
    seg = next(f for f in stored["related"] if f["role"] == "mask:seg")
    assert seg["class_labels"] == {"0": "road", "1": "car"}
    with pytest.raises(TypeError, match=r"each class must be \{'id': int, 'name': str\}"):
        darkroom.Classes([{"id": "a", "name": "x"}])
