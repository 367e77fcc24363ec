"""Images: numpy arrays and image files to PNG (or JPEG/BMP), with masks and boxes.

The rules are MEDIA_TYPES.md's Image section: accepted shapes, how each dtype is
normalised, what is clipped (and recorded), what is refused.
"""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_serializer

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.image_layout import (FILE_TYPES, MODES, check_class_ids, check_mask_array, check_quality,
                                            image_layout)
from darkroom.pipeline.pixel_values import to_uint8
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import Converter, ItemInput, Output, Payload, RelatedOutput
from darkroom.workers.converters.boxes import normalise_box_groups
from darkroom.workers.payloads import NPY_MEDIA_TYPE, load_npy

# 2: mask files keep their class ids; I and F files follow the array rules (clip warnings, normalize).
VERSION = "2"
_FORMATS = {"png": ("PNG", "image/png"), "jpg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp"),
            "bmp": ("BMP", "image/bmp")}


class ImageOptions(BaseModel):
    """Options that change the artifact (and so its content address)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file_type: Literal[FILE_TYPES] = "png"  # type: ignore[valid-type]
    normalize: bool = True
    mode: Literal[MODES] | None = None  # type: ignore[valid-type]
    # jpg and webp only (check_quality); None: jpg at 90, webp lossless.
    quality: int | None = None

    @field_validator("quality", mode="after")
    @classmethod
    def _quality_fits_the_file_type(cls, quality: int | None, info: ValidationInfo) -> int | None:
        try:
            return check_quality(info.data.get("file_type", "png"), quality, "image")
        except InvalidInput as e:
            raise ValueError(e.message) from None

    @model_serializer(mode="wrap")
    def _without_unset_quality(self, handler: Any) -> dict[str, Any]:
        # Left out when None: the options of every item stored before quality existed
        # stay the same dict, so their artifacts' addresses and reprocess's "unchanged"
        # check do not move.
        data = handler(self)
        if data.get("quality") is None:
            data.pop("quality", None)
        return data


def convert(item: ItemInput, options: ImageOptions, limits: Limits) -> Output:
    """Convert one image item.

    Raises
    ------
    InvalidInput: the payload, a mask or a box is not acceptable; the message
        says what was wrong and what is accepted.
    """
    warnings: list[str] = []
    image = _to_pil(item.payload, options.normalize, limits, warnings, what="image")
    if options.mode and image.mode != options.mode:
        image = _convert(image, options.mode, f"Image(mode={options.mode!r}) has none", warnings)
    file_type = "jpg" if options.file_type == "jpeg" else options.file_type
    if file_type == "jpg" and image.mode in ("RGBA", "LA"):
        image = _convert(image, "RGB" if image.mode == "RGBA" else "L", "JPEG has none", warnings)
    if file_type == "bmp" and image.mode == "LA":
        # Pillow's BMP writer has no LA mode ("cannot write mode LA as BMP").
        warnings.append("mode LA saved as RGBA: BMP has no gray-with-alpha mode")
        image = image.convert("RGBA")
    if file_type == "webp" and image.mode == "LA":
        warnings.append("mode LA saved as RGBA: WebP has no gray-with-alpha mode")
        image = image.convert("RGBA")
    data = _encode(image, file_type, options.quality)
    width, height = image.size
    pil_format, media_type = _FORMATS[file_type]

    related = [
        _mask(name, item, (width, height), limits, warnings)
        for name in _mask_names(item)
    ]
    fields: dict[str, Any] = {}
    if item.extra.get("boxes"):
        fields["boxes"] = normalise_box_groups(item.extra["boxes"], width, height, warnings, limits.max_boxes)
    return Output(
        data=data,
        format=file_type,
        media_type=media_type,
        measurements={"width": width, "height": height, "mode": image.mode},
        warnings=warnings,
        related=related,
        manifest_fields=fields,
    )


# -- decoding -----------------------------------------------------------------


def _to_pil(payload: Payload, normalize: bool, limits: Limits, warnings: list[str], what: str):
    from PIL import Image

    if payload.media_type == NPY_MEDIA_TYPE:
        array = load_npy(payload.data, limits.max_payload_bytes)
        mode, channels_first = image_layout(array.shape)
        if channels_first:
            array = np.moveaxis(array, 0, -1)
        _check_pixels(array.shape[1], array.shape[0], limits, what)
        pixels = to_uint8(array, normalize, warnings, what)
        if pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        return Image.fromarray(np.ascontiguousarray(pixels), mode=None)
    return _open_file(payload.data, normalize, limits, warnings, what)


def _open_file(data: bytes, normalize: bool, limits: Limits, warnings: list[str], what: str):
    """An image file as a PIL image in L, RGB or RGBA; high-depth pixels follow the dtype rule."""
    from PIL import Image

    image = _read_file(data, limits, what)
    if image.mode in ("L", "RGB", "RGBA"):
        return image
    if image.mode == "LA" or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # numpy reads I;16* as uint16 (÷257), I as int32 (clipped, recorded), F as float32:
        # the same rule, and the same warnings, as an array or a PIL image in that mode.
        return Image.fromarray(to_uint8(np.asarray(image), normalize, warnings, what))
    return image.convert("RGB")


def _read_file(data: bytes, limits: Limits, what: str):
    """Open an image file and decode its first frame, in whatever mode the file has."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InvalidInput(
            "unreadable_file",
            f"{what} file is not an image Pillow can read ({len(data)} bytes, starts {data[:8]!r}); "
            "accepted: png, jpeg, webp, bmp, gif, tiff and the other formats Pillow reads",
        ) from None
    except Image.DecompressionBombError as e:
        raise InvalidInput("too_large", f"{what} file: {e}") from None
    except Exception as e:
        raise InvalidInput("corrupt_file", f"{what} file could not be opened: {e}") from None
    # The header gives the size: check it before decoding a single pixel.
    _check_pixels(image.width, image.height, limits, what)
    try:
        image.seek(0)  # multi-frame files: the first frame
        image.load()
    except Exception as e:
        raise InvalidInput("corrupt_file", f"{what} file is truncated or corrupt: {e}") from None
    return image


