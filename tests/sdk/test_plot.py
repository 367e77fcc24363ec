"""darkroom.plot: what the chart functions keep and refuse, figures as images, and a run end to end."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import matplotlib
import numpy as np
import pytest
from PIL import Image as PILImage

import darkroom
from darkroom._table import JsonSnapshot

matplotlib.use("Agg")  # the tests draw figures of their own; no display here
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture
def figure():
    fig, axes = plt.subplots(figsize=(2, 1), dpi=40)
    fig.set_facecolor("red")  # the figure's margin: pure red pixels to find again
    axes.plot([0, 1], [1, 0])
    yield fig
    plt.close(fig)


def snapshot(plot: darkroom.plot.Plot) -> dict[str, Any]:
    assert isinstance(plot._payload, JsonSnapshot)
    return json.loads(json.dumps(plot._payload.value))  # what the sender will write


def png(reader, manifest: dict[str, Any]) -> np.ndarray:
    with PILImage.open(io.BytesIO(reader.read(manifest))) as image:
        assert image.format == "PNG"
        return np.asarray(image)


# -- what the chart functions keep ----------------------------------------------------------------


def test_a_roc_curve_keeps_a_copy_of_its_inputs_as_json_and_names_its_chart() -> None:
    y_true, y_probas = np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]], dtype=np.float32)
    plot = darkroom.plot.roc_curve(y_true, y_probas, labels=["no", "yes"], classes_to_plot=[1], title="val")
    y_true[0], y_probas[0, 0] = 1, 0.0  # the caller reuses its buffers
    assert plot.kind == "plot" and plot._options == {"chart": "roc", "title": "val"}
    kept = snapshot(plot)
    assert kept == {"y_true": [0, 1, 1], "y_probas": kept["y_probas"], "labels": ["no", "yes"], "classes_to_plot": [1]}
    assert np.array(kept["y_probas"]) == pytest.approx(np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]))
    assert plot._payload.nbytes > 9 * 32 and repr(plot) == "<darkroom.plot.Plot roc>"


def test_each_chart_function_names_its_chart_in_the_options() -> None:
    y, p = [0, 1], [[0.8, 0.2], [0.1, 0.9]]
    assert darkroom.plot.pr_curve(y, p)._options == {"chart": "pr", "title": None}
    assert darkroom.plot.confusion_matrix(y, preds=[0, 0])._options == {"chart": "confusion_matrix", "title": None}
    heat = darkroom.plot.heatmap(["a", "b"], ["c"], [[1, 2]], show_text=True)
    assert heat._options == {"chart": "heatmap", "title": None, "show_text": True}
    assert snapshot(heat) == {"x_labels": ["a", "b"], "y_labels": ["c"], "matrix_values": [[1, 2]]}


def test_a_confusion_matrix_keeps_preds_or_probs_and_torch_like_tensors_are_read_without_torch() -> None:
    class Tensor:  # what torch offers: detach().cpu().numpy()
        def __init__(self, array: np.ndarray):
            self.array = array

        def detach(self) -> "Tensor":
            return self

        def cpu(self) -> "Tensor":
            return self

        def numpy(self) -> np.ndarray:
            return self.array

    plot = darkroom.plot.confusion_matrix(y_true=Tensor(np.array([0, 2])), probs=Tensor(np.eye(3)[[0, 1]]),
                                          class_names=("a", "b", "c"))
    assert snapshot(plot) == {"y_true": [0, 2], "preds": None, "probs": [[1, 0, 0], [0, 1, 0]],
                              "class_names": ["a", "b", "c"]}


# -- what they refuse -------------------------------------------------------------------------------


@pytest.mark.parametrize("call, error, message", [
    (lambda: darkroom.plot.roc_curve([0, 1], [0.2, 0.8]), ValueError,
     "roc_curve y_probas has shape (2,); accepted: (n, classes) with n = 2 (the length of y_true); "
     "for binary scores p pass np.stack([1 - p, p], axis=1)"),
    (lambda: darkroom.plot.pr_curve([0, 1, 1], [[0.2, 0.8], [0.5, 0.5]]), ValueError,
     "pr_curve y_probas has 2 rows for 3 values in y_true; they must match"),
    (lambda: darkroom.plot.roc_curve([[0, 1]], [[0.2, 0.8]]), ValueError,
     "roc_curve y_true has shape (1, 2); accepted: (n,) with n >= 1"),
    (lambda: darkroom.plot.roc_curve(["a", "b"], [[0.2, 0.8], [0.5, 0.5]]), TypeError,
     "roc_curve y_true: array dtype <U1 is not accepted; accepted: bool, integer or float"),
    (lambda: darkroom.plot.roc_curve({0: 1}, [[0.2, 0.8]]), TypeError,
     "roc_curve y_true must be array-like of class indices; got dict"),
    (lambda: darkroom.plot.roc_curve([0, 1], [[0.2, 0.8], [0.5, 0.5]], labels=["a"]), ValueError,
     "roc_curve labels has 1 names for the 2 columns of y_probas; they must match"),
    (lambda: darkroom.plot.roc_curve([0, 1], [[0.2, 0.8], [0.5, 0.5]], labels="ab"), TypeError,
     "roc_curve labels must be a list of str or numbers; got str"),
    (lambda: darkroom.plot.roc_curve([0, 1], [[0.2, 0.8], [0.5, 0.5]], classes_to_plot=[0, 2, -1]), ValueError,
     "roc_curve classes_to_plot holds class index -1, outside 0..1 (the columns of y_probas)"),
    (lambda: darkroom.plot.roc_curve([0, 1], [[0.2, 0.8], [0.5, 0.5]], classes_to_plot=[0.5]), TypeError,
     "roc_curve classes_to_plot must be a non-empty list of class indices (int); got [0.5]"),
    (lambda: darkroom.plot.pr_curve([0, 1], [[0.2, 0.8], [0.5, 0.5]], title=3), TypeError,
     "pr_curve title must be a str; got int"),
    (lambda: darkroom.plot.confusion_matrix(preds=[0, 1]), TypeError,
     "confusion_matrix needs y_true: the true class indices, shape (n,)"),
    (lambda: darkroom.plot.confusion_matrix([0, 1], preds=[0, 1], probs=[[1, 0], [0, 1]]), ValueError,
     "confusion_matrix takes exactly one of preds= (class indices) or probs= (scores); got both"),
    (lambda: darkroom.plot.confusion_matrix([0, 1]), ValueError,
     "confusion_matrix takes exactly one of preds= (class indices) or probs= (scores); got neither"),
    (lambda: darkroom.plot.confusion_matrix([0, 1], preds=[0, 1, 1]), ValueError,
     "confusion_matrix preds has 3 values for 2 in y_true; they must match"),
    (lambda: darkroom.plot.confusion_matrix([0, 1], probs=[[1, 0], [0, 1]], class_names=["a"]), ValueError,
     "confusion_matrix class_names has 1 names for the 2 columns of probs; they must match"),
    (lambda: darkroom.plot.confusion_matrix([0, 1], preds=[0, 1], class_names=[]), ValueError,
     "confusion_matrix class_names is empty; accepted: a name per class"),
    (lambda: darkroom.plot.heatmap(["a", "b"], ["c"], [[1, 2, 3]]), ValueError,
     "heatmap matrix_values has shape (1, 3); accepted: (len(y_labels), len(x_labels)) = (1, 2), not empty"),
    (lambda: darkroom.plot.heatmap(["a"], [["c"]], [[1]]), TypeError,
     "heatmap y_labels must be a list of str or numbers; got ['c']"),
    (lambda: darkroom.plot.heatmap(["a"], ["c"], "1"), TypeError,
     "heatmap matrix_values must be a 2-D array; got str"),
    (lambda: darkroom.plot.heatmap(["a"], ["c"], [[1]], show_text="yes"), TypeError,
     "heatmap show_text must be a bool; got str"),
])
def test_a_wrong_argument_is_refused_at_once_naming_it(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_building_charts_imports_neither_matplotlib_nor_sklearn_nor_any_codec() -> None:
    code = (
        "import json, sys, darkroom\n"
        "darkroom.plot.roc_curve([0, 1], [[0.9, 0.1], [0.2, 0.8]], labels=['a', 'b'])\n"
        "darkroom.plot.pr_curve([0, 1], [[0.9, 0.1], [0.2, 0.8]])\n"
        "darkroom.plot.confusion_matrix([0, 1], probs=[[0.9, 0.1], [0.2, 0.8]])\n"
        "darkroom.plot.heatmap(['a'], ['b'], [[1.0]])\n"
        "darkroom.plot.figure_image(3)\n"
        "heavy = ('matplotlib', 'sklearn', 'pandas', 'PIL', 'pydantic', 'torch')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


# -- figures -----------------------------------------------------------------------------------------


def test_a_figure_becomes_an_image_of_its_pixels_drawn_now(figure) -> None:
    image = darkroom.plot.figure_image(figure)
    assert isinstance(image, darkroom.Image)
    assert image._payload.array.shape == (40, 80, 4)  # 2 x 1 inches at 40 dpi, RGBA
    assert image._payload.array[0, 0].tolist() == [255, 0, 0, 255]  # the red margin


def test_the_pyplot_module_becomes_an_image_of_its_current_figure(figure) -> None:
    plt.figure(figure.number)
    image = darkroom.plot.figure_image(plt)
    assert isinstance(image, darkroom.Image) and image._payload.array.shape == (40, 80, 4)


@pytest.mark.parametrize("value", [3, "plt", None, np, np.zeros((2, 2)), [1, 2], {"a": 1}])
def test_anything_else_is_not_a_figure(value: Any) -> None:
    assert darkroom.plot.figure_image(value) is None


# -- end to end ---------------------------------------------------------------------------------------


def test_a_run_stores_each_chart_as_a_png_with_its_points_as_a_related_table(embedded_env, figure) -> None:
    y_true = [0, 0, 1, 1, 2]
    y_probas = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.4, 0.5, 0.1], [0.1, 0.2, 0.7], [0.2, 0.2, 0.6]]
    run = darkroom.init(project="plots")
    run.log({
        "roc": darkroom.plot.roc_curve(y_true, y_probas, labels=["cat", "dog", "owl"], classes_to_plot=[0]),
        "pr": darkroom.plot.pr_curve([1, 0, 1, 0], [[0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.9, 0.1]],
                                     classes_to_plot=[1]),
        "confusion": darkroom.plot.confusion_matrix(y_true, probs=y_probas, class_names=["cat", "dog", "owl"]),
        "heat": darkroom.plot.heatmap(["a", "b"], ["top", "bottom"], [[1.0, np.nan], [3.0, 4.0]], show_text=True),
        "figure": darkroom.Image(figure),
        "bad": darkroom.plot.roc_curve([0, 5], [[0.1, 0.9], [0.5, 0.5]]),
    })
    report = run.finish(quiet=True)
    assert report.converted == 5 and report.pending == 0
    assert [(f.key, f.code, f.message) for f in report.failed] == [
        ("bad", "invalid_plot", "y_true holds class index 5, outside 0..1 (the columns of y_probas)")]
    reader = darkroom.Api().run(run.path)

    def chart(key: str) -> tuple[dict[str, Any], dict[str, Any]]:
        (manifest,) = reader.manifests(key=key)
        assert manifest["kind"] == "plot" and manifest["status"] == "ok"
        artifact = manifest["artifact"]
        assert (artifact["format"], artifact["width"], artifact["height"]) == ("png", 640, 480)
        assert png(reader, manifest).shape == (480, 640, 4)
        (related,) = manifest["related"]
        assert related["role"] == "table" and related["format"] == "json"
        return manifest, json.loads(reader.read(manifest, role="table"))

    manifest, roc = chart("roc")
    assert manifest["artifact"]["chart"] == "roc" and roc["columns"] == ["class", "fpr", "tpr"]
    # cat: scores 0.8 0.4 0.3 0.2 0.1 -> pos neg pos neg neg
    assert roc["data"] == [["cat", 0, 0], ["cat", 0, 0.5], ["cat", 1 / 3, 0.5], ["cat", 1 / 3, 1], ["cat", 1, 1]]
    _, pr = chart("pr")
    assert {row[0] for row in pr["data"]} == {"1"}  # no labels: a class is named by its index
    assert np.array([row[1:] for row in pr["data"]]) == pytest.approx(
        np.array([[1, 0], [1, 0.5], [0.5, 0.5], [2 / 3, 1], [0.5, 1]]))
    _, confusion = chart("confusion")
    assert confusion["columns"] == ["Actual", "Predicted", "nPredictions"]
    # argmax of each row: cat, dog, dog, owl, owl; truth: cat, cat, dog, dog, owl
    assert [row for row in confusion["data"] if row[2]] == [["cat", "cat", 1], ["cat", "dog", 1],
                                                            ["dog", "dog", 1], ["dog", "owl", 1], ["owl", "owl", 1]]
    assert len(confusion["data"]) == 9
    manifest, heat = chart("heat")
    assert heat["data"] == [["a", "top", 1.0], ["b", "top", None], ["a", "bottom", 3.0], ["b", "bottom", 4.0]]
    assert manifest["warnings"] == ["1 of 4 cells are NaN: stored as null, drawn blank"]
    assert manifest["converter"]["options"] == {"chart": "heatmap", "title": None, "show_text": True}
    (image,) = reader.manifests(key="figure")
    assert image["kind"] == "image" and (image["artifact"]["width"], image["artifact"]["height"]) == (80, 40)
    assert png(reader, image)[0, 0].tolist() == [255, 0, 0, 255]


def test_a_figure_logged_directly_becomes_a_png_image(embedded_env):
    import io as _io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image as _PIL

    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1], [1, 0])
    run = darkroom.init(project="figs")
    run.log({"fig": fig, "current": plt})
    report = run.finish(quiet=True)
    plt.close("all")
    assert report.converted == 2 and report.failed == []
    reader = darkroom.Api().run(run.path)
    m = reader.manifests(key="fig")[0]
    assert m["kind"] == "image" and (m["artifact"]["width"], m["artifact"]["height"]) == (100, 75)
    assert _PIL.open(_io.BytesIO(reader.read(m))).mode == "RGBA"
