"""Fuzzing the image converter and `process_request`: an Output or an InvalidInput, never a crash.

Bounded (50-100 examples each, small arrays, a low pixel bound) so the file runs
in well under a minute.  Where the rules of MEDIA_TYPES.md predict the outcome
(an accepted shape with finite values converts; integers are clipped, never
wrapped), the tests check the prediction too, not only the absence of crashes.
"""

from __future__ import annotations

import hashlib
import io
import math
from typing import Any

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import Storage
from darkroom.workers.converters import ItemInput, Output, Payload
from darkroom.workers.converters.image import ImageOptions, convert

from converter_harness import (NPY, byte_flips, check_outcome, convert_request, damaged, fuzz_settings,
                               npy_bytes, npy_item, pixel_arrays, processed, put_raw, run_converter, scratch_storage,
                               stored_manifest)

# Low enough that a corrupted header cannot make Pillow allocate much.
LIMITS = Limits(max_pixels=50_000, max_payload_bytes=1 << 20, max_items_per_key=1000)
DTYPES = ["bool", "uint8", "int8", "int16", "uint16", "int32", "int64", "float16", "float32", "float64"]
FUZZ = fuzz_settings(100)
CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}


def outcome(item: ItemInput, options: ImageOptions = ImageOptions()) -> Output | InvalidInput:
    """Run the converter (converter_harness.run_converter); an Output must decode at its measured size."""
    result = run_converter(convert, item, options, LIMITS)
    if isinstance(result, Output):
        image = Image.open(io.BytesIO(result.data))
        image.load()
        assert image.size == (result.measurements["width"], result.measurements["height"])
        assert image.width * image.height <= LIMITS.max_pixels
    return result


# -- strategies -------------------------------------------------------------------


side = st.integers(0, 6)
shapes = st.one_of(
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
    st.tuples(side, side),
    st.tuples(side, side, st.sampled_from([1, 2, 3, 4, 5])),
    st.tuples(st.sampled_from([1, 2, 3, 4, 5]), side, side),
)


def image_arrays() -> st.SearchStrategy[np.ndarray]:
    return pixel_arrays(DTYPES, shapes)


options_strategy = st.builds(
    ImageOptions,
    file_type=st.sampled_from(["png", "jpg", "jpeg", "bmp"]),
    normalize=st.booleans(),
    mode=st.sampled_from([None, "L", "LA", "RGB", "RGBA"]),
)


def accepted_layout(shape: tuple[int, ...]) -> tuple[str, bool] | None:
    """MEDIA_TYPES.md's shape rule, restated independently of the code under test."""
    if len(shape) == 2:
        mode, first = "L", False
    elif len(shape) == 3 and shape[2] in CHANNELS:
        mode, first = CHANNELS[shape[2]], False
    elif len(shape) == 3 and shape[0] in CHANNELS:
        mode, first = CHANNELS[shape[0]], True
    else:
        return None
    h, w = (shape[1], shape[2]) if first else (shape[0], shape[1])
    return (mode, first) if h and w else None


def expected_pixels(array: np.ndarray, normalize: bool) -> np.ndarray:
    """MEDIA_TYPES.md's dtype rule, computed in float64."""
    if array.dtype.kind == "b":
        return array.astype(np.uint8) * 255
    values = array.astype(np.float64)
    if array.dtype == np.uint16:
        return np.rint(values / 257).astype(np.uint8)
    if array.dtype.kind == "f" and normalize and values.min() >= 0 and values.max() <= 1:
        values = values * 255
    elif array.dtype.kind == "f" and normalize and values.min() >= -1 and values.max() <= 1:
        values = (values + 1) * 127.5
    return np.rint(np.clip(values, 0, 255)).astype(np.uint8)


# -- arrays ------------------------------------------------------------------------