def _check_pixels(width: int, height: int, limits: Limits, what: str) -> None:
    if width * height > limits.max_pixels:
        raise InvalidInput(
            "too_large",
            f"{what} of {width}x{height} = {width * height} pixels exceeds the bound of "
            f"{limits.max_pixels} pixels (DARKROOM_MAX_PIXELS)",
        )


# -- normalisation ------------------------------------------------------------


# -- encoding -----------------------------------------------------------------


def _convert(image, mode: str, reason: str, warnings: list[str]):
    """`image` in `mode`; a colour or alpha channel that this drops is recorded in `warnings`."""
    lost = []
    if image.mode in ("RGB", "RGBA") and mode in ("L", "LA"):
        lost.append("colour")
    if image.mode.endswith("A") and not mode.endswith("A"):
        lost.append("alpha")
    if lost:
        channels = "alpha channel" if lost == ["alpha"] else " and ".join(lost) + " channels"
        warnings.append(f"{channels} dropped: {reason} (mode {image.mode} saved as {mode})")
    return image.convert(mode)


def _encode(image, file_type: str, quality: int | None = None) -> bytes:
    # Measured per input kind by bench/image_formats.py (docs/media/image.md has the table):
    # lossless WebP stores photos, masks and plots in 52-66% of PNG's bytes (noise: the
    # same) for 2.6-4x PNG's CPU, so PNG stays the default and WebP is a choice.
    buf = io.BytesIO()
    pil_format = _FORMATS[file_type][0]
    if pil_format == "PNG":
        # Pillow's default level (6): the bar a bare Pillow encode sets.
        image.save(buf, format="PNG")
    elif pil_format == "JPEG":
        image.save(buf, format="JPEG", quality=quality or 90)
    elif pil_format == "WEBP":
        if quality is None:
            image.save(buf, format="WEBP", lossless=True)
        else:
            image.save(buf, format="WEBP", quality=quality)
    else:
        image.save(buf, format=pil_format)
    return buf.getvalue()


# -- masks --------------------------------------------------------------------


def _mask_names(item: ItemInput) -> list[str]:
    return sorted(role.split(":", 1)[1] for role in item.related if role.startswith("mask:"))


