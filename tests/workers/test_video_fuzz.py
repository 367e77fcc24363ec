"""Fuzzing the video converter: an Output or an InvalidInput with a message, never another exception.

Bounded (50 examples each, tiny clips, low bounds) so the file runs in well
under a minute.  Where MEDIA_TYPES.md predicts the outcome (an accepted shape
with finite values converts, to as many frames as given; a GIF of at most 256
colours is lossless) the tests check the prediction too.
"""

from __future__ import annotations

import io
from typing import Any

import av
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload
from darkroom.workers.converters.image import to_uint8
from darkroom.workers.converters.video import VideoOptions, convert, grid

from converter_harness import (NPY, byte_flips, check_outcome, convert_request, damaged, file_item, fuzz_settings,
                               npy_bytes, npy_item, pixel_arrays, processed, put_raw, run_converter,
                               scratch_storage)

# Low enough that a corrupted header or file cannot make anything big.
LIMITS = Limits(max_pixels=20_000, max_payload_bytes=1 << 20, max_video_frames=40, max_video_pixels=200_000)
FUZZ = fuzz_settings(50)
DTYPES = ["bool", "uint8", "int16", "uint16", "int64", "float16", "float32", "float64"]
FORMATS = ["gif", "mp4", "webm", "ogg"]


def decoded_frames(output: Output) -> np.ndarray:
    if output.format == "gif":  # Pillow, not the FFmpeg that wrote it
        with Image.open(io.BytesIO(output.data)) as image:
            frames = []
            for index in range(image.n_frames):
                image.seek(index)
                frames.append(np.asarray(image.convert("RGB")))
        return np.stack(frames)
    with av.open(io.BytesIO(output.data)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def outcome(item: ItemInput, options: VideoOptions = VideoOptions()) -> Output | InvalidInput:
    """Run the converter (converter_harness.run_converter); an Output must be within the bounds."""
    result = run_converter(convert, item, options, LIMITS)
    if isinstance(result, Output):
        m = result.measurements
        assert m["frames"] >= 1 and m["width"] * m["height"] <= LIMITS.max_pixels
        assert m["frames"] <= LIMITS.max_video_frames
    return result


# -- arrays -------------------------------------------------------------------------------------

side, some = st.integers(1, 5), st.integers(0, 5)
channels = st.sampled_from([1, 3, 4])
shapes = st.one_of(  # half accepted shapes, half anything near them
    st.tuples(side, channels, side, side),
    st.tuples(side, st.integers(1, 3), channels, side, side),
    st.tuples(some, st.sampled_from([0, 2, 5, 6]), some, some),
    hnp.array_shapes(min_dims=0, max_dims=6, min_side=0, max_side=4),
)


def clips() -> st.SearchStrategy[np.ndarray]:
    return pixel_arrays(DTYPES, shapes)


options = st.builds(VideoOptions, format=st.sampled_from([None, *FORMATS]),
                    fps=st.one_of(st.none(), st.sampled_from([0.01, 1, 2.5, 4, 29.97, 60, 1000])))


def accepted(shape: tuple[int, ...]) -> bool:
    """MEDIA_TYPES.md's rule, restated: (T,C,H,W) or (B,T,C,H,W), C in 1, 3, 4, no empty axis."""
    return len(shape) in (4, 5) and shape[-3] in (1, 3, 4) and 0 not in shape


def frame_size(shape: tuple[int, ...], fmt: str) -> tuple[int, int]:
    rows, cols = grid(shape[0] if len(shape) == 5 else 1)
    height, width = rows * shape[-2], cols * shape[-1]
    return (height + height % 2, width + width % 2) if fmt == "mp4" else (height, width)


@FUZZ
@given(clip=clips(), opts=options)
def test_any_array_converts_to_its_frames_or_is_refused(clip: np.ndarray, opts: VideoOptions) -> None:
    result = outcome(npy_item(clip), opts)
    height, width = frame_size(clip.shape, opts.format or "gif") if accepted(clip.shape) else (0, 0)
    within = accepted(clip.shape) and clip.shape[-4] <= 40 and height * width <= LIMITS.max_pixels
    finite = clip.dtype.kind != "f" or bool(np.isfinite(clip).all())
    if not (within and finite):
        assert isinstance(result, InvalidInput), result
        return
    assert isinstance(result, Output), result
    frames = decoded_frames(result)
    assert frames.shape == (clip.shape[-4], height, width, 3)
    assert (result.measurements["width"], result.measurements["height"]) == (width, height)
    if result.format == "gif" and clip.ndim == 4:
        # At most 256 colours in 4-D clips of <= 5x5: lossless, and normalised as images are.
        expected = to_uint8(clip, True, [])[:, :3].transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(frames, np.broadcast_to(expected, frames.shape))


@FUZZ
@given(clip=clips(), cut=st.integers(0, 200), flips=byte_flips(4))
def test_truncated_or_damaged_npy_payloads_never_crash(clip: np.ndarray, cut: int,
                                                       flips: list[tuple[int, int]]) -> None:
    outcome(ItemInput(Payload(damaged(npy_bytes(clip), flips, cut), NPY, "npy")))


# -- files ---------------------------------------------------------------------------------------

MAGICS = [b"", b"\x00\x00\x00\x18ftypmp42", b"\x00\x00\x00\x20ftypisom", b"\x1a\x45\xdf\xa3", b"OggS\x00\x02",
          b"GIF89a", b"RIFF\x00\x00\x00\x00AVI ", b"\x00\x00\x01\xba", b"\x00\x00\x00\x01\x67", b"\x89PNG\r\n\x1a\n",
          b"FLV\x01"]
CODECS = {"mp4": "libx264", "webm": "libvpx-vp9", "ogg": "libvpx", "gif": "gif", "matroska": "libx264"}


def video_file(container: str, frames: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(CODECS[container], rate=5)
        stream.width, stream.height = 16, 12
        stream.pix_fmt = "rgb8" if container == "gif" else "yuv420p"
        for t in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (12, 16, 3), np.uint8), format="rgb24")
            frame.pts = t
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