@FUZZ
@given(array=image_arrays(), options=options_strategy)
def test_any_array_converts_or_is_refused_with_a_message(array: np.ndarray, options: ImageOptions) -> None:
    result = outcome(npy_item(array), options)
    layout = accepted_layout(array.shape)
    if layout is None:
        assert isinstance(result, InvalidInput) and result.code == "invalid_shape"
        assert str(tuple(array.shape)) in result.message
        return
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        assert isinstance(result, InvalidInput) and result.code == "non_finite"
        return
    assert isinstance(result, Output), result


@FUZZ
@given(array=image_arrays(), normalize=st.booleans())
def test_accepted_arrays_decode_to_the_normalised_pixels(array: np.ndarray, normalize: bool) -> None:
    layout = accepted_layout(array.shape)
    assume(layout is not None)
    assume(array.dtype.kind != "f" or np.isfinite(array).all())
    mode, channels_first = layout
    result = outcome(npy_item(array), ImageOptions(normalize=normalize))
    assert isinstance(result, Output)
    assert result.measurements["mode"] == mode

    pixels = np.asarray(Image.open(io.BytesIO(result.data)))
    source = np.moveaxis(array, 0, -1) if channels_first else array
    expected = expected_pixels(source, normalize)
    if expected.ndim == 3 and expected.shape[2] == 1:
        expected = expected[:, :, 0]
    assert pixels.shape == expected.shape
    if array.dtype.kind == "f":
        # float16/float32 arithmetic may land on the other side of a .5; never further.
        assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 1
    else:
        np.testing.assert_array_equal(pixels, expected)

    clipped = array.dtype.kind in "iu" and array.dtype not in (np.uint8, np.uint16) and (
        int(array.min()) < 0 or int(array.max()) > 255)
    assert any("clipped" in w for w in result.warnings) == bool(clipped) or array.dtype.kind == "f"


@FUZZ
@given(array=image_arrays(), cut=st.integers(0, 200), flips=byte_flips(4))
def test_truncated_or_damaged_npy_payloads_never_crash(array: np.ndarray, cut: int,
                                                       flips: list[tuple[int, int]]) -> None:
    outcome(ItemInput(Payload(damaged(npy_bytes(array), flips, cut), NPY, "npy")))


# -- files ----------------------------------------------------------------------------

MAGICS = [b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"GIF87a", b"BM", b"\xff\xd8\xff\xe0", b"II*\x00", b"MM\x00*",
          b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"P5\n", b"\x00\x00\x01\x00", b"8BPS", b"\x93NUMPY"]


@FUZZ
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=2000))
def test_random_bytes_as_an_image_file_are_refused_or_converted(magic: bytes, body: bytes) -> None:
    outcome(ItemInput(Payload(magic + body, "image/png", "png")))


@st.composite
def image_files(draw: st.DrawFn) -> tuple[bytes, tuple[int, int]]:
    size = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    fmt, mode = draw(st.sampled_from([
        ("PNG", "L"), ("PNG", "RGB"), ("PNG", "RGBA"), ("PNG", "P"), ("PNG", "I;16"), ("PNG", "LA"),
        ("JPEG", "RGB"), ("JPEG", "L"), ("WEBP", "RGB"), ("WEBP", "RGBA"), ("BMP", "RGB"), ("BMP", "L"),
        ("GIF", "P"), ("GIF", "L"), ("TIFF", "RGB"), ("TIFF", "F"), ("TIFF", "CMYK"), ("TIFF", "I;16"),
    ]))
    seed = draw(st.integers(0, 2**32 - 1))
    image = Image.new(mode, size)
    noise = np.random.default_rng(seed).integers(0, 256, size[0] * size[1] * len(image.getbands()), np.uint8)
    if mode in ("I;16", "F"):
        image = Image.fromarray(noise.reshape(size[1], size[0]).astype(np.uint16 if mode == "I;16" else np.float32))
    else:
        image.frombytes(noise.tobytes())
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue(), size


