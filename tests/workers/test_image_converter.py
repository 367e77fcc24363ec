"""workers/converters/image.py: every accepted input form, decoded back and compared pixel by pixel."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.image_layout import ACCEPTED
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload, converter_for
from darkroom.workers.converters.image import CONVERTER, ImageOptions, convert

NPY = "application/x-npy"


# -- building inputs ------------------------------------------------------------


def npy_payload(array: np.ndarray) -> Payload:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return Payload(data=buf.getvalue(), media_type=NPY, ext="npy")


def file_payload(data: bytes, media_type: str = "image/png", ext: str = "png") -> Payload:
    return Payload(data=data, media_type=media_type, ext=ext)


def npy_item(array: np.ndarray, **kwargs: Any) -> ItemInput:
    return ItemInput(payload=npy_payload(array), **kwargs)


def image_file(image: Image.Image, format: str, **save: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=format, **save)
    return buf.getvalue()


def gradient(height: int = 5, width: int = 7, channels: int | None = None) -> np.ndarray:
    shape = (height, width) if channels is None else (height, width, channels)
    return (np.arange(int(np.prod(shape))) * 7 % 256).astype(np.uint8).reshape(shape)


# -- running and reading back ----------------------------------------------------


def run(item: ItemInput, limits: Limits = Limits(), **options: Any) -> Output:
    return convert(item, ImageOptions(**options), limits)


def decoded(data: bytes) -> tuple[Image.Image, np.ndarray]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image, np.asarray(image)


def pixels_of(array: np.ndarray, **options: Any) -> tuple[Output, Image.Image, np.ndarray]:
    output = run(npy_item(array), **options)
    image, pixels = decoded(output.data)
    return output, image, pixels


def refused(item: ItemInput, code: str, limits: Limits = Limits(), **options: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        run(item, limits, **options)
    assert info.value.code == code, info.value.message
    assert info.value.message
    return info.value


# -- shapes -----------------------------------------------------------------------


def test_a_2d_uint8_array_becomes_an_identical_grayscale_png() -> None:
    array = gradient()
    output, image, pixels = pixels_of(array)
    assert output.format == "png" and output.media_type == "image/png"
    assert output.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.format == "PNG" and image.mode == "L"
    assert output.measurements == {"width": 7, "height": 5, "mode": "L"}
    assert output.warnings == [] and output.related == [] and output.manifest_fields == {}
    np.testing.assert_array_equal(pixels, array)


def test_an_hw1_array_becomes_grayscale() -> None:
    array = gradient(channels=1)
    output, image, pixels = pixels_of(array)
    assert image.mode == "L" and output.measurements["mode"] == "L"
    np.testing.assert_array_equal(pixels, array[:, :, 0])


def test_an_hw3_array_becomes_rgb() -> None:
    array = gradient(channels=3)
    output, image, pixels = pixels_of(array)
    assert image.mode == "RGB" and image.size == (7, 5)
    np.testing.assert_array_equal(pixels, array)


def test_an_hw4_array_becomes_rgba() -> None:
    array = gradient(channels=4)
    output, image, pixels = pixels_of(array)
    assert image.mode == "RGBA" and output.measurements["mode"] == "RGBA"
    np.testing.assert_array_equal(pixels, array)


@pytest.mark.parametrize("channels, mode", [(3, "RGB"), (1, "L"), (4, "RGBA")])
def test_a_channels_first_array_is_transposed(channels: int, mode: str) -> None:
    channels_last = gradient(5, 7, channels)
    array = np.ascontiguousarray(np.moveaxis(channels_last, -1, 0))
    assert array.shape == (channels, 5, 7)
    output, image, pixels = pixels_of(array)
    assert image.mode == mode and image.size == (7, 5)
    assert output.measurements == {"width": 7, "height": 5, "mode": mode}
    expected = channels_last[:, :, 0] if channels == 1 else channels_last
    np.testing.assert_array_equal(pixels, expected)


def test_a_3d_array_whose_last_axis_is_a_channel_count_is_channels_last_even_if_the_first_is_too() -> None:
    array = gradient(3, 6, 3)
    _, image, pixels = pixels_of(array)
    assert image.size == (6, 3)
    np.testing.assert_array_equal(pixels, array)


@pytest.mark.parametrize("shape", [(), (5,), (5, 4, 2), (2, 4, 5), (1, 2, 3, 4), (2, 3, 4, 3)])
def test_a_shape_that_is_not_an_image_is_refused_naming_it_and_the_accepted_shapes(shape: tuple) -> None:
    error = refused(npy_item(np.zeros(shape, np.uint8)), "invalid_shape")
    assert f"shape {shape}" in error.message
    assert ACCEPTED in error.message


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 5, 3), (3, 0, 5), (0, 0)])
def test_an_empty_array_is_refused_as_invalid_shape(shape: tuple) -> None:
    error = refused(npy_item(np.zeros(shape, np.uint8)), "invalid_shape")
    assert "empty" in error.message
    assert f"{shape}" in error.message


# -- dtypes ------------------------------------------------------------------------


def test_a_bool_array_becomes_0_and_255() -> None:
    array = np.array([[True, False], [False, True]])
    _, _, pixels = pixels_of(array)
    np.testing.assert_array_equal(pixels, [[255, 0], [0, 255]])


@pytest.mark.parametrize("dtype", ["<u2", ">u2"])
def test_uint16_is_divided_by_257_and_rounded(dtype: str) -> None:
    array = np.array([[0, 257, 385, 386], [32896, 65535, 1000, 128]], dtype=dtype)
    output, _, pixels = pixels_of(array)
    np.testing.assert_array_equal(pixels, [[0, 1, 1, 2], [128, 255, 4, 0]])
    assert output.warnings == []


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint32", "uint64"])
def test_integers_inside_0_to_255_are_kept_without_a_warning(dtype: str) -> None:
    array = np.array([[0, 1, 100, 127]], dtype=dtype)
    output, _, pixels = pixels_of(array)
    np.testing.assert_array_equal(pixels, array.astype(np.uint8))
    assert output.warnings == []


@pytest.mark.parametrize("dtype", ["int16", "int32", "int64"])
def test_integers_outside_0_to_255_are_clipped_not_wrapped_and_recorded(dtype: str) -> None:
    array = np.array([[-5, 0, 128, 255, 256, 300]], dtype=dtype)
    output, _, pixels = pixels_of(array)
    np.testing.assert_array_equal(pixels, [[0, 0, 128, 255, 255, 255]])
    assert output.warnings == ["image values -5..300 clipped to 0..255"]


def test_negative_int8_values_are_clipped_to_zero_with_a_warning() -> None:
    output, _, pixels = pixels_of(np.array([[-128, -1, 0, 127]], dtype=np.int8))
    np.testing.assert_array_equal(pixels, [[0, 0, 0, 127]])
    assert output.warnings == ["image values -128..127 clipped to 0..255"]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_floats_in_0_to_1_are_scaled_by_255_and_rounded_not_truncated(dtype: str) -> None:
    array = np.array([[0.0, 0.5, 1.0, 0.999], [0.2, 0.1, 0.004, 0.75]], dtype=dtype)
    output, _, pixels = pixels_of(array)
    # truncation would give 127, 254, 0, 191
    np.testing.assert_array_equal(pixels, [[0, 128, 255, 255], [51, 26, 1, 191]])
    assert output.warnings == []


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_floats_in_minus_1_to_1_map_to_x_plus_1_times_127_5(dtype: str) -> None:
    array = np.array([[-1.0, -0.5, 0.0, 0.5, 1.0]], dtype=dtype)
    output, _, pixels = pixels_of(array)
    np.testing.assert_array_equal(pixels, [[0, 64, 128, 191, 255]])
    assert output.warnings == []


def test_floats_between_1_and_255_are_rounded_without_scaling_or_warning() -> None:
    output, _, pixels = pixels_of(np.array([[0.0, 2.0, 100.4, 100.6, 254.7]]))
    np.testing.assert_array_equal(pixels, [[0, 2, 100, 101, 255]])
    assert output.warnings == []


def test_floats_beyond_0_to_255_are_clipped_and_recorded() -> None:
    output, _, pixels = pixels_of(np.array([[-10.0, 0.4, 100.6, 300.5]]))
    np.testing.assert_array_equal(pixels, [[0, 0, 101, 255]])
    assert output.warnings == ["image values -10..300.5 clipped to 0..255"]


def test_with_normalize_false_floats_in_0_to_1_are_only_rounded() -> None:
    output, _, pixels = pixels_of(np.array([[0.0, 0.4, 0.6, 1.0]]), normalize=False)
    np.testing.assert_array_equal(pixels, [[0, 0, 1, 1]])
    assert output.warnings == []


def test_with_normalize_false_negative_floats_are_clipped_and_recorded() -> None:
    output, _, pixels = pixels_of(np.array([[-1.0, 0.0, 1.0, 254.6]]), normalize=False)
    np.testing.assert_array_equal(pixels, [[0, 0, 1, 255]])
    assert output.warnings == ["image values -1..254.6 clipped to 0..255"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_floats_are_refused_with_the_count_and_first_position(bad: float) -> None:
    array = np.zeros((4, 5), np.float32)
    array[1, 3] = bad
    array[2, 0] = bad
    array[3, 4] = bad
    error = refused(npy_item(array), "non_finite")
    assert "3 NaN or infinite values" in error.message
    assert "(first at (1, 3))" in error.message


def test_a_single_nan_in_an_rgb_image_is_located_with_its_channel() -> None:
    array = np.zeros((3, 4, 3), np.float64)
    array[2, 1, 2] = np.nan
    error = refused(npy_item(array), "non_finite")
    assert "1 NaN or infinite values (first at (2, 1, 2))" in error.message


def test_nan_is_refused_even_with_normalize_false() -> None:
    refused(npy_item(np.array([[np.nan, 1.0]])), "non_finite", normalize=False)


# -- bounds ------------------------------------------------------------------------


def test_an_array_over_the_pixel_bound_is_refused_naming_darkroom_max_pixels() -> None:
    error = refused(npy_item(np.zeros((10, 12), np.uint8)), "too_large", Limits(max_pixels=119))
    assert "12x10 = 120 pixels" in error.message
    assert "119 pixels (DARKROOM_MAX_PIXELS)" in error.message


def test_an_array_exactly_at_the_pixel_bound_is_converted() -> None:
    output = run(npy_item(np.zeros((10, 12), np.uint8)), Limits(max_pixels=120))
    assert output.measurements["width"] == 12


def test_a_channels_first_array_over_the_pixel_bound_counts_height_times_width() -> None:
    error = refused(npy_item(np.zeros((3, 10, 12), np.uint8)), "too_large", Limits(max_pixels=100))
    assert "12x10 = 120 pixels" in error.message


def test_an_image_file_over_the_pixel_bound_is_refused_from_its_header() -> None:
    data = image_file(Image.new("RGB", (40, 30)), "PNG")
    error = refused(ItemInput(file_payload(data)), "too_large", Limits(max_pixels=1000))
    assert "40x30 = 1200 pixels" in error.message and "DARKROOM_MAX_PIXELS" in error.message


def test_an_npy_payload_over_the_byte_bound_is_refused_naming_the_setting() -> None:
    error = refused(npy_item(np.zeros((10, 10), np.uint8)), "too_large", Limits(max_payload_bytes=50))
    assert "DARKROOM_MAX_PAYLOAD_BYTES" in error.message


# -- image files -------------------------------------------------------------------


def test_a_png_file_is_re_encoded_with_the_same_pixels() -> None:
    array = gradient(6, 9, 3)
    output = run(ItemInput(file_payload(image_file(Image.fromarray(array), "PNG"))))
    image, pixels = decoded(output.data)
    assert image.format == "PNG" and output.measurements == {"width": 9, "height": 6, "mode": "RGB"}
    np.testing.assert_array_equal(pixels, array)


def test_a_png_file_with_alpha_stays_rgba() -> None:
    array = gradient(4, 4, 4)
    output = run(ItemInput(file_payload(image_file(Image.fromarray(array), "PNG"))))
    np.testing.assert_array_equal(decoded(output.data)[1], array)


def test_a_jpeg_file_is_decoded_to_approximately_its_pixels() -> None:
    array = np.full((16, 16, 3), (200, 40, 90), np.uint8)
    output = run(ItemInput(file_payload(image_file(Image.fromarray(array), "JPEG", quality=95), "image/jpeg", "jpg")))
    image, pixels = decoded(output.data)
    assert image.format == "PNG" and image.mode == "RGB" and image.size == (16, 16)
    assert np.abs(pixels.astype(int) - array).max() <= 4


def test_a_lossless_webp_file_keeps_its_pixels() -> None:
    array = gradient(8, 10, 3)
    data = image_file(Image.fromarray(array), "WEBP", lossless=True)
    output = run(ItemInput(file_payload(data, "image/webp", "webp")))
    np.testing.assert_array_equal(decoded(output.data)[1], array)


def test_a_bmp_file_keeps_its_pixels() -> None:
    array = gradient(5, 6, 3)
    output = run(ItemInput(file_payload(image_file(Image.fromarray(array), "BMP"), "image/bmp", "bmp")))
    np.testing.assert_array_equal(decoded(output.data)[1], array)


def test_a_two_frame_gif_gives_its_first_frame() -> None:
    red = Image.new("RGB", (8, 6), (255, 0, 0))
    blue = Image.new("RGB", (8, 6), (0, 0, 255))
    buf = io.BytesIO()
    red.save(buf, format="GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    assert Image.open(io.BytesIO(buf.getvalue())).n_frames == 2
    output = run(ItemInput(file_payload(buf.getvalue(), "image/gif", "gif")))
    image, pixels = decoded(output.data)
    assert image.size == (8, 6) and output.measurements["mode"] == "RGB"
    assert (pixels == (255, 0, 0)).all()


def test_a_palette_png_with_transparency_becomes_rgba() -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    data = image_file(image, "PNG", transparency=0)
    output = run(ItemInput(file_payload(data)))
    _, pixels = decoded(output.data)
    assert output.measurements["mode"] == "RGBA"
    assert (pixels == (10, 200, 30, 255)).all()


def test_a_16_bit_png_is_divided_by_257() -> None:
    array = np.array([[0, 257, 32896, 65535], [1000, 385, 386, 12850]], dtype=np.uint16)
    data = image_file(Image.fromarray(array), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    output = run(ItemInput(file_payload(data)))
    image, pixels = decoded(output.data)
    assert image.mode == "L"
    np.testing.assert_array_equal(pixels, [[0, 1, 128, 255], [4, 1, 2, 50]])


def test_a_32_bit_integer_tiff_file_is_clipped_and_recorded_like_the_same_array() -> None:
    array = np.array([[0, 300], [70000, 5]], dtype=np.int32)
    data = image_file(Image.fromarray(array), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "I"
    output = run(ItemInput(file_payload(data, "image/tiff", "tiff")))
    np.testing.assert_array_equal(decoded(output.data)[1], [[0, 255], [255, 5]])
    assert output.warnings == ["image values 0..70000 clipped to 0..255"]
    assert output.warnings == pixels_of(array)[0].warnings


@pytest.mark.parametrize("normalize, expected", [(True, [[0, 128], [64, 255]]), (False, [[0, 0], [0, 1]])])
def test_a_float_tiff_file_follows_normalize_like_the_same_array(normalize: bool, expected: list) -> None:
    array = np.array([[0.0, 0.5], [0.25, 1.0]], dtype=np.float32)
    data = image_file(Image.fromarray(array), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "F"
    output = run(ItemInput(file_payload(data, "image/tiff", "tiff")), normalize=normalize)
    np.testing.assert_array_equal(decoded(output.data)[1], expected)
    np.testing.assert_array_equal(pixels_of(array, normalize=normalize)[2], expected)


def random_bytes() -> bytes:
    return np.random.default_rng(7).integers(0, 256, 3000, dtype=np.uint8).tobytes()


def png_bytes() -> bytes:
    return image_file(Image.fromarray(gradient(64, 64, 3)), "PNG")


def jpeg_bytes() -> bytes:
    return image_file(Image.fromarray(gradient(64, 64, 3)), "JPEG")


@pytest.mark.parametrize(
    "data",
    [b"", random_bytes(), b"just some text, not an image\n" * 10, png_bytes()[:60], png_bytes()[:-300],
     png_bytes()[:len(png_bytes()) // 2], jpeg_bytes()[:200], b"\x89PNG\r\n\x1a\n" + random_bytes(),
     b"GIF89a" + random_bytes()[:50], b"BM" + random_bytes()[:100]],
    ids=["empty", "random", "text", "png-header-only", "png-no-end", "png-half", "jpeg-head",
         "png-magic-then-noise", "gif-magic-then-noise", "bmp-magic-then-noise"],
)
def test_corrupt_truncated_or_random_bytes_are_refused_as_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        run(ItemInput(file_payload(data)))
    assert info.value.code in ("unreadable_file", "corrupt_file", "too_large")
    assert info.value.message


def test_bytes_that_are_no_image_name_the_accepted_formats() -> None:
    error = refused(ItemInput(file_payload(b"hello, world")), "unreadable_file")
    assert "12 bytes" in error.message and "png, jpeg, webp" in error.message


def test_a_png_with_damaged_pixel_data_is_refused_as_corrupt_file() -> None:
    data = bytearray(png_bytes())
    idat = data.index(b"IDAT")
    data[idat + 40: idat + 400] = bytes(360)
    with pytest.raises(InvalidInput) as info:
        run(ItemInput(file_payload(bytes(data))))
    assert info.value.code in ("corrupt_file", "unreadable_file")


# -- options ---------------------------------------------------------------------


@pytest.mark.parametrize("file_type", ["jpg", "jpeg"])
def test_jpeg_output_drops_alpha_with_a_warning(file_type: str) -> None:
    array = np.zeros((8, 8, 4), np.uint8)
    array[..., 0], array[..., 3] = 250, 100
    output = run(npy_item(array), file_type=file_type)
    image, pixels = decoded(output.data)
    assert output.format == "jpg" and output.media_type == "image/jpeg"
    assert image.format == "JPEG" and image.mode == "RGB"
    assert output.measurements["mode"] == "RGB"
    assert output.warnings == ["alpha channel dropped: JPEG has none (mode RGBA saved as RGB)"]
    assert abs(int(pixels[..., 0].mean()) - 250) <= 4


def test_jpeg_output_of_an_rgb_image_has_no_warning() -> None:
    output = run(npy_item(gradient(8, 8, 3)), file_type="jpg")
    assert output.warnings == []
    assert decoded(output.data)[0].format == "JPEG"


def test_bmp_output_keeps_the_pixels() -> None:
    array = gradient(5, 6, 3)
    output = run(npy_item(array), file_type="bmp")
    image, pixels = decoded(output.data)
    assert output.format == "bmp" and output.media_type == "image/bmp" and image.format == "BMP"
    np.testing.assert_array_equal(pixels, array)


def test_mode_l_converts_rgb_to_grayscale() -> None:
    array = np.zeros((2, 2, 3), np.uint8)
    array[..., 0] = 255  # pure red: luma 0.299 * 255
    output = run(npy_item(array), mode="L")
    image, pixels = decoded(output.data)
    assert image.mode == "L" and output.measurements["mode"] == "L"
    assert (pixels == 76).all()


def test_mode_rgba_adds_an_opaque_alpha_channel() -> None:
    output = run(npy_item(np.full((2, 3), 9, np.uint8)), mode="RGBA")
    _, pixels = decoded(output.data)
    assert pixels.shape == (2, 3, 4)
    assert (pixels == (9, 9, 9, 255)).all()


@pytest.mark.parametrize(
    "channels, mode, warning",
    [(4, "RGB", "alpha channel dropped: Image(mode='RGB') has none (mode RGBA saved as RGB)"),
     (3, "L", "colour channels dropped: Image(mode='L') has none (mode RGB saved as L)"),
     (4, "L", "colour and alpha channels dropped: Image(mode='L') has none (mode RGBA saved as L)"),
     (3, "LA", "colour channels dropped: Image(mode='LA') has none (mode RGB saved as LA)")],
)
def test_a_mode_that_drops_channels_records_what_it_dropped(channels: int, mode: str, warning: str) -> None:
    output, image, _ = pixels_of(gradient(3, 4, channels), mode=mode)
    assert image.mode == mode and output.measurements["mode"] == mode
    assert output.warnings == [warning]


@pytest.mark.parametrize("channels, mode", [(None, "RGB"), (None, "RGBA"), (3, "RGBA"), (None, "LA"), (4, "RGBA")])
def test_a_mode_that_drops_no_channel_has_no_warning(channels: int | None, mode: str) -> None:
    assert pixels_of(gradient(3, 4, channels), mode=mode)[0].warnings == []


def test_mode_la_with_bmp_output_is_saved_as_rgba_with_a_warning() -> None:
    output = run(npy_item(gradient(3, 4, 4)), mode="LA", file_type="bmp")
    image, _ = decoded(output.data)
    assert image.format == "BMP" and output.measurements["mode"] == "RGBA"
    assert output.warnings == ["colour channels dropped: Image(mode='LA') has none (mode RGBA saved as LA)",
                               "mode LA saved as RGBA: BMP has no gray-with-alpha mode"]


def test_mode_la_with_jpeg_output_drops_the_alpha_with_a_warning() -> None:
    output = run(npy_item(np.full((3, 4), 9, np.uint8)), mode="LA", file_type="jpg")
    assert decoded(output.data)[0].mode == "L"
    assert output.warnings == ["alpha channel dropped: JPEG has none (mode LA saved as L)"]


@pytest.mark.parametrize(
    "options, named",
    [({"quality": 90}, "quality"), ({"file_type": "tiff"}, "file_type"), ({"mode": "CMYK"}, "mode"),
     ({"normalize": "sometimes"}, "normalize")],
)
def test_an_unknown_or_invalid_option_is_refused_naming_it(options: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidInput) as info:
        CONVERTER.parse_options(options)
    assert info.value.code == "invalid_options"
    assert info.value.message.startswith(f"image options: {named}:")


def test_options_default_to_png_normalized_and_the_source_mode() -> None:
    assert CONVERTER.parse_options({}) == ImageOptions(file_type="png", normalize=True, mode=None)


def test_the_image_kind_has_a_converter_and_unknown_kinds_name_the_available_ones() -> None:
    assert converter_for("image") is CONVERTER
    assert CONVERTER.name == "image" and CONVERTER.convert is convert
    with pytest.raises(InvalidInput) as info:
        converter_for("sound")
    assert info.value.code == "unsupported_kind"
    assert "'sound'" in info.value.message
    available = info.value.message.split("available: ", 1)[1].split(", ")
    assert "image" in available and "sound" not in available


# -- masks ------------------------------------------------------------------------


def masked_item(masks: dict[str, np.ndarray | Payload], extra: dict[str, Any] | None = None,
                image: np.ndarray | None = None) -> ItemInput:
    related = {f"mask:{name}": m if isinstance(m, Payload) else npy_payload(m) for name, m in masks.items()}
    return ItemInput(payload=npy_payload(gradient(4, 5, 3) if image is None else image),
                     related=related, extra=extra or {})


def test_a_mask_is_stored_as_its_own_png_with_given_and_default_labels() -> None:
    mask = np.array([[0, 0, 1, 1, 3]] * 4, dtype=np.int64)
    output = run(masked_item({"seg": mask}, {"masks": {"seg": {"class_labels": {"1": "cat", "2": "dog"}}}}))
    assert len(output.related) == 1
    rel = output.related[0]
    assert rel.role == "mask:seg" and rel.format == "png" and rel.media_type == "image/png"
    image, pixels = decoded(rel.data)
    assert image.format == "PNG" and image.mode == "L"
    np.testing.assert_array_equal(pixels, mask)
    assert rel.info == {"class_labels": {"1": "cat", "2": "dog", "0": "class_0", "3": "class_3"},
                        "classes_present": [0, 1, 3]}


def test_a_mask_without_labels_gets_class_c_for_each_value_present() -> None:
    mask = np.zeros((4, 5), np.uint8)
    mask[0, 0] = 255
    rel = run(masked_item({"m": mask})).related[0]
    assert rel.info["class_labels"] == {"0": "class_0", "255": "class_255"}


def test_several_masks_are_stored_in_name_order() -> None:
    mask = np.ones((4, 5), np.uint8)
    output = run(masked_item({"b": mask, "a": mask * 2}))
    assert [r.role for r in output.related] == ["mask:a", "mask:b"]
    assert (decoded(output.related[0].data)[1] == 2).all()


def test_a_bool_mask_is_stored_as_0_and_1() -> None:
    mask = np.zeros((4, 5), bool)
    mask[1:3, 1:3] = True
    rel = run(masked_item({"m": mask})).related[0]
    np.testing.assert_array_equal(decoded(rel.data)[1], mask.astype(np.uint8))
    assert rel.info["classes_present"] == [0, 1]


def test_a_mask_given_as_a_png_file_is_stored_as_grayscale() -> None:
    mask = np.array([[0, 1, 2, 3, 4]] * 4, dtype=np.uint8)
    payload = file_payload(image_file(Image.fromarray(mask), "PNG"))
    rel = run(masked_item({"m": payload})).related[0]
    np.testing.assert_array_equal(decoded(rel.data)[1], mask)
    assert rel.info["classes_present"] == [0, 1, 2, 3, 4]


def mask_file(image: Image.Image, format: str = "PNG") -> Payload:
    return file_payload(image_file(image, format), f"image/{format.lower()}", format.lower())


CLASS_IDS = np.array([[0, 1, 2, 3, 3]] * 4, dtype=np.uint8)


def test_a_16_bit_png_mask_keeps_its_class_ids_instead_of_dividing_by_257() -> None:
    payload = mask_file(Image.fromarray(CLASS_IDS.astype(np.uint16)))
    assert Image.open(io.BytesIO(payload.data)).mode == "I;16"
    output = run(masked_item({"m": payload}))
    np.testing.assert_array_equal(decoded(output.related[0].data)[1], CLASS_IDS)
    assert output.related[0].info["classes_present"] == [0, 1, 2, 3] and output.warnings == []


def test_a_palette_png_mask_keeps_its_indices_not_the_palette_colours() -> None:
    mask = Image.fromarray(CLASS_IDS, "L").convert("P")
    mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
    rel = run(masked_item({"m": mask_file(mask)})).related[0]
    np.testing.assert_array_equal(decoded(rel.data)[1], CLASS_IDS)


def test_a_32_bit_integer_tiff_mask_keeps_its_class_ids() -> None:
    rel = run(masked_item({"m": mask_file(Image.fromarray(CLASS_IDS.astype(np.int32)), "TIFF")})).related[0]
    np.testing.assert_array_equal(decoded(rel.data)[1], CLASS_IDS)


@pytest.mark.parametrize("mode, values, found", [("I;16", (0, 300), "0..300"), ("I", (-1, 2), "-1..2")])
def test_a_single_channel_mask_file_with_ids_outside_0_to_255_is_refused_naming_them(
        mode: str, values: tuple, found: str) -> None:
    array = np.zeros((4, 5), np.uint16 if mode == "I;16" else np.int32)
    array[0, 0], array[3, 4] = values
    error = refused(masked_item({"m": mask_file(Image.fromarray(array), "TIFF")}), "invalid_mask")
    assert error.message == f"mask 'm' file (mode {mode}) has values {found}; accepted: 0..255"


def test_a_float_mask_file_is_refused_naming_its_dtype() -> None:
    error = refused(masked_item({"m": mask_file(Image.fromarray(CLASS_IDS.astype(np.float32)), "TIFF")}),
                    "invalid_mask")
    assert error.message == "mask 'm' file (mode F) has dtype float32; accepted: integer class ids 0..255"


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA"])
def test_a_mask_file_whose_colour_channels_are_equal_is_read_as_that_channel(mode: str) -> None:
    output = run(masked_item({"m": mask_file(Image.fromarray(CLASS_IDS, "L").convert(mode))}))
    np.testing.assert_array_equal(decoded(output.related[0].data)[1], CLASS_IDS)
    assert output.warnings == []


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_colour_mask_file_is_refused_saying_a_mask_is_one_channel_of_class_ids(mode: str) -> None:
    colours = np.zeros((4, 5, len(mode)), np.uint8)
    colours[..., 3:] = 255
    colours[1, 2, :3] = (0, 76, 0)  # converted to luminance, this was class 44
    colours[3, 4, :3] = (29, 0, 0)
    error = refused(masked_item({"m": mask_file(Image.fromarray(colours, mode))}), "invalid_mask")
    assert error.message == (
        f"mask 'm' file (mode {mode}) has colour channels that differ in 2 of 20 pixels "
        "(first at row 1, column 2: (0, 76, 0)); a mask is one channel of class ids; "
        "accepted: a single-channel file (L, P, I;16, I) or RGB/RGBA whose colour channels are equal"
    )


def test_a_cmyk_mask_file_is_refused_saying_a_mask_is_one_channel_of_class_ids() -> None:
    error = refused(masked_item({"m": mask_file(Image.fromarray(CLASS_IDS, "L").convert("CMYK"), "JPEG")}),
                    "invalid_mask")
    assert error.message.startswith("mask 'm' file (mode CMYK): a mask is one channel of class ids; accepted:")


def test_a_mask_file_with_transparent_pixels_keeps_its_ids_and_records_the_dropped_alpha() -> None:
    mask = np.dstack([CLASS_IDS] * 3 + [np.full_like(CLASS_IDS, 255)])
    mask[0, :2, 3] = 0
    output = run(masked_item({"m": mask_file(Image.fromarray(mask, "RGBA"))}))
    np.testing.assert_array_equal(decoded(output.related[0].data)[1], CLASS_IDS)
    assert output.warnings == [
        "mask 'm' file: alpha channel dropped (2 pixels not opaque); a mask is one channel of class ids"]


@pytest.mark.parametrize("shape", [(4, 6), (5, 5), (5, 4)])
def test_a_mask_of_another_size_than_the_image_is_refused(shape: tuple) -> None:
    error = refused(masked_item({"m": np.zeros(shape, np.uint8)}), "invalid_mask")
    assert f"mask 'm' is {shape[1]}x{shape[0]} (WxH) but the image is 5x4" in error.message


def test_a_3d_mask_is_refused_naming_its_shape() -> None:
    error = refused(masked_item({"m": np.zeros((4, 5, 3), np.uint8)}), "invalid_mask")
    assert "shape (4, 5, 3)" in error.message and "2-D (H, W) integer array" in error.message


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_a_float_mask_is_refused_naming_its_dtype(dtype: str) -> None:
    error = refused(masked_item({"m": np.zeros((4, 5), dtype)}), "invalid_mask")
    assert f"dtype {dtype}" in error.message and "0..255" in error.message


@pytest.mark.parametrize("low, high", [(0, 256), (-1, 3), (0, 70000)])
def test_mask_values_outside_0_to_255_are_refused_naming_the_range(low: int, high: int) -> None:
    mask = np.zeros((4, 5), np.int32)
    mask[0, 0], mask[3, 4] = low, high
    error = refused(masked_item({"m": mask}), "invalid_mask")
    assert f"values {low}..{high}; accepted: 0..255" in error.message


@pytest.mark.parametrize("masks_extra", [["seg"], {"seg": "cat"}, {"seg": [1, 2]}])
def test_malformed_mask_extra_data_is_refused_as_invalid_mask(masks_extra: Any) -> None:
    refused(masked_item({"seg": np.zeros((4, 5), np.uint8)}, {"masks": masks_extra}), "invalid_mask")


def test_a_mask_label_key_that_is_not_an_integer_is_refused() -> None:
    error = refused(masked_item({"seg": np.zeros((4, 5), np.uint8)},
                                {"masks": {"seg": {"class_labels": {"cat": "cat"}}}}), "invalid_labels")
    assert "key 'cat' is not an integer" in error.message


def test_a_corrupt_mask_payload_is_refused_as_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        run(masked_item({"m": file_payload(b"no mask here" * 5)}))


# -- boxes through the converter ------------------------------------------------------


def test_boxes_are_normalised_against_the_image_size_into_manifest_fields() -> None:
    boxes = {"pred": {"box_data": [
        {"position": {"minX": 0, "maxX": 50, "minY": 10, "maxY": 20}, "domain": "pixel", "class_id": 4,
         "box_caption": "car", "scores": {"p": 0.7}},
        {"position": {"middle": [0.9, 0.5], "width": 0.4, "height": 0.2}, "class_id": 1},
    ]}}
    output = run(ItemInput(payload=npy_payload(np.zeros((40, 100), np.uint8)), extra={"boxes": boxes}))
    group = output.manifest_fields["boxes"]["pred"]
    first, second = group["box_data"]
    assert first["position"] == pytest.approx({"minX": 0.0, "maxX": 0.5, "minY": 0.25, "maxY": 0.5})
    assert first["box_caption"] == "car" and first["scores"] == {"p": 0.7}
    assert second["position"] == pytest.approx({"minX": 0.7, "maxX": 1.0, "minY": 0.4, "maxY": 0.6})
    assert group["class_labels"] == {"4": "class_4", "1": "class_1"}
    assert output.warnings == ["boxes['pred'].box_data[1] was partly outside the image and is clipped to it"]


def test_an_invalid_box_fails_the_whole_image_as_invalid_boxes() -> None:
    boxes = {"pred": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.2, "minY": 0.1, "maxY": 0.2},
                                    "class_id": "car"}]}}
    error = refused(ItemInput(payload=npy_payload(gradient()), extra={"boxes": boxes}), "invalid_boxes")
    assert "box_data[0] class_id 'car'" in error.message