def _mask(name: str, item: ItemInput, size: tuple[int, int], limits: Limits, warnings: list[str]) -> RelatedOutput:
    from PIL import Image

    what = f"mask {name!r}"
    payload = item.related[f"mask:{name}"]
    if payload.media_type == NPY_MEDIA_TYPE:
        ids = _class_ids(load_npy(payload.data, limits.max_payload_bytes), f"{what} mask_data")
    else:
        ids = _mask_file_ids(payload.data, limits, warnings, what)
    height, width = ids.shape
    if (width, height) != size:
        raise InvalidInput(
            "invalid_mask",
            f"{what} is {width}x{height} (WxH) but the image is {size[0]}x{size[1]}; "
            "a mask must have the image's height and width",
        )
    mask = Image.fromarray(np.ascontiguousarray(ids))
    present = sorted(int(v) for v in np.unique(ids))
    specs = item.extra.get("masks", {})
    spec = specs.get(name, {}) if isinstance(specs, dict) else specs
    if not isinstance(spec, dict):  # extra comes from the message: never trusted
        raise InvalidInput(
            "invalid_mask", f"{what} extra must be a dict {{'class_labels': {{int: str}}}}; got {type(spec).__name__}"
        )
    labels = _class_labels(spec.get("class_labels"), what)
    for value in present:
        labels.setdefault(str(value), f"class_{value}")
    return RelatedOutput(
        role=f"mask:{name}",
        data=_encode(mask, "png"),
        format="png",
        media_type="image/png",
        info={"class_labels": labels, "classes_present": present},
    )


def _class_ids(array: np.ndarray, what: str) -> np.ndarray:
    """A mask's class ids as uint8, unchanged: MEDIA_TYPES.md allows integers 0..255 and nothing else.

    Raises
    ------
    InvalidInput (``invalid_mask``): not 2-D, not integers, or a value outside 0..255.
    """
    check_mask_array(array.shape, array.dtype, array.dtype.kind, what)
    if array.size:
        check_class_ids(int(array.min()), int(array.max()), what)
    return array.astype(np.uint8)


def _mask_file_ids(data: bytes, limits: Limits, warnings: list[str], what: str) -> np.ndarray:
    """The class ids stored in a mask file: its one channel, never scaled or mixed to luminance.

    A single-channel file (L, P palette indices, 1, I;16, I) is read as its integers. A file
    with several channels (RGB, RGBA, LA) is taken only when its colour channels are equal,
    as in a gray mask saved as RGB; an alpha channel that is not opaque is dropped with a warning.

    Raises
    ------
    InvalidInput (``invalid_mask``): channels that differ, another mode, or ids outside 0..255.
    """
    mask = _read_file(data, limits, what)
    found = f"{what} file (mode {mask.mode})"
    bands = mask.getbands()
    if len(bands) == 1:
        return _class_ids(np.asarray(mask), found)
    accepted = "a single-channel file (L, P, I;16, I) or RGB/RGBA whose colour channels are equal"
    if mask.mode not in ("LA", "RGB", "RGBA"):
        raise InvalidInput("invalid_mask", f"{found}: a mask is one channel of class ids; accepted: {accepted}")
    pixels = np.asarray(mask)
    colour = pixels[..., :-1] if bands[-1] == "A" else pixels
    differs = (colour != colour[..., :1]).any(axis=-1)
    if differs.any():
        row, col = (int(i) for i in np.argwhere(differs)[0])
        raise InvalidInput(
            "invalid_mask",
            f"{found} has colour channels that differ in {int(differs.sum())} of {differs.size} pixels "
            f"(first at row {row}, column {col}: {tuple(int(v) for v in colour[row, col])}); "
            f"a mask is one channel of class ids; accepted: {accepted}",
        )
    see_through = int((pixels[..., -1] != 255).sum()) if bands[-1] == "A" else 0
    if see_through:
        warnings.append(f"{what} file: alpha channel dropped ({see_through} pixels not opaque); "
                        "a mask is one channel of class ids")
    return _class_ids(colour[..., 0], found)


def _class_labels(raw: Any, what: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput("invalid_labels", f"{what} class_labels must be a dict {{int: str}}; got {type(raw).__name__}")
    labels = {}
    for k, v in raw.items():
        try:
            number = int(k)
        except (TypeError, ValueError):
            raise InvalidInput("invalid_labels", f"{what} class_labels key {k!r} is not an integer") from None
        labels[str(number)] = str(v)
    return labels


CONVERTER = Converter(name="image", version=VERSION, options_model=ImageOptions, convert=convert)
