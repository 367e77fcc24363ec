"""Stored images as the frames of one video: `darkroom export-video` (sdk/_cli_transfer.py) encodes them here.

The images are decoded one at a time, as the encoder asks for each frame,
and padded with black at the right and bottom to the largest width and
height among them (rounded up to even sizes for H.264 and VP9 in yuv420p),
so a clip is never held whole.  The encoder is the video converter's
(`darkroom.workers.converters.video.encode`): the same codecs and settings
as a logged `darkroom.Video`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from darkroom.pipeline.errors import InvalidInput
from darkroom.workers.converters.video import ENCODERS, encode, pyav

# What OUT's extension asks for: the video converter's formats.
FORMATS = {".mp4": "mp4", ".webm": "webm", ".gif": "gif"}
_PREFETCH = 16


class FrameFiles:
    """A clip (the interface `video.encode` reads) whose frames are image files fetched and decoded on demand.

    Parameters
    ----------
    fetch: reads the bytes of a list of frames' files (side by side: storage round trips).
    sizes: (width, height) of each frame, from its manifest: the padded size is known before any decode.
    """

    def __init__(self, fetch: Callable[[Sequence[int]], list[bytes]], sizes: Sequence[tuple[int, int]], even: bool):
        self.fetch, self.frames = fetch, len(sizes)
        width, height = max(w for w, _ in sizes), max(h for _, h in sizes)
        self.width, self.height = (width + width % 2, height + height % 2) if even else (width, height)
        self._planes = np.zeros((3, self.height, self.width), np.uint8)
        self._rgb = np.zeros((self.height, self.width, 3), np.uint8)
        self._cache: dict[int, bytes] = {}

    def planes(self, t: int) -> np.ndarray:
        """Frame `t` as (3, height, width) R, G, B planes, padded with black."""
        rgb = self.rgb(t)
        np.copyto(self._planes, np.moveaxis(rgb, -1, 0))
        return self._planes

    def rgb(self, t: int) -> np.ndarray:
        """Frame `t` as (height, width, 3), padded with black."""
        from PIL import Image

        if t not in self._cache:
            wanted = list(range(t, min(t + _PREFETCH, self.frames)))
            self._cache = dict(zip(wanted, self.fetch(wanted)))
        try:
            image = Image.open(io.BytesIO(self._cache.pop(t)))
            image = image.convert("RGB")
        except Exception as e:  # Pillow's errors for a file it cannot read are of many types
            raise InvalidInput("corrupt_file", f"frame {t}: the stored image could not be decoded ({e})") from None
        pixels = np.asarray(image)
        self._rgb[...] = 0
        self._rgb[: pixels.shape[0], : pixels.shape[1]] = pixels[: self.height, : self.width]
        return self._rgb


def write_video(out: Path, fps: float, fetch: Callable[[Sequence[int]], list[bytes]],
                sizes: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """Encode the frames into `out` (format by its extension); return its measurements.

    Written as ``<out>.part`` and renamed once whole.

    Raises
    ------
    InvalidInput: an extension that is not a format, no frames, or a frame that cannot be decoded.
    OSError: `out` cannot be written.
    """
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise InvalidInput("invalid_option", f"OUT {str(out)!r}: the extension {out.suffix!r} is not a video "
                           f"format; accepted: {', '.join(FORMATS)}")
    if not sizes:
        raise InvalidInput("no_frames", "there are no frames to encode")
    clip = FrameFiles(fetch, sizes, even=fmt != "gif")
    data, codec = encode(pyav(), ENCODERS[fmt], clip, fps)
    part = out.with_name(out.name + ".part")
    part.write_bytes(data)
    part.replace(out)
    return {"file": str(out), "format": fmt, "codec": codec, "frames": clip.frames, "width": clip.width,
            "height": clip.height, "fps": fps, "bytes": len(data)}