@FUZZ
@given(file=image_files(), options=options_strategy)
def test_a_valid_image_file_of_any_format_converts_at_its_size(file: tuple[bytes, tuple[int, int]],
                                                               options: ImageOptions) -> None:
    data, size = file
    result = outcome(ItemInput(Payload(data, "image/x", "bin")), options)
    assert isinstance(result, Output), result
    assert (result.measurements["width"], result.measurements["height"]) == size


@FUZZ
@given(file=image_files(), cut=st.integers(1, 400), flips=byte_flips(6))
def test_truncated_or_damaged_image_files_never_crash(file: tuple[bytes, tuple[int, int]], cut: int,
                                                     flips: list[tuple[int, int]]) -> None:
    outcome(ItemInput(Payload(damaged(file[0], flips, cut), "image/x", "bin")))


# -- masks and boxes ----------------------------------------------------------------------


@FUZZ
@given(mask=st.one_of(image_arrays(), hnp.arrays(st.sampled_from(["uint8", "int16", "bool"]), st.just((4, 5)))))
def test_any_mask_array_is_stored_or_refused_as_invalid_mask(mask: np.ndarray) -> None:
    item = ItemInput(Payload(npy_bytes(np.zeros((4, 5), np.uint8)), NPY, "npy"),
                     related={"mask:m": Payload(npy_bytes(mask), NPY, "npy")})
    result = outcome(item)
    valid = (mask.shape == (4, 5) and mask.dtype.kind in "biu"
             and int(mask.min()) >= 0 and int(mask.max()) <= 255)
    if valid:
        assert isinstance(result, Output), result
        [related] = result.related
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(related.data))), mask.astype(np.uint8))
    else:
        assert isinstance(result, InvalidInput) and result.code == "invalid_mask", result


json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-10**400, 10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-2, 2), st.text(max_size=5),
)
json_values = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)), max_leaves=20)
coordinate = st.one_of(st.floats(-0.5, 1.5), st.integers(-20, 40), json_leaf)
positions = st.one_of(
    st.fixed_dictionaries({"minX": coordinate, "maxX": coordinate, "minY": coordinate, "maxY": coordinate}),
    st.fixed_dictionaries({"middle": st.one_of(st.lists(coordinate, min_size=0, max_size=3), json_leaf),
                           "width": coordinate, "height": coordinate}),
    json_values,
)
boxes = st.fixed_dictionaries(
    {"position": positions, "class_id": st.one_of(st.integers(0, 5), json_leaf)},
    optional={"domain": st.sampled_from(["pixel", None, "pct"]), "box_caption": st.one_of(st.text(max_size=5), json_leaf),
              "scores": st.one_of(st.dictionaries(st.text(max_size=3), coordinate, max_size=2), json_leaf)},
)
box_groups = st.one_of(
    st.dictionaries(st.text(max_size=4), st.fixed_dictionaries(
        {"box_data": st.lists(boxes, max_size=4)},
        optional={"class_labels": st.one_of(st.dictionaries(st.sampled_from(["0", "1", "x", "-2"]), json_leaf),
                                            json_values)}), min_size=1, max_size=2),
    json_values,
)


@FUZZ
@given(groups=box_groups)
def test_any_boxes_are_normalised_into_the_image_or_refused_as_invalid_boxes(groups: Any) -> None:
    item = ItemInput(Payload(npy_bytes(np.zeros((10, 20), np.uint8)), NPY, "npy"), extra={"boxes": groups})
    result = outcome(item)
    if isinstance(result, InvalidInput):
        assert result.code == "invalid_boxes", result.message
        return
    for group in (result.manifest_fields.get("boxes") or {}).values():
        for box in group["box_data"]:
            p = box["position"]
            assert all(0.0 <= p[k] <= 1.0 and math.isfinite(p[k]) for k in ("minX", "maxX", "minY", "maxY"))
            assert p["minX"] <= p["maxX"] and p["minY"] <= p["maxY"]
            assert type(box["class_id"]) is int
            assert str(box["class_id"]) in group["class_labels"]


