"""Which numpy shapes are images, the file types and modes an image is stored in, and what a mask is (MEDIA_TYPES.md, Image).

One rule, used twice: the SDK applies it at construction (a cheap check on the
caller's thread) and the worker applies it again, because workers never trust
a message.  `what` names the argument in the message ("Image masks['seg']
mask_data" in the SDK, "mask 'seg' mask_data" in the worker).
"""

from __future__ import annotations

from darkroom.pipeline.errors import InvalidInput

ACCEPTED = "(H,W), (H,W,1), (H,W,3), (H,W,4), or channels-first (1,H,W), (3,H,W), (4,H,W)"
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
# The file types an image is stored as ("jpeg" is "jpg"), and the modes a caller may ask for.
FILE_TYPES = ("png", "jpg", "jpeg", "webp", "bmp")
# `quality` for the lossy types (1..100; Pillow's JPEG scale, and WebP's).  For
# WebP, no quality means lossless.  PNG and BMP are lossless and take none.
LOSSY = ("jpg", "jpeg", "webp")
MODES = ("L", "LA", "RGB", "RGBA")
_MASK_IDS = "integer class ids 0..255"


def image_layout(shape: tuple[int, ...]) -> tuple[str, bool]:
    """Return (mode, channels_first) for an image array of `shape`.

    Raises
    ------
    InvalidInput (``invalid_shape``): not an accepted shape, or empty.
    """
    if len(shape) == 2:
        mode, channels_first = "L", False
    elif len(shape) == 3 and shape[-1] in _MODES:
        mode, channels_first = _MODES[shape[-1]], False
    elif len(shape) == 3 and shape[0] in _MODES:
        mode, channels_first = _MODES[shape[0]], True
    else:
        raise InvalidInput("invalid_shape", f"image array of shape {tuple(shape)}; accepted: {ACCEPTED}")
    height, width = (shape[1], shape[2]) if channels_first else (shape[0], shape[1])
    if height == 0 or width == 0:
        raise InvalidInput("invalid_shape", f"image array of shape {tuple(shape)} is empty; accepted: {ACCEPTED} with H, W > 0")
    return mode, channels_first


def image_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(width, height) of an array already accepted by `image_layout`."""
    _, channels_first = image_layout(shape)
    return (shape[2], shape[1]) if channels_first else (shape[1], shape[0])


def check_file_type(file_type: object, what: str) -> str:
    """An accepted `file_type`.

    Raises
    ------
    InvalidInput (``invalid_options``).
    """
    if file_type not in FILE_TYPES:
        raise InvalidInput("invalid_options", f"{what} file_type={file_type!r}; accepted: {', '.join(FILE_TYPES)}")
    return file_type  # type: ignore[return-value]


def check_quality(file_type: object, quality: object, what: str) -> int | None:
    """An accepted `quality` for `file_type`: None, or a whole number 1..100 for jpg and webp.

    Raises
    ------
    InvalidInput (``invalid_options``).
    """
    if quality is None:
        return None
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise InvalidInput("invalid_options", f"{what} quality={quality!r}; accepted: a whole number from 1 to 100, "
                           "or None (jpg: 90; webp: lossless)")
    if file_type not in LOSSY:
        raise InvalidInput("invalid_options", f"{what} quality={quality!r} with file_type={file_type!r}: {file_type} "
                           f"is lossless and takes no quality; quality applies to {', '.join(LOSSY)}")
    return quality


def check_mode(mode: object, what: str) -> str | None:
    """An accepted `mode`, or None (the data's own).

    Raises
    ------
    InvalidInput (``invalid_options``).
    """
    if mode is not None and mode not in MODES:
        raise InvalidInput("invalid_options", f"{what} mode={mode!r}; accepted: {', '.join(MODES)} or None")
    return mode  # type: ignore[return-value]


def check_mask_array(shape: tuple[int, ...], dtype: object, kind: str, what: str) -> None:
    """A mask array is 2-D (H, W) of integers (`kind` is numpy's dtype.kind).

    Raises
    ------
    InvalidInput (``invalid_mask``): naming the shape or the dtype.
    """
    if len(shape) != 2:
        raise InvalidInput("invalid_mask", f"{what} has shape {tuple(shape)}; accepted: a 2-D (H, W) integer array")
    if kind not in "biu":
        raise InvalidInput("invalid_mask", f"{what} has dtype {dtype}; accepted: {_MASK_IDS}")


def check_class_ids(low: int, high: int, what: str) -> None:
    """A mask's smallest and largest class ids lie in 0..255 (what a PNG mask holds, unchanged).

    Raises
    ------
    InvalidInput (``invalid_mask``).
    """
    if low < 0 or high > 255:
        raise InvalidInput("invalid_mask", f"{what} has values {low}..{high}; accepted: 0..255")
