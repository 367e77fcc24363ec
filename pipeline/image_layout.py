"""Which numpy shapes are images, and how to read them (MEDIA_TYPES.md, Image).

One rule, used twice: the SDK applies it at construction (a cheap check on the
caller's thread) and the worker applies it again, because workers never trust
a message.
"""

from __future__ import annotations

from darkroom.pipeline.errors import InvalidInput

ACCEPTED = "(H,W), (H,W,1), (H,W,3), (H,W,4), or channels-first (1,H,W), (3,H,W), (4,H,W)"
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


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