@st.composite
def files(draw: st.DrawFn) -> tuple[str, bytes, int]:
    container = draw(st.sampled_from(sorted(CODECS)))
    frames = draw(st.integers(1, 6))
    return container, video_file(container, frames, draw(st.integers(0, 2**32 - 1))), frames


@FUZZ
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=3000), ext=st.sampled_from(["mp4", "webm", "bin"]))
def test_random_bytes_as_a_video_file_are_refused_or_measured(magic: bytes, body: bytes, ext: str) -> None:
    result = outcome(file_item(magic + body, ext))
    if isinstance(result, Output):
        assert kept_file(result) == magic + body


@FUZZ
@given(file=files(), opts=options)
def test_a_valid_video_file_is_kept_as_given_and_counted(file: tuple[str, bytes, int], opts: VideoOptions) -> None:
    container, data, frames = file
    result = outcome(file_item(data), opts)
    assert isinstance(result, Output), result
    assert kept_file(result) == data
    assert (result.measurements["frames"], result.measurements["width"], result.measurements["height"]) == (frames, 16, 12)


def kept_file(result: Output) -> bytes:
    """The file as logged: the artifact, or the related 'original' of a file transcoded for browsers."""
    originals = [r.data for r in result.related if r.role == "original"]
    if originals:
        assert result.format == "mp4" and result.measurements["codec"] == "h264"
        return originals[0]
    return result.data


@FUZZ
@given(file=files(), cut=st.integers(1, 2000), flips=byte_flips(6))
def test_truncated_or_damaged_video_files_never_crash(file: tuple[str, bytes, int], cut: int,
                                                     flips: list[tuple[int, int]]) -> None:
    outcome(file_item(damaged(file[1], flips, cut, keep=1)))


# -- process_request end to end -------------------------------------------------------------------


request_options = st.one_of(
    st.just({}), st.builds(lambda o: o.model_dump(), options),
    st.dictionaries(st.sampled_from(["format", "fps", "codec"]),
                    st.one_of(st.none(), st.integers(-5, 5000), st.floats(), st.text(max_size=5)), max_size=2),
)


@fuzz_settings(30)
@given(items=st.lists(st.one_of(clips(), st.binary(max_size=200)), min_size=1, max_size=3), opts=request_options)
def test_every_item_of_any_video_request_gets_an_ok_or_failed_manifest(items: list[Any], opts: dict) -> None:
    with scratch_storage() as storage:
        sources = [put_raw(storage, npy_bytes(v), "npy", NPY) if isinstance(v, np.ndarray)
                   else put_raw(storage, v, "mp4", "video/mp4") for v in items]
        request = convert_request("video", [{"index": i, "source": s} for i, s in enumerate(sources)], opts,
                                  step=0, key="v")
        for manifest in processed(storage, request, LIMITS):
            check_outcome(storage, manifest)
