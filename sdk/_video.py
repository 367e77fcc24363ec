"""`darkroom.Video`: frame arrays and tensors, video files and file objects."""

from __future__ import annotations

import math
import numbers
from typing import Any

from darkroom._media import ArraySnapshot, Media, array_from, binary_file_object, file_from
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.video_layout import (
    ACCEPTED_SHAPES,
    DEFAULT_FORMAT,
    DEFAULT_FPS,
    MAX_FPS,
    MEDIA_TYPES,
    MIN_FPS,
    video_layout,
)

_FORMATS = tuple(MEDIA_TYPES)
_ACCEPTED_DATA = (
    f"a numpy array {ACCEPTED_SHAPES}, a torch tensor, a nested list, a path to a video file, "
    "or a binary file object (io.BytesIO)"
)


class Video(Media):
    """A video to log.

    Parameters
    ----------
    data: a numpy array (T,C,H,W), or (B,T,C,H,W) for a batch tiled into a
        grid, with C in 1 (gray), 3 (RGB), 4 (RGBA; alpha is dropped); any
        numeric dtype, normalised like images; a torch tensor (read without
        importing torch); a nested list; a path to a video file; a binary file
        object (io.BytesIO).
    caption: text kept in the manifest.
    fps: frames per second of an array (default 4; 0.01 to 1000). A file keeps
        its own rate (a value given is recorded in the manifest's warnings).
    format: for arrays, the artifact's format: "gif" (default), "mp4" (H.264),
        "webm" (VP9) or "ogg". For a file, what its bytes are; the worker finds
        out anyway and stores the file as given.

    Raises
    ------
    TypeError, ValueError, FileNotFoundError: what was given and what is accepted.
    """

    kind = "video"

    def __init__(self, data: Any, caption: str | None = None, fps: float | None = None,
                 format: str | None = None):
        super().__init__(caption)
        if format is not None and format not in _FORMATS:
            raise ValueError(f"Video format={format!r}; accepted: {', '.join(_FORMATS)} "
                             f"(or None: {DEFAULT_FORMAT} for arrays)")
        rate = _fps(fps)
        if hasattr(data, "read"):
            self._payload = binary_file_object(data, format, MEDIA_TYPES, "Video")
            self._options = {"format": format, "fps": rate}
            return
        snap = file_from(data, "Video", "an existing video file (mp4, webm, ogg, gif, ...)")
        if snap is not None:
            self._payload = snap
            self._options = {"format": format, "fps": rate}
            return
        array = array_from(data, "Video")
        if array is None:
            raise TypeError(f"Video got {type(data).__name__}; accepted: {_ACCEPTED_DATA}")
        try:  # the worker's rule (darkroom.pipeline.video_layout), raised as the caller's ValueError
            video_layout(array.shape, "Video data")
        except InvalidInput as e:
            raise ValueError(e.message) from None
        self._payload = ArraySnapshot(array)
        self._options = {"format": format or DEFAULT_FORMAT, "fps": DEFAULT_FPS if rate is None else rate}


def _fps(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Video fps must be a number; got {type(value).__name__} {value!r}")
    if not (math.isfinite(float(value)) and MIN_FPS <= float(value) <= MAX_FPS):
        raise ValueError(f"Video fps={value!r}; accepted: {MIN_FPS:g} to {MAX_FPS:g} frames per second")
    return int(value) if float(value).is_integer() else float(value)
