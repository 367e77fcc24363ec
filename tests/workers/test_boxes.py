"""workers/converters/boxes.py: boxes validated against the image and stored as fractions."""

from __future__ import annotations

import math
from typing import Any

import pytest

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters.boxes import normalise_box_groups

MAX_BOXES = Limits().max_boxes

W, H = 200, 100


def normalise(*boxes: dict[str, Any], labels: Any = None, width: int = W, height: int = H):
    warnings: list[str] = []
    spec: dict[str, Any] = {"box_data": list(boxes)}
    if labels is not None:
        spec["class_labels"] = labels
    out = normalise_box_groups({"pred": spec}, width, height, warnings, MAX_BOXES)
    return out["pred"], warnings


def refused(groups: Any, *fragments: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        normalise_box_groups(groups, W, H, [], MAX_BOXES)
    assert info.value.code == "invalid_boxes"
    for fragment in fragments:
        assert fragment in info.value.message
    return info.value


def box(position: Any, class_id: Any = 1, **extra: Any) -> dict[str, Any]:
    return {"position": position, "class_id": class_id, **extra}


def minmax(min_x: Any, max_x: Any, min_y: Any, max_y: Any) -> dict[str, Any]:
    return {"minX": min_x, "maxX": max_x, "minY": min_y, "maxY": max_y}


def position_of(group: dict[str, Any], i: int = 0) -> tuple[float, float, float, float]:
    p = group["box_data"][i]["position"]
    return p["minX"], p["maxX"], p["minY"], p["maxY"]


def test_a_min_max_box_in_fractions_is_kept_as_is() -> None:
    group, warnings = normalise(box(minmax(0.1, 0.5, 0.2, 0.6)))
    assert position_of(group) == (0.1, 0.5, 0.2, 0.6)
    assert warnings == []


def test_a_middle_width_height_box_in_fractions_becomes_min_max() -> None:
    group, warnings = normalise(box({"middle": [0.5, 0.5], "width": 0.2, "height": 0.4}))
    assert position_of(group) == pytest.approx((0.4, 0.6, 0.3, 0.7))
    assert set(group["box_data"][0]["position"]) == {"minX", "maxX", "minY", "maxY"}
    assert warnings == []


def test_a_min_max_box_in_pixels_is_divided_by_the_image_size() -> None:
    group, _ = normalise(box(minmax(20, 100, 10, 50), domain="pixel"))
    assert position_of(group) == pytest.approx((0.1, 0.5, 0.1, 0.5))


def test_a_middle_box_in_pixels_is_divided_by_the_image_size() -> None:
    group, _ = normalise(box({"middle": [100, 50], "width": 40, "height": 20}, domain="pixel"))
    assert position_of(group) == pytest.approx((0.4, 0.6, 0.4, 0.6))


def test_the_same_pixel_numbers_without_domain_are_fractions_and_lie_outside() -> None:
    refused({"pred": {"box_data": [box(minmax(20, 100, 10, 50))]}}, "entirely outside", "domain='pixel'")


def test_a_box_partly_outside_is_clipped_and_recorded_with_its_index() -> None:
    group, warnings = normalise(box(minmax(0.1, 0.2, 0.1, 0.2)), box(minmax(-0.2, 0.5, 0.5, 1.5)))
    assert position_of(group, 0) == (0.1, 0.2, 0.1, 0.2)
    assert position_of(group, 1) == (0.0, 0.5, 0.5, 1.0)
    assert warnings == ["boxes['pred'].box_data[1] was partly outside the image and is clipped to it"]


def test_a_pixel_box_past_the_right_edge_is_clipped_to_the_width() -> None:
    group, warnings = normalise(box(minmax(150, 260, 0, 100), domain="pixel"))
    assert position_of(group) == pytest.approx((0.75, 1.0, 0.0, 1.0))
    assert len(warnings) == 1


@pytest.mark.parametrize(
    "position",
    [minmax(1.2, 1.5, 0.1, 0.2), minmax(-0.5, -0.1, 0.1, 0.2), minmax(0.1, 0.2, 1.0, 1.3),
     minmax(0.1, 0.2, -1.0, 0.0), {"middle": [3.0, 0.5], "width": 0.5, "height": 0.5}],
)
def test_a_box_entirely_outside_the_image_is_refused_naming_its_index(position: dict[str, Any]) -> None:
    good = box(minmax(0.1, 0.2, 0.1, 0.2))
    refused({"pred": {"box_data": [good, good, box(position)]}},
            "boxes['pred'].box_data[2]", "entirely outside the image (200x100)")


def test_a_pixel_box_beyond_the_image_size_is_entirely_outside() -> None:
    refused({"pred": {"box_data": [box(minmax(200, 250, 0, 10), domain="pixel")]}},
            "box_data[0]", "entirely outside")


@pytest.mark.parametrize("bad", [{"class_id": 1}, box(None), box([0.1, 0.2, 0.3, 0.4]), box("0.1,0.2")])
def test_a_box_without_a_position_dict_is_refused_naming_its_index(bad: dict[str, Any]) -> None:
    refused({"pred": {"box_data": [box(minmax(0.1, 0.2, 0.1, 0.2)), bad]}},
            "box_data[1]", "has no 'position'", "{minX, maxX, minY, maxY}")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_coordinate_is_refused(value: float) -> None:
    refused({"pred": {"box_data": [box(minmax(0.1, value, 0.1, 0.2))]}},
            "box_data[0] maxX", "accepted: a finite number")


@pytest.mark.parametrize("value", [None, "0.3", True, [0.3]])
def test_a_missing_or_non_numeric_coordinate_is_refused(value: Any) -> None:
    refused({"pred": {"box_data": [box(minmax(0.1, 0.4, value, 0.5))]}},
            "box_data[0] minY", "accepted: a number")


def test_a_coordinate_too_large_for_a_float_is_refused_not_crashed() -> None:
    refused({"pred": {"box_data": [box(minmax(0, 10**400, 0, 1))]}}, "box_data[0] maxX", "too large")


def test_a_nan_in_the_middle_form_is_refused() -> None:
    refused({"pred": {"box_data": [box({"middle": [math.nan, 0.5], "width": 0.1, "height": 0.1})]}},
            "middle x", "finite")


@pytest.mark.parametrize("middle", [[0.5], [0.5, 0.5, 0.5], "0.5,0.5", None])
def test_a_malformed_middle_is_refused(middle: Any) -> None:
    refused({"pred": {"box_data": [box({"middle": middle, "width": 0.1, "height": 0.1})]}},
            "box_data[0] position.middle must be [x, y]")


def test_a_negative_width_is_refused() -> None:
    refused({"pred": {"box_data": [box({"middle": [0.5, 0.5], "width": -0.1, "height": 0.1})]}},
            "box_data[0] width/height must not be negative")


@pytest.mark.parametrize("position", [minmax(0.5, 0.4, 0.1, 0.2), minmax(0.1, 0.2, 0.9, 0.3)])
def test_min_greater_than_max_is_refused(position: dict[str, Any]) -> None:
    refused({"pred": {"box_data": [box(minmax(0.1, 0.2, 0.1, 0.2)), box(position)]}},
            "box_data[1] has min > max")


@pytest.mark.parametrize("class_id", [1.0, "1", True, False, None, [1]])
def test_a_class_id_that_is_not_an_int_is_refused_naming_the_box(class_id: Any) -> None:
    refused({"pred": {"box_data": [box(minmax(0.1, 0.2, 0.1, 0.2), class_id=class_id)]}},
            "box_data[0] class_id", "is not an int")


def test_a_zero_size_box_inside_the_image_is_accepted() -> None:
    group, _ = normalise(box(minmax(0.3, 0.3, 0.4, 0.4)))
    assert position_of(group) == (0.3, 0.3, 0.4, 0.4)


def test_default_labels_are_class_id_for_ids_without_a_label() -> None:
    group, _ = normalise(box(minmax(0.1, 0.2, 0.1, 0.2), class_id=3),
                         box(minmax(0.1, 0.2, 0.1, 0.2), class_id=7), labels={7: "dog", "9": "cat"})
    assert group["class_labels"] == {"7": "dog", "9": "cat", "3": "class_3"}


def test_box_caption_and_scores_are_kept() -> None:
    group, _ = normalise(box(minmax(0.1, 0.2, 0.1, 0.2), class_id=2, box_caption="a dog",
                             scores={"acc": 0.9, "loss": 1}))
    stored = group["box_data"][0]
    assert stored["class_id"] == 2
    assert stored["box_caption"] == "a dog"
    assert stored["scores"] == {"acc": 0.9, "loss": 1.0}


def test_a_box_without_caption_or_scores_stores_neither() -> None:
    group, _ = normalise(box(minmax(0.1, 0.2, 0.1, 0.2)))
    assert set(group["box_data"][0]) == {"position", "class_id"}


@pytest.mark.parametrize(
    "extra, fragment",
    [({"box_caption": 5}, "box_caption must be a str"), ({"scores": [0.5]}, "scores must be a dict"),
     ({"scores": {"acc": "high"}}, "score 'acc'"), ({"scores": {"acc": math.nan}}, "finite"),
     ({"domain": "percent"}, "domain 'percent'")],
)
def test_malformed_caption_scores_or_domain_are_refused(extra: dict[str, Any], fragment: str) -> None:
    refused({"pred": {"box_data": [box(minmax(0.1, 0.2, 0.1, 0.2), **extra)]}}, "box_data[0]", fragment)


@pytest.mark.parametrize(
    "groups, fragment",
    [([], "boxes must be a dict"), ({"pred": []}, "boxes['pred'] needs 'box_data'"),
     ({"pred": {"box_data": "x"}}, "needs 'box_data'"), ({"pred": {"box_data": [5]}}, "box_data[0] must be a dict"),
     ({"pred": {"box_data": [], "class_labels": ["cat"]}}, "class_labels must be a dict"),
     ({"pred": {"box_data": [], "class_labels": {"cat": "cat"}}}, "class_labels key 'cat' is not an integer")],
)
def test_malformed_groups_are_refused_naming_the_group(groups: Any, fragment: str) -> None:
    refused(groups, fragment)


def test_more_boxes_than_the_bound_are_refused_naming_the_setting() -> None:
    many = [box(minmax(0.1, 0.2, 0.1, 0.2))] * (MAX_BOXES + 1)
    refused({"pred": {"box_data": many}}, f"{MAX_BOXES + 1} boxes", f"at most {MAX_BOXES} (DARKROOM_MAX_BOXES)")


def test_the_box_bound_is_a_setting(monkeypatch) -> None:
    from darkroom.pipeline.settings import Settings

    monkeypatch.setenv("DARKROOM_MAX_BOXES", "2")
    bound = Settings.from_env().limits.max_boxes
    with pytest.raises(InvalidInput, match=r"has 3 boxes; at most 2 \(DARKROOM_MAX_BOXES\)"):
        normalise_box_groups({"pred": {"box_data": [box(minmax(0.1, 0.2, 0.1, 0.2))] * 3}}, W, H, [], bound)


def test_each_group_is_normalised_separately() -> None:
    out = normalise_box_groups(
        {"truth": {"box_data": [box(minmax(0, 20, 0, 10), class_id=1, domain="pixel")]},
         "pred": {"box_data": [box(minmax(0.0, 0.1, 0.0, 0.1), class_id=2)], "class_labels": {"2": "two"}}},
        W, H, [], MAX_BOXES,
    )
    assert position_of(out["truth"]) == pytest.approx((0.0, 0.1, 0.0, 0.1))
    assert out["truth"]["class_labels"] == {"1": "class_1"}
    assert out["pred"]["class_labels"] == {"2": "two"}
