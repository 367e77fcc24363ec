"""Which numpy shapes are videos, and the formats and frame rates an array is written at (MEDIA_TYPES.md, Video).

One rule, used twice: the SDK applies it at construction (a cheap check on the
caller's thread) and the worker applies it again, because workers never trust
a message.  `what` names the argument in the message ("Video data" in the SDK,
"video array" in the worker).
"""

from __future__ import annotations

from darkroom.pipeline.errors import InvalidInput

ACCEPTED_SHAPES = "(T,C,H,W) or (B,T,C,H,W) with C (channels) in 1, 3, 4"
# An array's output formats, with the media type each is stored and served with.
MEDIA_TYPES = {"gif": "image/gif", "mp4": "video/mp4", "webm": "video/webm", "ogg": "video/ogg"}
DEFAULT_FORMAT = "gif"
DEFAULT_FPS = 4
# A frame per 100 s to 1000 frames a second: GIF delays are whole 1/100 s up
# to 655 s, and MP4 and WebM take any rate in that range.
MIN_FPS, MAX_FPS = 0.01, 1000.0
_CHANNELS = (1, 3, 4)


def video_layout(shape: tuple[int, ...], what: str) -> tuple[int, int, int, int, int]:
    """(B, T, C, H, W) of an accepted array shape (B = 1 for a 4-D array).

    Raises
    ------
    InvalidInput (``invalid_shape``): the shape and the accepted ones; a hint
        for a channels-last array.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (4, 5) or shape[-3] not in _CHANNELS:
        hint = ""
        if len(shape) in (4, 5) and shape[-1] in _CHANNELS:
            hint = "; a channels-last (..., H, W, C) array needs np.moveaxis(a, -1, -3)"
        raise InvalidInput("invalid_shape", f"{what} has shape {shape}; accepted: {ACCEPTED_SHAPES}{hint}")
    if 0 in shape:
        raise InvalidInput("invalid_shape", f"{what} of shape {shape} is empty; accepted: {ACCEPTED_SHAPES}, "
                           "every axis at least 1")
    return (1, *shape) if len(shape) == 4 else shape  # type: ignore[return-value]
