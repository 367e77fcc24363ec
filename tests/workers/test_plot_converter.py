"""workers/converters/plot.py: points checked against hand-computed curves and counts, PNGs decoded back."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from PIL import Image

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload, converter_for
from darkroom.workers.converters.plot import CONVERTER, PlotOptions, convert
from darkroom.workers.converters.plot_points import pr_points, roc_points

# matplotlib's default colour cycle: the first, second and third curve.
C0, C1, C2 = (31, 119, 180), (255, 127, 14), (44, 160, 44)
WHITE = (255, 255, 255)
NaN, Infinity = float("nan"), float("inf")


def run(chart: str, inputs: Any, limits: Limits = Limits(), **options: Any) -> Output:
    data = inputs if isinstance(inputs, bytes) else json.dumps(inputs).encode()
    return convert(ItemInput(Payload(data, "application/json", "json")), PlotOptions(chart=chart, **options), limits)


def refused(chart: str, inputs: Any, code: str = "invalid_plot", **kwargs: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        run(chart, inputs, **kwargs)
    assert info.value.code == code
    return info.value.message


def table(out: Output) -> dict[str, Any]:
    (related,) = out.related
    assert related.role == "table" and related.format == "json" and related.media_type == "application/json"
    stored = json.loads(related.data)
    assert related.info == {"rows": len(stored["data"]), "columns": len(stored["columns"])}
    return stored


def pixels(out: Output) -> np.ndarray:
    assert out.format == "png" and out.media_type == "image/png"
    with Image.open(io.BytesIO(out.data)) as image:
        assert image.format == "PNG" and image.mode == "RGBA"
        assert image.size == (out.measurements["width"], out.measurements["height"]) == (640, 480)
        return np.asarray(image)[..., :3]


def count(rgb: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((rgb == colour).all(axis=-1).sum())


def curve(rows: list[list[Any]], name: str) -> tuple[list[float], list[float]]:
    mine = [r for r in rows if r[0] == name]
    return [r[1] for r in mine], [r[2] for r in mine]


# -- the curves, by hand -----------------------------------------------------------------


def test_a_roc_curve_steps_through_each_score_from_the_highest() -> None:
    # Sorted: 0.9 pos, 0.6 neg, 0.4 pos, 0.2 neg; P = N = 2.
    fpr, tpr = roc_points(np.array([True, True, False, False]), np.array([0.9, 0.4, 0.6, 0.2]))
    assert fpr.tolist() == [0, 0, 0.5, 0.5, 1]
    assert tpr.tolist() == [0, 0.5, 0.5, 1, 1]


def test_tied_scores_are_one_threshold_so_the_roc_goes_diagonally_through_them() -> None:
    # Sorted: 0.8 pos, then 0.5 pos and 0.5 neg together, then 0.1 neg.
    fpr, tpr = roc_points(np.array([True, False, True, False]), np.array([0.5, 0.5, 0.8, 0.1]))
    assert fpr.tolist() == [0, 0, 0.5, 1]
    assert tpr.tolist() == [0, 0.5, 1, 1]


def test_points_on_a_straight_stretch_of_the_roc_are_dropped_keeping_the_corners() -> None:
    # Three positives above one negative: (0,1/3) and (0,2/3) lie on the segment (0,0)-(0,1).
    fpr, tpr = roc_points(np.array([True, True, True, False]), np.array([0.9, 0.8, 0.7, 0.1]))
    assert fpr.tolist() == [0, 0, 0, 1]
    assert tpr.tolist() == pytest.approx([0, 1 / 3, 1, 1])


def test_a_pr_curve_starts_at_full_precision_and_rises_in_recall() -> None:
    # Sorted: 0.9 pos, 0.8 neg, 0.7 pos, 0.1 neg.
    precision, recall = pr_points(np.array([True, False, True, False]), np.array([0.9, 0.8, 0.7, 0.1]))
    assert precision.tolist() == pytest.approx([1, 1, 0.5, 2 / 3, 0.5])
    assert recall.tolist() == [0, 0.5, 0.5, 1, 1]


def test_the_roc_table_has_a_one_vs_rest_curve_per_class_named_by_its_label() -> None:
    y_true = [0, 0, 1, 1, 2]
    y_probas = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.4, 0.5, 0.1], [0.1, 0.2, 0.7], [0.2, 0.2, 0.6]]
    out = run("roc", {"y_true": y_true, "y_probas": y_probas, "labels": ["cat", "dog", "owl"],
                      "classes_to_plot": None})
    stored = table(out)
    assert stored["columns"] == ["class", "fpr", "tpr"]
    assert stored["column_types"] == {"class": "string", "fpr": "number", "tpr": "number"}
    # cat, scores 0.8 0.4 0.3 0.2 0.1 -> pos neg pos neg neg.
    assert curve(stored["data"], "cat") == ([0, 0, 1 / 3, 1 / 3, 1], [0, 0.5, 0.5, 1, 1])
    # dog, scores 0.6 0.5 0.2 0.2 0.1 -> neg pos {pos neg} neg: the tie is one step.
    assert curve(stored["data"], "dog") == ([0, 1 / 3, 1 / 3, 2 / 3, 1], [0, 0, 0.5, 1, 1])
    # owl, scores 0.7 0.6 0.1 0.1 0.1 -> neg pos {neg neg neg}.
    assert curve(stored["data"], "owl") == ([0, 0.25, 0.25, 1], [0, 0, 1, 1])
    assert out.measurements == {"width": 640, "height": 480, "chart": "roc"} and out.warnings == []
    rgb = pixels(out)
    assert count(rgb, C0) > 50 and count(rgb, C1) > 50 and count(rgb, C2) > 50


def test_classes_to_plot_chooses_the_curves_and_without_labels_a_class_is_named_by_its_index() -> None:
    inputs = {"y_true": [0, 1, 2, 1], "y_probas": [[0.9, 0.1, 0], [0.1, 0.8, 0.1], [0, 0.2, 0.8], [0.5, 0.4, 0.1]],
              "labels": None, "classes_to_plot": [2]}
    out = run("roc", inputs)
    assert {row[0] for row in table(out)["data"]} == {"2"}
    rgb = pixels(out)
    assert count(rgb, C0) > 50 and count(rgb, C1) == 0  # one curve drawn


def test_the_pr_table_holds_precision_then_recall_for_each_class() -> None:
    inputs = {"y_true": [1, 0, 1, 0], "y_probas": [[0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.9, 0.1]],
              "labels": ["no", "yes"], "classes_to_plot": [1]}
    out = run("pr", inputs)
    stored = table(out)
    assert stored["columns"] == ["class", "precision", "recall"]
    precision, recall = curve(stored["data"], "yes")
    assert precision == pytest.approx([1, 1, 0.5, 2 / 3, 0.5]) and recall == [0, 0.5, 0.5, 1, 1]
    assert out.measurements["chart"] == "pr"
    assert count(pixels(out), C0) > 50


def test_a_class_not_in_y_true_is_not_drawn_and_the_manifest_says_why() -> None:
    inputs = {"y_true": [0, 1, 0], "y_probas": [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.3, 0.2]],
              "labels": ["a", "b", "c"], "classes_to_plot": [0, 2]}
    out = run("roc", inputs)
    assert {row[0] for row in table(out)["data"]} == {"a"}
    assert out.warnings == ["class 'c' not drawn: no sample of it in y_true (its TPR is undefined)"]


def test_a_roc_with_no_class_to_draw_fails_naming_each_reason() -> None:
    message = refused("roc", {"y_true": [0, 0], "y_probas": [[0.9, 0.1], [0.8, 0.2]]})
    assert message == ("no class to draw: class '0' not drawn: every sample in y_true is of it "
                       "(its FPR is undefined)")


# -- the matrices ----------------------------------------------------------------------


def test_a_confusion_matrix_counts_every_pair_of_classes_zeros_included() -> None:
    out = run("confusion_matrix", {"y_true": [0, 0, 1, 2, 2, 2], "preds": [0, 1, 1, 2, 2, 0],
                                   "class_names": ["cat", "dog", "owl"]})
    stored = table(out)
    assert stored["columns"] == ["Actual", "Predicted", "nPredictions"]
    assert stored["column_types"] == {"Actual": "string", "Predicted": "string", "nPredictions": "number"}
    assert stored["data"] == [
        ["cat", "cat", 1], ["cat", "dog", 1], ["cat", "owl", 0],
        ["dog", "cat", 0], ["dog", "dog", 1], ["dog", "owl", 0],
        ["owl", "cat", 1], ["owl", "dog", 0], ["owl", "owl", 2],
    ]
    assert out.measurements["chart"] == "confusion_matrix"


def test_a_confusion_matrix_from_probs_predicts_each_rows_argmax() -> None:
    out = run("confusion_matrix", {"y_true": [0, 1, 1], "probs": [[0.7, 0.3], [0.4, 0.6], [0.9, 0.1]]})
    assert table(out)["data"] == [["0", "0", 1], ["0", "1", 0], ["1", "0", 1], ["1", "1", 1]]


def test_without_names_the_classes_are_the_indices_found_named_by_their_value() -> None:
    out = run("confusion_matrix", {"y_true": [3, 7, 7], "preds": [7, 7, 3]})
    assert table(out)["data"] == [["3", "3", 0], ["3", "7", 1], ["7", "3", 1], ["7", "7", 1]]


def test_the_confusion_png_has_the_darkest_blue_on_the_diagonal_and_the_lightest_off_it() -> None:
    rgb = pixels(run("confusion_matrix", {"y_true": [0, 0, 1, 1], "preds": [0, 0, 1, 1]}))
    darkest, lightest = (8, 48, 107), (247, 251, 255)  # the ends of matplotlib's "Blues"
    assert count(rgb, darkest) > 10_000 and count(rgb, lightest) > 10_000


def test_a_heatmap_cell_is_the_value_at_its_x_and_y_label_row_major() -> None:
    out = run("heatmap", {"x_labels": ["a", "b", "c"], "y_labels": ["r1", 2],
                          "matrix_values": [[1, 2, 3], [4, 5, 6]]})
    stored = table(out)
    assert stored["columns"] == ["x", "y", "value"]
    assert stored["data"] == [["a", "r1", 1], ["b", "r1", 2], ["c", "r1", 3],
                              ["a", "2", 4], ["b", "2", 5], ["c", "2", 6]]
    assert stored["column_types"] == {"x": "string", "y": "string", "value": "number"}


def test_a_nan_heatmap_cell_is_stored_as_null_and_drawn_blank_between_its_neighbours() -> None:
    out = run("heatmap", {"x_labels": ["lo", "gap", "hi"], "y_labels": ["y"],
                          "matrix_values": [[0.0, float("nan"), 1.0]]})
    assert [row[2] for row in table(out)["data"]] == [0.0, None, 1.0]
    assert out.warnings == ["1 of 3 cells are NaN: stored as null, drawn blank"]
    rgb = pixels(out)
    low, high = (68, 1, 84), (253, 231, 36)  # viridis at 0 and 1, as its 256-entry table has them
    row = rgb[rgb.shape[0] // 2]
    low_x = np.flatnonzero((row == low).all(-1))
    high_x = np.flatnonzero((row == high).all(-1))
    assert low_x.size > 50 and high_x.size > 50 and low_x.max() < high_x.min()
    between = row[low_x.max() + 5: high_x.min() - 5]
    assert between.size and (between == WHITE).all()


def test_show_text_writes_values_and_is_skipped_with_a_warning_on_a_large_matrix() -> None:
    small = {"x_labels": ["a", "b"], "y_labels": ["c"], "matrix_values": [[0.0, 1.0]]}
    plain, written = run("heatmap", small), run("heatmap", small, show_text=True)
    assert written.warnings == [] and not np.array_equal(pixels(plain), pixels(written))
    big = {"x_labels": list(range(40)), "y_labels": list(range(30)), "matrix_values": np.eye(30, 40).tolist()}
    assert run("heatmap", big, show_text=True).warnings == ["show_text: values not written, 1200 cells (at most 400)"]


def test_math_signs_in_labels_are_drawn_as_text_not_parsed() -> None:
    out = run("roc", {"y_true": [0, 1], "y_probas": [[0.9, 0.1], [0.2, 0.8]], "labels": ["$a", "cost $5 ^{"]})
    assert {row[0] for row in table(out)["data"]} == {"$a", "cost $5 ^{"}


def test_a_custom_title_is_an_option_of_the_converter() -> None:
    inputs = {"y_true": [0, 1], "y_probas": [[0.9, 0.1], [0.2, 0.8]]}
    assert not np.array_equal(pixels(run("roc", inputs)), pixels(run("roc", inputs, title="Validation ROC")))


# -- refused inputs --------------------------------------------------------------------


@pytest.mark.parametrize("chart, inputs, expected", [
    ("roc", b"{not json", "plot payload is not JSON"),
    ("roc", [1, 2], "plot payload must be a JSON object of inputs; got list"),
    ("roc", {"y_true": [0, 1]}, "plot payload has no 'y_probas'; a roc needs y_true (n,) and y_probas (n, classes)"),
    ("heatmap", {"x_labels": ["a"], "y_labels": ["b"]}, "plot payload has no 'matrix_values'"),
    ("roc", {"y_true": [0, 1], "y_probas": [[0.1, 0.9], [0.5]]}, "y_probas is not an array of numbers (n, classes)"),
    ("roc", {"y_true": [0, 1], "y_probas": [["a", "b"], ["c", "d"]]}, "y_probas holds <U1 values; accepted: numbers"),
    ("roc", {"y_true": [0, 1], "y_probas": [0.1, 0.9]}, "y_probas has shape (2,); accepted: (n, classes)"),
    ("roc", {"y_true": [0, 1, 1], "y_probas": [[0.1, 0.9], [0.5, 0.5]]}, "y_probas has 2 rows for 3 values in y_true"),
    ("pr", {"y_true": [0, 1], "y_probas": [[0.1, NaN], [0.5, 0.5]]}, "y_probas holds NaN or infinite scores"),
    ("roc", {"y_true": [0, 0.5], "y_probas": [[0.1, 0.9], [0.5, 0.5]]}, "y_true holds 0.5, not a class index"),
    ("roc", {"y_true": [0, 2], "y_probas": [[0.1, 0.9], [0.5, 0.5]]},
     "y_true holds class index 2, outside 0..1 (the columns of y_probas)"),
    ("roc", {"y_true": [0, 1], "y_probas": [[0.1, 0.9], [0.5, 0.5]], "labels": ["a"]},
     "labels has 1 names for the 2 columns of y_probas; they must match"),
    ("roc", {"y_true": [0, 1], "y_probas": [[0.1, 0.9], [0.5, 0.5]], "classes_to_plot": [3]},
     "classes_to_plot holds class index 3, outside 0..1 (the columns of y_probas)"),
    ("confusion_matrix", {"y_true": [0, 1], "preds": [0, 1], "probs": [[1, 0], [0, 1]]},
     "a confusion matrix takes exactly one of preds= (class indices) or probs= (scores); got both"),
    ("confusion_matrix", {"y_true": [0, 1]}, "a confusion matrix takes exactly one of preds= (class indices) or "
     "probs= (scores); got neither"),
    ("confusion_matrix", {"y_true": [0, 1], "preds": [0]}, "preds has 1 values for 2 in y_true"),
    ("confusion_matrix", {"y_true": [0, 3], "preds": [0, 1], "class_names": ["a", "b"]},
     "y_true holds class index 3, outside 0..1 (the classes)"),
    ("confusion_matrix", {"y_true": [0, 1], "probs": [[1, 0], [0, 1]], "class_names": ["a", "b", "c"]},
     "class_names has 3 names for the 2 columns of probs; they must match"),
    ("heatmap", {"x_labels": ["a", "b"], "y_labels": ["c"], "matrix_values": [[1, 2, 3]]},
     "matrix_values has shape (1, 3); accepted: (len(y_labels), len(x_labels)) = (1, 2)"),
    ("heatmap", {"x_labels": ["a"], "y_labels": ["c"], "matrix_values": [[Infinity]]},
     "matrix_values holds infinite values"),
    ("heatmap", {"x_labels": [], "y_labels": ["c"], "matrix_values": [[1]]}, "x_labels must be a non-empty list"),
    ("heatmap", {"x_labels": [{"a": 1}], "y_labels": ["c"], "matrix_values": [[1]]},
     "x_labels holds {'a': 1}; accepted: str or numbers"),
])
def test_an_invalid_input_is_refused_naming_it(chart: str, inputs: Any, expected: str) -> None:
    assert expected in refused(chart, inputs)


@pytest.mark.parametrize("chart, inputs", [
    ("roc", {"y_true": [0, 1] * 5, "y_probas": [[0.1 * i, 1 - 0.1 * i] for i in range(10)]}),
    ("confusion_matrix", {"y_true": [0, 1, 2, 3], "preds": [0, 1, 2, 3]}),
    ("heatmap", {"x_labels": list("abcd"), "y_labels": list("efg"), "matrix_values": np.ones((3, 4)).tolist()}),
])
def test_a_table_over_the_cell_bound_is_refused_naming_the_variable(chart: str, inputs: Any) -> None:
    message = refused(chart, inputs, "too_large", limits=Limits(max_table_cells=30))
    assert "exceeds the bound of 30 (DARKROOM_MAX_TABLE_CELLS)" in message


def test_a_confusion_matrix_of_very_many_classes_is_refused_before_its_counts_are_allocated() -> None:
    message = refused("confusion_matrix", {"y_true": [0], "probs": [[0.0] * 5000]}, "too_large")
    assert message == "plot table of 75000000 cells exceeds the bound of 10000000 (DARKROOM_MAX_TABLE_CELLS)"


def test_unknown_options_are_refused_by_the_options_model() -> None:
    with pytest.raises(InvalidInput, match="plot options: colour: Extra inputs are not permitted"):
        CONVERTER.parse_options({"chart": "roc", "colour": "red"})
    with pytest.raises(InvalidInput, match="plot options: chart: Input should be 'roc', 'pr'"):
        CONVERTER.parse_options({"chart": "pie"})


def test_the_plot_kind_is_registered() -> None:
    assert converter_for("plot") is CONVERTER


def test_without_matplotlib_the_item_fails_with_the_extra_to_install_and_pyplot_is_never_loaded() -> None:
    code = (
        "import json, sys\n"
        "from darkroom.pipeline.errors import InvalidInput\n"
        "from darkroom.pipeline.settings import Limits\n"
        "from darkroom.workers.converters import ItemInput, Payload\n"
        "from darkroom.workers.converters.plot import PlotOptions, convert\n"
        "inputs = json.dumps({'y_true': [0, 1], 'y_probas': [[1, 0], [0, 1]]}).encode()\n"
        "item = ItemInput(Payload(inputs, 'application/json', 'json'))\n"
        "convert(item, PlotOptions(chart='roc'), Limits())\n"
        "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'no pyplot')\n"
        "sys.modules['matplotlib'] = None  # what a worker without the extra sees: ImportError\n"
        "try:\n"
        "    convert(item, PlotOptions(chart='roc', title='again'), Limits())\n"
        "except InvalidInput as e:\n"
        "    print(e.code, e.message)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "no pyplot",
        "missing_dependency plots need matplotlib on the worker: pip install 'darkroom[plots]'",
    ]
