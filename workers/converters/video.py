"""Videos: (T,C,H,W) and (B,T,C,H,W) arrays encoded to GIF, MP4, WebM or Ogg; video files probed and kept.

The rules are MEDIA_TYPES.md's Video section.  An array's frames are built
one at a time (tiled, gray expanded, padded) into one reused buffer and
streamed to PyAV's encoder, so a clip is held once, as its normalised uint8
array.  A file goes to workers/converters/video_file.py.
"""

from __future__ import annotations

import dataclasses
import io
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.optional import optional_import
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.video_layout import DEFAULT_FORMAT, DEFAULT_FPS, MAX_FPS, MEDIA_TYPES, MIN_FPS, video_layout
from darkroom.workers.converters import Converter, ItemInput, Output, Payload
from darkroom.workers.converters.image import to_uint8
from darkroom.workers.payloads import NPY_MEDIA_TYPE, load_npy

# 2: a file browsers cannot play (HEVC, MPEG-4 Part 2, AVI, ...) is transcoded to H.264, the original kept.
VERSION = "2"
# Browsers show a GIF delay under 2/100 s as 1/10 s (Chrome, Firefox, Safari).
GIF_MAX_FPS = 50


@dataclasses.dataclass(frozen=True)
class Encoder:
    """How one output format is written: PyAV muxer, codec, pixel format and codec options."""

    container: str
    codec: str
    pix_fmt: str
    options: dict[str, str]


