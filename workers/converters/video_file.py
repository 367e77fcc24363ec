"""Video files: probed with PyAV, bounded from the container, decoded to the end, stored as given.

A file is not trusted: its first video stream must decode.  The frame count
and frame size the container claims are bounded before anything is decoded,
and the decoded frames are counted against the same bounds (a container may
claim nothing, or lie).  The artifact is the file's own bytes, named by the
container FFmpeg found in it, not by its name, when browsers play it; else
an H.264 MP4 made from it, the file kept beside it (video_transcode.py).
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import Output, Payload
from darkroom.workers.converters.video import VideoOptions, check_bounds, number
from darkroom.workers.converters.video_transcode import needs_transcode, transcode

ACCEPTED = "a video file: mp4, webm, ogg/ogv, gif, or another container FFmpeg decodes (mov, mkv, avi, ...)"
# What browsers play in a <video> or <img> element.
PLAYABLE = frozenset({"mp4", "m4v", "mov", "webm", "ogg", "ogv", "gif"})
MEDIA_TYPES = {
    "mp4": "video/mp4", "m4v": "video/mp4", "mov": "video/quicktime", "webm": "video/webm",
    "mkv": "video/x-matroska", "ogg": "video/ogg", "ogv": "video/ogg", "gif": "image/gif",
    "avi": "video/x-msvideo", "flv": "video/x-flv", "mpeg": "video/mpeg", "ts": "video/mp2t",
}
# Other names of one container: a .ogv file holding Ogg is what its name says.
_ALIASES = {"ogv": "ogg", "m4v": "mp4", "mpg": "mpeg"}


def probe_file(av: Any, payload: Payload, options: VideoOptions, limits: Limits) -> Output:
    """Check that `payload` is a video within the bounds; return it unchanged with its measurements.

    Raises
    ------
    InvalidInput: empty, not a video, a still image, truncated before its
        first frame, or over a bound (named with its variable).
    """
    data = payload.data
    if not data:
        raise InvalidInput("unreadable_file", f"video file is empty (0 bytes); accepted: {ACCEPTED}")
    try:
        # Tags are not ours to judge: bytes that are not UTF-8 must not fail the file.
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="replace")
    except av.error.FFmpegError:
        raise InvalidInput(
            "unreadable_file",
            f"video file is not a video PyAV can read ({len(data)} bytes, starts {data[:8]!r}); accepted: {ACCEPTED}",
        ) from None
    with container:
        found = container.format.name
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise InvalidInput("not_video", f"file ({found}) holds no video stream (found: {', '.join(kinds)}); "
                               f"accepted: {ACCEPTED}")
        if found.endswith("_pipe") or found.startswith("image2"):
            raise InvalidInput("not_video", f"file is a still image ({found}), not a video; accepted: {ACCEPTED}; "
                               "log a still image with darkroom.Image")
        stream = container.streams.video[0]
        if stream.codec_context is None:  # a stream FFmpeg found but has no decoder for
            raise InvalidInput("unsupported_codec", f"video file ({found}): its video codec has no decoder in "
                               f"this PyAV build; accepted: {ACCEPTED}")
        fmt = _file_format(container, payload.ext, options.format)
        what = f"video file ({fmt}, {stream.codec_context.name})"
        rate = stream.average_rate or stream.guessed_rate
        claimed = _claimed_frames(container, stream, rate)
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        check_bounds(claimed or 1, max(width, 1), max(height, 1), limits, what)
        frames, width, height, last = _decode_all(av, container, stream, limits, what)
        duration = _duration(container, stream, last, frames, rate)
        others = len(container.streams) - 1
        codec = stream.codec_context.name
    warnings = _declared_warnings(payload.ext, options, fmt, found)
    if others:
        warnings.append(f"the file also holds {others} other streams; the first video stream was measured, "
                        "the file is stored whole")
    if claimed and frames < claimed:
        warnings.append(f"the container claims {claimed} frames but {frames} decode (a truncated file?); "
                        "stored as given")
    if fmt not in PLAYABLE:
        warnings.append(f"stored as given ({fmt}): browsers may not play it; mp4, webm or gif play everywhere")
    fps = float(rate) if rate else (frames / duration if duration else 0.0)
    output = Output(
        data=data, format=fmt, media_type=MEDIA_TYPES.get(fmt, "application/octet-stream"),
        measurements={"width": width, "height": height, "frames": frames, "fps": number(round(fps, 3)),
                      "duration": round(duration, 6), "codec": codec, "container": found},
        warnings=warnings,
    )
    if needs_transcode(fmt, codec):
        return transcode(av, output, fps)
    return output


def _decode_all(av: Any, container: Any, stream: Any, limits: Limits, what: str) -> tuple[int, int, int, float]:
    """Decode every frame of `stream`, bounding as it goes: (frames, width, height, end time in s)."""
    frames = width = height = 0
    end = 0.0
    try:
        for frame in container.decode(stream):
            frames += 1
            width, height = max(width, frame.width), max(height, frame.height)
            # The largest frame so far stands for every frame: frames x it >= the pixels decoded.
            check_bounds(frames, width, height, limits, what)
            if frame.pts is not None and frame.time_base is not None:
                end = max(end, float((frame.pts + (frame.duration or 0)) * frame.time_base))
    except av.error.FFmpegError as e:
        if frames == 0:
            raise InvalidInput("corrupt_file", f"{what} is truncated or corrupt before its first frame: {e}") from None
        raise InvalidInput("corrupt_file", f"{what} is corrupt after {frames} frames: {e}") from None
    if frames == 0:
        raise InvalidInput("corrupt_file", f"{what} holds no decodable frame; accepted: {ACCEPTED}")
    return frames, width, height, end


def _claimed_frames(container: Any, stream: Any, rate: Any) -> int:
    """The frame count the container claims (0 if it says nothing), for the bound before decoding."""
    if stream.frames:
        return int(stream.frames)
    seconds = None
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None and container.duration > 0:
        seconds = container.duration / 1_000_000  # container.duration is in microseconds
    if seconds is None or not rate or not math.isfinite(seconds) or seconds <= 0:
        return 0
    return math.ceil(seconds * float(rate))


def _duration(container: Any, stream: Any, end: float, frames: int, rate: Any) -> float:
    """Seconds: the stream's, else the container's, else the decoded frames' end, else frames / rate."""
    for seconds in (
        float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None,
        container.duration / 1_000_000 if container.duration and container.duration > 0 else None,
        end or None,
        frames / float(rate) if rate else None,
    ):
        if seconds is not None and math.isfinite(seconds) and seconds > 0:
            return seconds
    return 0.0


def _file_format(container: Any, ext: str, declared: str | None) -> str:
    """The stored file's extension: the declared one if the container is of that kind, else its own."""
    extensions = set(container.format.extensions or ())
    names = container.format.name.split(",")
    for name in (declared, ext):
        if name and (name in extensions or name in names or _ALIASES.get(name) in names):
            return name
    if "mp4" in names or "mov" in names:
        return "mp4"
    if "matroska" in names:
        codec = container.streams.video[0].codec_context.name
        return "webm" if codec in ("vp8", "vp9", "av1") else "mkv"
    return re.sub(r"[^a-z0-9]", "", names[0].lower())[:10] or "bin"


def _declared_warnings(ext: str, options: VideoOptions, fmt: str, found: str) -> list[str]:
    warnings = []
    declared = options.format or (ext if ext != "bin" else None)
    if declared and declared != fmt:
        given = f"format={options.format!r}" if options.format else f"a .{ext} file"
        warnings.append(f"{given} was given, but it holds a {found} container; stored as {fmt}")
    if options.fps is not None:
        warnings.append(f"fps={options.fps:g} ignored: a file keeps its own frame rate")
    return warnings
