"""Video files browsers cannot play, transcoded to H.264 in MP4 for viewing; the original kept beside it.

A logged video file is stored as given when a browser plays it (H.264, VP8,
VP9 or AV1 in MP4, MOV or WebM; GIF; Theora in Ogg).  Any other codec
(HEVC, MPEG-4 Part 2, MPEG-2, Motion JPEG, ProRes, ...) or container (AVI,
MKV, FLV, ...) would show as a broken player in the viewer, so
`video_file.probe_file` hands it here once it has been checked and bounded:
its frames are decoded one at a time and encoded with the video converter's
own H.264 settings, and the file as logged becomes the related file
``original`` (the manifest's ``related``), byte for byte.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np

from darkroom.workers.converters import Output, RelatedOutput
from darkroom.workers.converters.video import ENCODERS, encode

# What browsers play, by container and by codec (FFmpeg's names).
PLAYABLE_CONTAINERS = frozenset({"mp4", "m4v", "mov", "webm", "ogg", "ogv", "gif"})
PLAYABLE_CODECS = frozenset({"h264", "vp8", "vp9", "av1", "theora", "gif"})


def needs_transcode(fmt: str, codec: str) -> bool:
    """True when a browser would not play a file of this container and video codec."""
    return fmt not in PLAYABLE_CONTAINERS or codec not in PLAYABLE_CODECS


class _DecodedClip:
    """The frames of a file's first video stream as the encoder asks for them, in order, padded to one size."""

    def __init__(self, av: Any, data: bytes, frames: int, width: int, height: int):
        self.frames = frames
        self.width, self.height = width + width % 2, height + height % 2  # yuv420p needs even sizes
        self._container = av.open(io.BytesIO(data), mode="r", metadata_errors="replace")
        self._frames: Iterator[Any] = self._container.decode(self._container.streams.video[0])
        self._planes = np.zeros((3, self.height, self.width), np.uint8)
        self._next = 0

    def planes(self, t: int) -> np.ndarray:
        """Frame `t` as (3, height, width) R, G, B planes (frames are asked for in order, once each)."""
        if t != self._next:
            raise RuntimeError(f"frame {t} asked for after frame {self._next - 1}: a transcode reads in order")
        self._next += 1
        rgb = next(self._frames).to_ndarray(format="rgb24")
        self._planes[...] = 0
        self._planes[:, : rgb.shape[0], : rgb.shape[1]] = np.moveaxis(rgb, -1, 0)
        return self._planes

    def close(self) -> None:
        self._container.close()


def transcode(av: Any, original: Output, fps: float) -> Output:
    """The original file's `Output` as an H.264 MP4 for viewing, the file as given kept as ``original``.

    `original` is what `probe_file` measured (frames, width, height: already
    decoded once and bounded).
    """
    m = original.measurements
    clip = _DecodedClip(av, original.data, int(m["frames"]), int(m["width"]), int(m["height"]))
    try:
        data, codec = encode(av, ENCODERS["mp4"], clip, fps if fps > 0 else 25.0)
    finally:
        clip.close()
    source = f"{m['codec']} in {original.format}"
    warnings = [w for w in original.warnings if not w.startswith("stored as given")]
    warnings.append(f"transcoded from {source} to H.264 in MP4, which browsers play; the file as logged is kept "
                    "as the related file 'original'")
    padded = (clip.width, clip.height) != (m["width"], m["height"])
    if padded:
        warnings.append(f"frames padded from {m['width']}x{m['height']} to {clip.width}x{clip.height} (WxH) with "
                        "black: H.264 in yuv420p needs even sizes")
    return Output(
        data=data, format="mp4", media_type="video/mp4",
        measurements={**m, "width": clip.width, "height": clip.height, "codec": codec, "container": "mp4",
                      "original_codec": m["codec"], "original_container": m["container"]},
        warnings=warnings,
        related=[RelatedOutput(role="original", data=original.data, format=original.format,
                               media_type=original.media_type)],
    )