# Measured on 64 frames of 128x128 (STACK_NOTES.md, bench/video.py).  libx264:
# preset veryfast is half the time of the default (medium) at the same size and
# PSNR.  VP9: the default (good, cpu-used 0) takes ~3 s; realtime with
# cpu-used 8 and row-mt ~0.05 s, and crf 30 with b=0 (constant quality)
# instead of libvpx's default 256 kbit/s target.  VP8 wants a ceiling with crf.
ENCODERS = {
    "mp4": Encoder("mp4", "libx264", "yuv420p", {"preset": "veryfast", "crf": "23"}),
    "webm": Encoder("webm", "libvpx-vp9", "yuv420p",
                    {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": "30", "b": "0"}),
    "ogg": Encoder("ogg", "libvpx", "yuv420p", {"deadline": "realtime", "cpu-used": "8", "crf": "10", "b": "2M"}),
    "gif": Encoder("gif", "gif", "pal8", {}),
}
# Ogg's own video codec, when the PyAV build has it (PyAV 18's wheels do not).
THEORA = Encoder("ogg", "libtheora", "yuv420p", {"b": "2M"})


class VideoOptions(BaseModel):
    """Options that change the artifact (and so its content address)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # For arrays the output format (None: gif); for files what the caller said the file is.
    format: Literal["gif", "mp4", "webm", "ogg"] | None = None
    # For arrays (None: 4); a file keeps its own rate.
    fps: float | None = Field(default=None, ge=MIN_FPS, le=MAX_FPS, allow_inf_nan=False)


def convert(item: ItemInput, options: VideoOptions, limits: Limits) -> Output:
    """Convert one video item: an array is encoded, a file is probed and kept as given.

    Raises
    ------
    InvalidInput: the payload is not an acceptable video, or exceeds a bound; the
        message says what was wrong, what is accepted and which setting bounds it.
    """
    av = pyav()
    if item.payload.media_type == NPY_MEDIA_TYPE:
        return _from_array(av, item.payload, options, limits)
    from darkroom.workers.converters.video_file import probe_file

    return probe_file(av, item.payload, options, limits)


# -- arrays -------------------------------------------------------------------------


def _from_array(av: Any, payload: Payload, options: VideoOptions, limits: Limits) -> Output:
    fmt = options.format or DEFAULT_FORMAT
    fps = options.fps or DEFAULT_FPS
    # load_npy bounds the bytes and returns a view: nothing is allocated before the checks below.
    array = load_npy(payload.data, limits.max_payload_bytes)
    batch, frames, channels, height, width = video_layout(array.shape, "video array")
    rows, cols = grid(batch)
    out_h, out_w = rows * height, cols * width
    warnings: list[str] = []
    if fmt == "mp4" and (out_h % 2 or out_w % 2):
        warnings.append(f"frames padded from {out_w}x{out_h} to {out_w + out_w % 2}x{out_h + out_h % 2} "
                        "(WxH) with black: H.264 in yuv420p needs even sizes")
        out_h, out_w = out_h + out_h % 2, out_w + out_w % 2
    check_bounds(frames, out_w, out_h, limits, "video array")
    if rows * cols > batch:
        warnings.append(f"{batch} videos tiled in a {rows}x{cols} grid (rows x columns) padded with "
                        f"{rows * cols - batch} black videos to a power of two")
    pixels = to_uint8(array, True, warnings, "video")
    clip = TiledClip(pixels.reshape(batch, frames, channels, height, width), rows, cols, out_h, out_w)
    if channels == 4:
        warnings.append(f"alpha channel dropped: {fmt} video is written without one")
    if fmt == "gif" and fps > GIF_MAX_FPS:
        warnings.append(f"fps={fps:g} in a GIF: delays are whole 1/100 s and browsers show delays under "
                        f"2/100 s as 1/10 s, so it may play at about 10 fps; mp4 or webm keep the rate")
    encoder = ENCODERS[fmt]
    if fmt == "ogg":
        encoder = THEORA if THEORA.codec in av.codecs_available else encoder
        warnings.append(f"ogg video ({_codec_label(encoder.codec)} in Ogg): browsers may not play it; "
                        "webm is the portable choice")
    data, codec = encode(av, encoder, clip, fps)
    return Output(
        data=data, format=fmt, media_type=MEDIA_TYPES[fmt],
        measurements={"width": out_w, "height": out_h, "frames": frames, "fps": number(fps),
                      "duration": round(frames / fps, 6), "codec": codec, "container": encoder.container},
        warnings=warnings,
    )


def grid(batch: int) -> tuple[int, int]:
    """(rows, columns) for a batch: padded to a power of two, rows = 2**((B.bit_length()-1)//2).

    W&B's (and TensorBoard's) layout: 16 videos make a 4x4 grid, 3 a 1x4 grid
    with one black video.
    """
    rows = 2 ** ((batch.bit_length() - 1) // 2)
    padded = batch if batch & (batch - 1) == 0 else 2 ** batch.bit_length()
    return rows, padded // rows


def check_bounds(frames: int, width: int, height: int, limits: Limits, what: str) -> None:
    """Refuse a clip over the frame, frame-size or total-pixel bound (before anything is decoded)."""
    if frames > limits.max_video_frames:
        raise InvalidInput(
            "too_large",
            f"{what} has {frames} frames; the bound is {limits.max_video_frames} (DARKROOM_MAX_VIDEO_FRAMES)",
        )
    if width * height > limits.max_pixels:
        raise InvalidInput(
            "too_large",
            f"{what} frames of {width}x{height} = {width * height} pixels exceed the bound of "
            f"{limits.max_pixels} pixels a frame (DARKROOM_MAX_PIXELS)",
        )
    if frames * width * height > limits.max_video_pixels:
        raise InvalidInput(
            "too_large",
            f"{what} of {frames} frames of {width}x{height} = {frames * width * height} pixels exceeds the "
            f"bound of {limits.max_video_pixels} (DARKROOM_MAX_VIDEO_PIXELS: frames x height x width)",
        )


class TiledClip:
    """The frames of a (B,T,C,H,W) uint8 array, tiled into one picture each, built one at a time.

    Videos are tiled row by row into the grid; missing tiles and padding stay
    black; one channel becomes gray RGB; a fourth (alpha) is left out.  A
    frame returned is a view of the array or a reused buffer: use it before
    asking for the next.
    """

    def __init__(self, video: np.ndarray, rows: int, cols: int, height: int, width: int):
        batch, self.frames, self.channels, tile_h, tile_w = video.shape
        self.video, self.rows, self.cols, self.height, self.width = video, rows, cols, height, width
        alone = rows * cols == 1 and (tile_h, tile_w) == (height, width)
        self._tiles = None if alone else np.zeros((rows * cols, 3, tile_h, tile_w), np.uint8)
        padded = (rows * tile_h, cols * tile_w) != (height, width)
        self._out = np.zeros((3, height, width), np.uint8) if padded else None
        self._rgb = np.empty((height, width, 3), np.uint8)

    def planes(self, t: int) -> np.ndarray:
        """Frame `t` as (3, height, width) R, G, B planes."""
        source = self.video[:, t, : 1 if self.channels == 1 else 3]
        if self._tiles is None:  # one video, not padded: the array itself
            return np.broadcast_to(source[0], (3, self.height, self.width))
        self._tiles[: len(source)] = source  # one channel broadcasts to three: gray
        _, _, tile_h, tile_w = self._tiles.shape
        tiled = (self._tiles.reshape(self.rows, self.cols, 3, tile_h, tile_w).transpose(2, 0, 3, 1, 4)
                 .reshape(3, self.rows * tile_h, self.cols * tile_w))
        if self._out is None:
            return tiled
        self._out[:, : tiled.shape[1], : tiled.shape[2]] = tiled
        return self._out

    def rgb(self, t: int) -> np.ndarray:
        """Frame `t` as (height, width, 3) packed RGB."""
        np.copyto(self._rgb, np.moveaxis(self.planes(t), 0, -1))
        return self._rgb


# -- encoding ------------------------------------------------------------------------


def encode(av: Any, encoder: Encoder, clip: TiledClip, fps: float) -> tuple[bytes, str]:
    """Stream the clip's frames into `encoder` in memory; return (file bytes, codec name)."""
    width, height = clip.width, clip.height
    if encoder.pix_fmt == "pal8":
        from darkroom.workers.converters.gif_palette import clip_palette

        palette = clip_palette(clip.rgb, clip.frames)
        table = palette.argb()

        def make(t: int) -> Any:
            return av.VideoFrame.from_ndarray((palette.indices(clip.rgb(t)), table), format="pal8")
    else:
        def make(t: int) -> Any:
            # Planar G, B, R straight from the (C,H,W) layout: no packed RGB copy (a third
            # of the time of from_ndarray's rgb24 path, and swscale converts gbrp faster).
            planes = clip.planes(t)
            frame = av.VideoFrame(width, height, "gbrp")
            for plane, channel in zip(frame.planes, (1, 2, 0)):
                view = np.ndarray((height, width), np.uint8, buffer=plane, strides=(plane.line_size, 1))
                view[...] = planes[channel]
            return frame

    buf = io.BytesIO()
    # mp4's movflags=+faststart (index first) would need to reopen the output by name: not with BytesIO.
    with av.open(buf, "w", format=encoder.container) as out:
        stream = out.add_stream(encoder.codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, encoder.pix_fmt
        stream.options = dict(encoder.options)
        if encoder.pix_fmt == "yuv420p":
            # swscale converts RGB with the BT.601 matrix to limited range: say so in the stream,
            # or players guess (browsers take BT.709 for HD sizes, shifting the colours).
            from av.video.reformatter import ColorRange, Colorspace

            stream.codec_context.colorspace = Colorspace.ITU601
            stream.codec_context.color_range = ColorRange.MPEG
        for t in range(clip.frames):
            frame = make(t)
            frame.pts = t
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        codec = stream.codec_context.codec.name
    return buf.getvalue(), _codec_label(codec)


def _codec_label(codec: str) -> str:
    """The codec's common name (FFmpeg's decoder name), not the encoder library's."""
    return {"libx264": "h264", "libvpx-vp9": "vp9", "libvpx": "vp8", "libtheora": "theora"}.get(codec, codec)


def number(value: float) -> float | int:
    """An integral float as an int (4, not 4.0, in the manifest)."""
    return int(value) if float(value).is_integer() else value


def pyav() -> Any:
    av = optional_import("av", "video needs PyAV", "video")
    av.logging.set_level(av.logging.ERROR)
    return av


CONVERTER = Converter(name="video", version=VERSION, options_model=VideoOptions, convert=convert)
