"""darkroom.Image: what the constructor snapshots and what it refuses (MEDIA_TYPES.md, Image).

The constructor needs no run.  The last tests log every accepted form in one
embedded run and read the PNGs back, so "snapshotted" is checked end to end.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import darkroom
from tensor_doubles import DuckTensor
from darkroom._media import ArraySnapshot, FileSnapshot

ACCEPTED_TEXT = "(H,W), (H,W,1), (H,W,3), (H,W,4), or channels-first (1,H,W), (3,H,W), (4,H,W)"



def snapshot_array(image: darkroom.Image) -> np.ndarray:
    payload = image._payload
    assert isinstance(payload, ArraySnapshot), payload
    return payload.array


def write_png(path: Path, array: np.ndarray) -> Path:
    from PIL import Image as PILImage

    PILImage.fromarray(array).save(path, format="PNG")
    return path


# -- numpy shapes -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 1), (6, 5, 3), (6, 5, 4), (1, 6, 5), (3, 6, 5), (4, 6, 5)])
def test_every_accepted_numpy_shape_is_kept_as_given(shape):
    array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    kept = snapshot_array(darkroom.Image(array))
    assert kept.shape == shape
    np.testing.assert_array_equal(kept, array)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 5), (2, 2, 2, 2), (5, 6, 2)])
def test_an_unaccepted_shape_is_refused_naming_the_shape_and_the_accepted_ones(shape):
    with pytest.raises(ValueError) as info:
        darkroom.Image(np.zeros(shape, dtype=np.uint8))
    assert str(tuple(shape)) in str(info.value)
    assert ACCEPTED_TEXT in str(info.value)


def test_an_empty_array_is_refused_as_empty():
    with pytest.raises(ValueError, match=r"shape \(0, 4\) is empty.*H, W > 0"):
        darkroom.Image(np.zeros((0, 4)))


def test_a_string_array_is_refused_naming_its_dtype_and_the_accepted_ones():
    with pytest.raises(TypeError, match=r"dtype <U1 is not accepted; accepted: bool, integer or float"):
        darkroom.Image([["a", "b"], ["c", "d"]])


def test_an_object_that_is_no_image_is_refused_listing_what_is_accepted():
    with pytest.raises(TypeError) as info:
        darkroom.Image(object())
    text = str(info.value)
    assert text.startswith("Image got object; accepted:")
    for form in ("a numpy array", "a torch tensor", "a nested list", "a PIL image", "a path"):
        assert form in text


# -- snapshots ------------------------------------------------------------------------


def test_writing_to_the_callers_array_after_construction_does_not_change_the_snapshot():
    array = np.zeros((4, 4, 3), dtype=np.uint8)
    image = darkroom.Image(array)
    array[:] = 200
    assert not np.shares_memory(snapshot_array(image), array)
    assert snapshot_array(image).max() == 0


def test_a_64_by_64_nested_list_is_read_as_a_grayscale_array():
    rows = [[(r * 64 + c) % 256 for c in range(64)] for r in range(64)]
    image = darkroom.Image(rows)
    rows[0][0] = 255
    kept = snapshot_array(image)
    assert kept.shape == (64, 64)
    assert kept[0, 0] == 0 and kept[1, 0] == 64


def test_a_ragged_nested_list_is_refused_as_unreadable():
    with pytest.raises(ValueError, match=r"^Image: could not read list as an array"):
        darkroom.Image([[1, 2], [3]])


@pytest.mark.parametrize(
    ("mode", "shape", "dtype"),
    [("L", (4, 5), np.uint8), ("RGB", (4, 5, 3), np.uint8), ("RGBA", (4, 5, 4), np.uint8),
     ("P", (4, 5, 3), np.uint8), ("1", (4, 5), np.bool_)],
)
def test_a_pil_image_is_copied_to_an_array_of_its_mode(mode, shape, dtype):
    from PIL import Image as PILImage

    pil = PILImage.new(mode, (5, 4))
    if mode == "P":
        pil.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
        pil.putpixel((0, 0), 1)
    else:
        pil.putpixel((0, 0), {"L": 7, "RGB": (1, 2, 3), "RGBA": (1, 2, 3, 4), "1": 1}[mode])
    image = darkroom.Image(pil)
    pil.putpixel((1, 1), 1 if mode in ("P", "1") else pil.getpixel((0, 0)))  # mutate after the snapshot
    kept = snapshot_array(image)
    assert kept.shape == shape and kept.dtype == dtype
    expected_first = {"L": 7, "RGB": [1, 2, 3], "RGBA": [1, 2, 3, 4], "P": [10, 20, 30], "1": True}[mode]
    np.testing.assert_array_equal(kept[0, 0], expected_first)
    assert not kept[1, 1].any()


def test_a_float_pil_image_keeps_its_values_for_the_worker_to_normalise():
    from PIL import Image as PILImage

    values = np.array([[0.0, 0.5], [0.25, 1.0]], dtype=np.float32)
    kept = snapshot_array(darkroom.Image(PILImage.fromarray(values)))
    assert kept.dtype == np.float32
    np.testing.assert_array_equal(kept, values)


def test_a_32_bit_integer_pil_image_keeps_values_above_255_for_the_worker_to_clip_and_record():
    from PIL import Image as PILImage

    values = np.array([[0, 300], [70000, 5]], dtype=np.int32)
    kept = snapshot_array(darkroom.Image(PILImage.fromarray(values)))
    np.testing.assert_array_equal(kept, values)


def test_a_truncated_file_opened_by_pil_is_refused_as_a_value_error_naming_the_file(tmp_path):
    from PIL import Image as PILImage

    data = write_png(tmp_path / "full.png", np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)).read_bytes()
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as info:
        darkroom.Image(PILImage.open(truncated))
    assert str(info.value) == (
        f"Image: the PIL image from {str(truncated)!r} could not be decoded (image file is truncated); "
        "accepted: a PIL image whose pixel data Pillow can read in full"
    )


def test_a_channels_first_float_torch_tensor_is_read_without_being_shared():
    torch = pytest.importorskip("torch")
    tensor = torch.rand(3, 6, 5)
    image = darkroom.Image(tensor)
    expected = tensor.numpy().copy()
    tensor.fill_(0.5)
    kept = snapshot_array(image)
    assert kept.shape == (3, 6, 5) and kept.dtype == np.float32
    np.testing.assert_array_equal(kept, expected)


def test_a_torch_tensor_that_requires_grad_is_detached_and_accepted():
    torch = pytest.importorskip("torch")
    tensor = torch.rand(6, 5, 3, requires_grad=True)
    kept = snapshot_array(darkroom.Image(tensor * 2))  # a non-leaf tensor with a graph
    np.testing.assert_allclose(kept, (tensor * 2).detach().numpy())


def test_a_duck_typed_tensor_is_read_through_detach_cpu_numpy_and_copied():
    backing = np.full((4, 4), 9, dtype=np.uint8)
    duck = DuckTensor(backing)
    image = darkroom.Image(duck)
    assert duck.calls == ["detach", "cpu", "numpy"]
    backing[:] = 0
    assert snapshot_array(image).min() == 9


def test_a_duck_typed_tensor_of_a_wrong_shape_is_refused_like_an_array():
    with pytest.raises(ValueError, match=r"shape \(2, 3, 5\)"):
        darkroom.Image(DuckTensor(np.zeros((2, 3, 5))))


def test_a_matplotlib_figure_is_drawn_to_rgba_at_construction():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(1, 1), dpi=20)
    try:
        kept = snapshot_array(darkroom.Image(figure))
    finally:
        plt.close(figure)
    assert kept.shape == (20, 20, 4) and kept.dtype == np.uint8


# -- paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("as_type", [str, Path])
def test_a_path_is_kept_as_a_file_reference_with_its_extension(tmp_path, as_type):
    path = write_png(tmp_path / "Picture.PNG", np.zeros((3, 3), dtype=np.uint8))
    payload = darkroom.Image(as_type(path))._payload
    assert isinstance(payload, FileSnapshot)
    assert payload.path == str(path.resolve())
    assert payload.ext == "png"


def test_a_missing_path_raises_file_not_found_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "x.png"
    with pytest.raises(FileNotFoundError) as info:
        darkroom.Image(str(missing))
    assert repr(str(missing)) in str(info.value)
    assert "accepted: an existing image file" in str(info.value)


def test_a_directory_is_not_taken_for_an_image_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at"):
        darkroom.Image(tmp_path)


# -- arguments ------------------------------------------------------------------------


def test_an_unknown_file_type_is_refused_naming_the_argument_and_the_accepted_ones():
    with pytest.raises(ValueError, match=r"^Image file_type='gif'; accepted: png, jpg, jpeg, webp, bmp$"):
        darkroom.Image(np.zeros((2, 2)), file_type="gif")


def test_an_unknown_mode_is_refused_naming_the_argument_and_the_accepted_ones():
    with pytest.raises(ValueError, match=r"^Image mode='CMYK'; accepted: L, LA, RGB, RGBA or None$"):
        darkroom.Image(np.zeros((2, 2)), mode="CMYK")


def test_a_caption_that_is_not_a_str_is_refused_naming_the_argument():
    with pytest.raises(TypeError, match=r"^caption must be a str; got int 3$"):
        darkroom.Image(np.zeros((2, 2)), caption=3)


def test_the_caption_and_options_are_kept():
    image = darkroom.Image(np.zeros((2, 2)), caption="first", file_type="jpg", mode="RGB", normalize=False)
    assert image.caption == "first"
    assert image._options == {"file_type": "jpg", "normalize": False, "mode": "RGB"}
    assert "first" in repr(image)


# -- masks and boxes --------------------------------------------------------------------


def test_masks_that_are_not_a_dict_are_refused():
    with pytest.raises(TypeError, match=r"^Image masks must be a dict .*; got list$"):
        darkroom.Image(np.zeros((2, 2)), masks=[np.zeros((2, 2), dtype=np.uint8)])


def test_a_mask_without_mask_data_or_path_is_refused_naming_the_mask():
    with pytest.raises(TypeError, match=r"^Image masks\['seg'\] must be a dict with 'mask_data'.* or 'path'"):
        darkroom.Image(np.zeros((2, 2)), masks={"seg": {"data": 1}})


def test_a_mask_with_an_empty_name_is_refused():
    with pytest.raises(TypeError, match=r"names must be non-empty str; got ''"):
        darkroom.Image(np.zeros((2, 2)), masks={"": {"mask_data": np.zeros((2, 2), dtype=np.uint8)}})


def test_a_mask_that_is_not_two_dimensional_is_refused_naming_its_shape():
    with pytest.raises(ValueError, match=r"masks\['seg'\] mask_data has shape \(2, 2, 2\); accepted: a 2-D \(H, W\) integer array"):
        darkroom.Image(np.zeros((2, 2)), masks={"seg": {"mask_data": np.zeros((2, 2, 2), dtype=np.uint8)}})


def test_a_float_mask_is_refused_naming_its_dtype():
    with pytest.raises(TypeError, match=r"mask_data has dtype float64; accepted: integer class ids 0..255"):
        darkroom.Image(np.zeros((2, 2)), masks={"seg": {"mask_data": np.zeros((2, 2))}})


def test_a_mask_path_that_does_not_exist_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"masks\['seg'\]: no file at"):
        darkroom.Image(np.zeros((2, 2)), masks={"seg": {"path": str(tmp_path / "m.png")}})


def test_mask_data_is_snapshotted_and_labels_kept_as_json():
    mask = np.ones((2, 2), dtype=np.uint8)
    image = darkroom.Image(np.zeros((2, 2)), masks={"seg": {"mask_data": mask, "class_labels": {1: "cat"}}})
    mask[:] = 0
    assert image._related["mask:seg"].array.min() == 1
    assert image._extra["masks"] == {"seg": {"class_labels": {"1": "cat"}}}


def test_boxes_that_are_not_a_dict_are_refused():
    with pytest.raises(TypeError, match=r"^Image boxes must be a dict .*; got list$"):
        darkroom.Image(np.zeros((2, 2)), boxes=[{"position": {}}])


def test_a_box_group_without_a_box_data_list_is_refused_naming_the_group():
    with pytest.raises(TypeError, match=r"^Image boxes\['pred'\] must be a dict with 'box_data': a list of boxes$"):
        darkroom.Image(np.zeros((2, 2)), boxes={"pred": {"box_data": {"position": {}}}})


def test_boxes_holding_values_json_cannot_hold_are_refused_naming_the_value():
    with pytest.raises(TypeError, match=r"Image boxes: object .* is not JSON data"):
        darkroom.Image(np.zeros((2, 2)), boxes={"pred": {"box_data": [{"position": object()}]}})


def test_boxes_are_copied_so_later_edits_by_the_caller_are_not_logged():
    box = {"position": {"minX": 0.1, "maxX": np.float32(0.5), "minY": 0.1, "maxY": 0.5}, "class_id": 1}
    boxes = {"pred": {"box_data": [box]}}
    image = darkroom.Image(np.zeros((2, 2)), boxes=boxes)
    box["class_id"] = 9
    kept = image._extra["boxes"]["pred"]["box_data"][0]
    assert kept["class_id"] == 1 and kept["position"]["maxX"] == pytest.approx(0.5)


# -- end to end: every form, snapshotted, read back as PNG ---------------------------------


def read_pixels(reader, step: int, key: str, index: int = 0) -> np.ndarray:
    from PIL import Image as PILImage

    manifest = reader.manifest(step, key, index)
    assert manifest is not None and manifest["status"] == "ok", manifest
    with PILImage.open(io.BytesIO(reader.read(manifest))) as png:
        assert png.format == "PNG"
        return np.array(png)


def test_every_accepted_form_converts_to_the_expected_pixels_even_when_mutated_after_logging(embedded_env, tmp_path):
    from PIL import Image as PILImage

    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    chw = torch.rand(3, 6, 5)
    chw_expected = np.rint(chw.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    rows = [[(r * 5 + c) * 3 for c in range(5)] for r in range(6)]
    palette = PILImage.new("P", (5, 6))
    palette.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    palette.putpixel((2, 3), 1)
    palette_expected = np.array(palette.convert("RGB"))
    float_pil = PILImage.fromarray(rng.random((6, 5)).astype(np.float32))
    float_expected = np.rint(np.array(float_pil) * 255.0).astype(np.uint8)
    bilevel = PILImage.new("1", (5, 6))
    bilevel.putpixel((4, 5), 1)
    duck_backing = rng.integers(0, 256, (6, 5), dtype=np.uint8)
    duck_expected = duck_backing.copy()
    file_pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    str_path = write_png(tmp_path / "a.png", file_pixels)
    path_path = write_png(tmp_path / "b.png", file_pixels[::-1].copy())

    run = darkroom.init(project="forms")
    images = {
        "rgb": darkroom.Image(rgb),
        "chw": darkroom.Image(chw),
        "grad": darkroom.Image(torch.ones(6, 5, requires_grad=True)),
        "rows": darkroom.Image(rows),
        "palette": darkroom.Image(palette),
        "bilevel": darkroom.Image(bilevel),
        "float pil": darkroom.Image(float_pil),
        "duck": darkroom.Image(DuckTensor(duck_backing)),
        "str path": darkroom.Image(str(str_path)),
        "Path path": darkroom.Image(path_path),
    }
    expected = {
        "rgb": rgb.copy(), "chw": chw_expected, "grad": np.full((6, 5), 255, np.uint8),
        "rows": np.array(rows, dtype=np.uint8), "palette": palette_expected,
        "bilevel": np.array(bilevel.convert("L")), "float pil": float_expected, "duck": duck_expected,
        "str path": file_pixels, "Path path": file_pixels[::-1],
    }
    # Mutate every source between construction and log ...
    rgb[:] = 0
    chw.zero_()
    rows[0][0] = 255
    palette.putpixel((0, 0), 1)
    duck_backing[:] = 1
    run.log(images)
    # ... and again right after log: the sender must not see either change.
    rgb[:] = 1
    chw.fill_(1.0)
    run.log({"after": darkroom.Image(np.zeros((2, 2), np.uint8))})
    report = run.finish(quiet=True)
    assert report.failed == [] and report.converted == len(images) + 1

    reader = darkroom.Api().run(run.path)
    for key, pixels in expected.items():
        np.testing.assert_array_equal(read_pixels(reader, 0, key), pixels, err_msg=key)
