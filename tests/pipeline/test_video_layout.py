"""Tests of darkroom.pipeline.video_layout: which array shapes are videos (MEDIA_TYPES.md, Video)."""

from __future__ import annotations

import pytest

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.video_layout import ACCEPTED_SHAPES, video_layout


@pytest.mark.parametrize("shape, layout", [
    ((5, 1, 4, 6), (1, 5, 1, 4, 6)), ((5, 3, 4, 6), (1, 5, 3, 4, 6)), ((2, 5, 4, 4, 6), (2, 5, 4, 4, 6)),
])
def test_a_4d_array_is_one_video_and_a_5d_array_a_batch(shape: tuple[int, ...], layout: tuple[int, ...]) -> None:
    assert video_layout(shape, "video array") == layout


@pytest.mark.parametrize("shape, ending", [
    ((4, 4), f"accepted: {ACCEPTED_SHAPES}"),
    ((5, 2, 4, 6), f"accepted: {ACCEPTED_SHAPES}"),
    ((5, 8, 6, 3), "; a channels-last (..., H, W, C) array needs np.moveaxis(a, -1, -3)"),
    ((0, 3, 4, 6), "is empty; accepted: " + ACCEPTED_SHAPES + ", every axis at least 1"),
])
def test_other_shapes_are_refused_naming_the_shape(shape: tuple[int, ...], ending: str) -> None:
    with pytest.raises(InvalidInput) as info:
        video_layout(shape, "Video data")
    assert info.value.code == "invalid_shape"
    assert info.value.message.startswith("Video data ") and str(shape) in info.value.message
    assert info.value.message.endswith(ending)
