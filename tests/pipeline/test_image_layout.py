"""Tests of darkroom.pipeline.image_layout: which array shapes are images (MEDIA_TYPES.md, Image)."""

from __future__ import annotations

import pytest

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.image_layout import ACCEPTED, image_layout, image_size


@pytest.mark.parametrize(
    ("shape", "mode", "channels_first", "size"),
    [
        ((4, 6), "L", False, (6, 4)),
        ((4, 6, 1), "L", False, (6, 4)),
        ((4, 6, 3), "RGB", False, (6, 4)),
        ((4, 6, 4), "RGBA", False, (6, 4)),
        ((1, 4, 6), "L", True, (6, 4)),
        ((3, 4, 6), "RGB", True, (6, 4)),
        ((4, 5, 6), "RGBA", True, (6, 5)),
        # Both axes could be channels: the last axis wins, as for (H, W, C) images.
        ((3, 5, 3), "RGB", False, (5, 3)),
        ((4, 2, 1), "L", False, (2, 4)),
        # The first axis is a channel count and the last is not: channels-first (torch layout).
        ((4, 6, 2), "RGBA", True, (2, 6)),
        ((1, 1), "L", False, (1, 1)),
    ],
)
def test_accepted_shapes_give_their_mode_layout_and_size(
    shape: tuple[int, ...], mode: str, channels_first: bool, size: tuple[int, int]
) -> None:
    assert image_layout(shape) == (mode, channels_first)
    assert image_size(shape) == size


@pytest.mark.parametrize("shape", [(5,), (), (2, 4, 4, 3), (5, 6, 2), (2, 4, 6), (5, 5, 5)])
def test_other_shapes_are_refused_naming_the_shape_and_the_accepted_ones(shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidInput) as info:
        image_layout(shape)
    assert info.value.code == "invalid_shape"
    assert info.value.message == f"image array of shape {shape}; accepted: {ACCEPTED}"


@pytest.mark.parametrize("shape", [(0, 5), (5, 0, 3), (3, 0, 7), (0, 0)])
def test_an_empty_image_is_refused_as_such(shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidInput) as info:
        image_layout(shape)
    assert info.value.code == "invalid_shape"
    assert info.value.message == f"image array of shape {shape} is empty; accepted: {ACCEPTED} with H, W > 0"


def test_a_list_shape_is_reported_as_a_tuple() -> None:
    with pytest.raises(InvalidInput, match=r"image array of shape \(7,\)"):
        image_layout([7])  # type: ignore[arg-type]


def test_image_size_refuses_what_image_layout_refuses() -> None:
    with pytest.raises(InvalidInput) as info:
        image_size((2, 2, 2))
    assert info.value.message == f"image array of shape (2, 2, 2); accepted: {ACCEPTED}"


def test_file_types_and_modes_are_checked_with_one_wording() -> None:
    from darkroom.pipeline.image_layout import check_file_type, check_mode

    assert check_file_type("jpeg", "Image") == "jpeg"
    assert check_mode(None, "Image") is None
    with pytest.raises(InvalidInput) as info:
        check_file_type("gif", "Image")
    assert (info.value.code, info.value.message) == ("invalid_options", "Image file_type='gif'; accepted: png, jpg, jpeg, webp, bmp")
    with pytest.raises(InvalidInput) as info:
        check_mode("CMYK", "Image")
    assert info.value.message == "Image mode='CMYK'; accepted: L, LA, RGB, RGBA or None"


@pytest.mark.parametrize(("shape", "dtype", "low", "high", "message"), [
    ((2, 2, 2), "uint8", 0, 1, "m has shape (2, 2, 2); accepted: a 2-D (H, W) integer array"),
    ((2, 2), "float32", 0, 1, "m has dtype float32; accepted: integer class ids 0..255"),
    ((2, 2), "int16", -1, 3, "m has values -1..3; accepted: 0..255"),
    ((2, 2), "int32", 0, 256, "m has values 0..256; accepted: 0..255"),
])
def test_a_mask_is_two_dimensional_integer_class_ids_up_to_255(shape, dtype, low, high, message) -> None:
    import numpy as np

    from darkroom.pipeline.image_layout import check_class_ids, check_mask_array

    with pytest.raises(InvalidInput) as info:
        check_mask_array(shape, np.dtype(dtype), np.dtype(dtype).kind, "m")
        check_class_ids(low, high, "m")
    assert (info.value.code, info.value.message) == ("invalid_mask", message)
    check_mask_array((2, 2), np.dtype("bool"), "b", "m")
    check_class_ids(0, 255, "m")
