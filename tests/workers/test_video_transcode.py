"""Video files browsers cannot play (HEVC, MPEG-4 Part 2, AVI) become H.264 MP4s, the original kept beside them."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import darkroom
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload
from darkroom.workers.converters.video import CONVERTER, VideoOptions

FRAMES, WIDTH, HEIGHT = 8, 63, 48  # an odd width: H.264 in yuv420p needs it padded


def colour(t: int) -> np.ndarray:
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    frame[..., 0] = 25 * t
    frame[: HEIGHT // 2, :, 2] = 200
    return frame


def made(container: str, codec: str) -> bytes:
    buf = io.BytesIO()
    width = WIDTH + 1 if codec in ("libx265", "libx264") else WIDTH  # these encoders refuse odd sizes
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = width, HEIGHT, "yuv420p"
        for t in range(FRAMES):
            picture = np.zeros((HEIGHT, width, 3), np.uint8)
            picture[:, :WIDTH] = colour(t)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = t
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def convert(data: bytes, ext: str) -> Output:
    return CONVERTER.convert(ItemInput(Payload(data, "application/octet-stream", ext)), VideoOptions(), Limits())


def decoded(data: bytes) -> tuple[str, list[np.ndarray]]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name, [f.to_ndarray(format="rgb24") for f in container.decode(stream)]


@pytest.mark.parametrize("container, codec, ext, named", [("mp4", "libx265", "mp4", "hevc in mp4"),
                                                         ("avi", "mpeg4", "avi", "mpeg4 in avi")])
def test_an_unplayable_file_is_transcoded_to_h264_and_kept_byte_for_byte(container: str, codec: str, ext: str,
                                                                          named: str) -> None:
    data = made(container, codec)
    output = convert(data, ext)
    assert (output.format, output.media_type) == ("mp4", "video/mp4")
    assert [(r.role, r.format, r.data) for r in output.related] == [("original", ext, data)]
    m = output.measurements
    assert (m["codec"], m["container"], m["frames"], m["fps"]) == ("h264", "mp4", FRAMES, 10)
    assert m["original_codec"] == codec.removeprefix("lib").replace("x265", "hevc")
    assert f"transcoded from {named} to H.264 in MP4, which browsers play" in output.warnings[0]
    found, frames = decoded(output.data)
    assert found == "h264" and len(frames) == FRAMES
    for t, frame in enumerate(frames):
        assert frame.shape[:2] == (m["height"], m["width"]) and m["width"] % 2 == 0
        assert abs(int(frame[HEIGHT * 3 // 4, 20, 0]) - 25 * t) <= 12, t  # two lossy encodes
        assert frame[HEIGHT // 4, 20, 2] > 150


@pytest.mark.parametrize("container, codec", [("mp4", "libx264"), ("webm", "libvpx-vp9")])
def test_a_playable_file_is_stored_as_given(container: str, codec: str) -> None:
    data = made(container, codec)
    output = convert(data, container)
    assert output.data == data and output.related == [] and output.format == container


def test_a_logged_hevc_file_is_viewable_and_its_original_readable(embedded_env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(made("mp4", "libx265"))
    run = darkroom.init(project="videos")
    run.log({"clip": darkroom.Video(str(path))})
    assert run.finish(quiet=True).converted == 1
    reader = darkroom.Api().run(run.path)
    (m,) = reader.manifests()
    assert (m["artifact"]["format"], m["artifact"]["codec"], m["artifact"]["original_codec"]) == ("mp4", "h264", "hevc")
    assert reader.read(m, role="original") == path.read_bytes()
    assert decoded(reader.read(m))[0] == "h264"
