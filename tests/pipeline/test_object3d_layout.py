"""Tests of darkroom.pipeline.object3d_layout: point cloud shapes, 3-D formats and scene entries (MEDIA_TYPES.md, Object3D)."""

from __future__ import annotations

import pytest

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.object3d_layout import (
    COLUMNS,
    check_point_cloud_type,
    check_point_dtype,
    point_columns,
    scene_entries,
)


@pytest.mark.parametrize("columns", [3, 4, 6])
def test_clouds_of_three_four_or_six_columns_are_accepted(columns: int) -> None:
    assert point_columns((5, columns), "points") == columns
    assert point_columns((0, columns), "points") == columns  # an empty cloud is the worker's to judge


@pytest.mark.parametrize("shape", [(5,), (5, 5), (2, 3, 1)])
def test_other_shapes_are_refused_naming_the_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidInput) as info:
        point_columns(shape, "points")
    assert (info.value.code, info.value.message) == ("invalid_shape", f"points has shape {shape}; accepted: {COLUMNS}")


def test_only_integer_and_float_clouds_are_accepted() -> None:
    check_point_dtype("float32", "f", "points")
    check_point_dtype("uint8", "u", "points")
    with pytest.raises(InvalidInput) as info:
        check_point_dtype("bool", "b", "points")
    assert (info.value.code, info.value.message) == ("invalid_dtype",
                                                     "points has dtype bool; accepted: integer or float numbers")


def test_point_cloud_types_are_checked() -> None:
    assert check_point_cloud_type("lidar/beta", "cloud") == "lidar/beta"
    with pytest.raises(InvalidInput) as info:
        check_point_cloud_type("lidar/alpha", "cloud")
    assert info.value.message == "cloud point cloud type 'lidar/alpha'; accepted: lidar/beta"


@pytest.mark.parametrize(("value", "message"), [
    ({"a": 1}, "boxes must be a list of dicts; got dict"),
    ([[0, 0, 0]], "boxes[0] must be a dict; got list"),
    ([{"corners": [], "colour": [1, 2, 3]}], "boxes[0] has unknown keys ['colour']; accepted: corners, color"),
])
def test_scene_entries_are_lists_of_dicts_with_known_keys(value, message) -> None:
    with pytest.raises(InvalidInput) as info:
        scene_entries(value, "boxes", ("corners", "color"))
    assert (info.value.code, info.value.message) == ("invalid_scene", message)
    assert scene_entries([{"corners": []}], "boxes", ("corners", "color")) == [{"corners": []}]