@FUZZ
@given(masks_extra=json_values)
def test_any_mask_extra_data_is_used_or_refused(masks_extra: Any) -> None:
    mask = Payload(npy_bytes(np.ones((4, 5), np.uint8)), NPY, "npy")
    item = ItemInput(Payload(npy_bytes(np.zeros((4, 5), np.uint8)), NPY, "npy"),
                     related={"mask:m": mask}, extra={"masks": masks_extra})
    result = outcome(item)
    if isinstance(result, InvalidInput):
        assert result.code in ("invalid_mask", "invalid_labels"), result.message


# -- process_request end to end --------------------------------------------------------


ITEM_KINDS = ["good", "array", "bytes", "file", "missing", "mismatch", "outside", "not_raw", "masked", "boxed"]


@st.composite
def item_specs(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(ITEM_KINDS))
    if kind in ("array", "masked"):
        return kind, draw(image_arrays())
    if kind == "bytes":
        return kind, draw(st.sampled_from(MAGICS)) + draw(st.binary(max_size=300))
    if kind == "file":
        return kind, draw(image_files())[0]
    if kind == "boxed":
        return kind, draw(box_groups)
    return kind, None


def build_item(storage: Storage, index: int, kind: str, value: Any) -> dict[str, Any]:
    good = put_raw(storage, npy_bytes(np.full((3, 4), index, np.uint8)))
    item: dict[str, Any] = {"index": index, "source": good}
    if kind == "array":
        item["source"] = put_raw(storage, npy_bytes(value))
    elif kind == "bytes":
        item["source"] = put_raw(storage, value, "png", "image/png")
    elif kind == "file":
        item["source"] = put_raw(storage, value, "bin", "image/x")
    elif kind == "missing":
        storage.delete(storage.key_of(good["uri"]))
    elif kind == "mismatch":
        item["source"] = dict(good, sha256=hashlib.sha256(b"other").hexdigest())
    elif kind == "outside":
        item["source"] = dict(good, uri="file:///etc/passwd")
    elif kind == "not_raw":
        item["source"] = dict(good, uri=storage.put(f"media/x/{index}.npy", npy_bytes(np.zeros((2, 2), np.uint8))))
    elif kind == "masked":
        item["related"] = {"mask:m": put_raw(storage, npy_bytes(value))}
    elif kind == "boxed":
        item["extra"] = {"boxes": value}
    return item


request_options = st.one_of(
    st.just({}), st.builds(lambda o: o.model_dump(), options_strategy),
    st.dictionaries(st.sampled_from(["file_type", "normalize", "mode", "quality"]), json_leaf, max_size=2),
)


@fuzz_settings(60)
@given(specs=st.lists(item_specs(), min_size=1, max_size=4), options=request_options,
       max_items=st.integers(1, 5), repeat=st.booleans())
def test_every_item_of_any_request_gets_an_ok_or_failed_manifest(
        specs: list[tuple[str, Any]], options: dict[str, Any], max_items: int, repeat: bool) -> None:
    limits = Limits(max_pixels=LIMITS.max_pixels, max_payload_bytes=LIMITS.max_payload_bytes,
                    max_items_per_key=max_items)
    with scratch_storage() as storage:
        items = [build_item(storage, i, kind, value) for i, (kind, value) in enumerate(specs)]
        request = convert_request("image", items, options)
        manifests = processed(storage, request, limits, repeat)
        for (kind, _), manifest in zip(specs, manifests):
            stored = stored_manifest(storage, request, manifest)
            if stored.status == "ok":
                assert stored.error is None and stored.artifact is not None
                assert kind not in ("missing", "mismatch", "outside", "not_raw")
            else:
                assert stored.status == "failed" and stored.artifact is None
                assert stored.error.code and stored.error.message
            check_outcome(storage, stored)
        if len(items) > max_items:
            assert {m.error.code for m in manifests if m.error} <= {"too_many_items", "invalid_options"}
