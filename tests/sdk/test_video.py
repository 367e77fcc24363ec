"""darkroom.Video: what the constructor snapshots and what it refuses (MEDIA_TYPES.md, Video).

The constructor needs no run.  The last test logs every accepted form in one
embedded run and decodes the artifacts back.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image as PILImage

import darkroom
from tensor_doubles import Device, DuckTensor, GpuDuckTensor
from darkroom._media import ArraySnapshot, BytesSnapshot, FileSnapshot

SHAPES = "(T,C,H,W) or (B,T,C,H,W) with C (channels) in 1, 3, 4"



def mp4_bytes(frames: int = 4, size: tuple[int, int] = (16, 8), rate: int = 5) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for t in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 50 * t, np.uint8), format="rgb24")
            frame.pts = t
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


# -- arrays -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 1, 4, 5), (2, 3, 4, 5), (2, 4, 4, 5), (3, 2, 3, 4, 5)])
def test_every_accepted_shape_is_snapshotted_as_a_private_copy(shape):
    array = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    video = darkroom.Video(array)
    assert isinstance(video._payload, ArraySnapshot)
    kept = video._payload.array
    np.testing.assert_array_equal(kept, array)
    array[0] = -1  # the caller reuses its buffer after log()
    assert kept.min() >= 0
    assert video._options == {"format": "gif", "fps": 4}


def test_a_tensor_is_read_without_torch_and_copied():
    backing = np.zeros((2, 3, 4, 4), np.uint8)
    video = darkroom.Video(DuckTensor(backing), fps=8, format="mp4")
    backing[:] = 9
    assert video._payload.array.max() == 0
    assert video._options == {"format": "mp4", "fps": 8}


def test_a_gpu_tensor_is_copied_once_by_cpu_and_not_again():
    tensor = GpuDuckTensor(np.zeros((2, 3, 4, 4), np.uint8))
    video = darkroom.Video(tensor)
    assert video._payload.array is tensor.host.backing  # the host copy .cpu() made is the snapshot
    tensor.backing[:] = 9
    assert video._payload.array.max() == 0


def test_a_cpu_tensor_with_a_device_is_still_copied():
    tensor = DuckTensor(np.zeros((2, 3, 4, 4), np.uint8))
    tensor.device = Device("cpu")
    video = darkroom.Video(tensor)
    tensor.backing[:] = 9
    assert video._payload.array.max() == 0


def test_fps_may_be_fractional_or_a_numpy_number():
    assert darkroom.Video(np.zeros((1, 1, 2, 2)), fps=2.5)._options["fps"] == 2.5
    assert darkroom.Video(np.zeros((1, 1, 2, 2)), fps=np.int64(30))._options["fps"] == 30


@pytest.mark.parametrize("shape", [(4, 4), (2, 4, 4), (2, 2, 5, 5), (1, 1, 1, 3, 4, 4)])
def test_another_shape_is_refused_naming_it_and_the_accepted_ones(shape):
    with pytest.raises(ValueError) as info:
        darkroom.Video(np.zeros(shape))
    assert str(info.value) == f"Video data has shape {shape}; accepted: {SHAPES}"


def test_a_channels_last_array_is_refused_with_the_moveaxis_hint():
    with pytest.raises(ValueError) as info:
        darkroom.Video(np.zeros((10, 32, 32, 3), np.uint8))
    assert str(info.value) == (f"Video data has shape (10, 32, 32, 3); accepted: {SHAPES}; "
                               "a channels-last (..., H, W, C) array needs np.moveaxis(a, -1, -3)")


def test_an_empty_array_is_refused_as_empty():
    with pytest.raises(ValueError) as info:
        darkroom.Video(np.zeros((0, 3, 4, 4)))
    assert str(info.value) == f"Video data of shape (0, 3, 4, 4) is empty; accepted: {SHAPES}, every axis at least 1"


@pytest.mark.parametrize("fps, error, text", [
    (0, ValueError, "Video fps=0; accepted: 0.01 to 1000 frames per second"),
    (1001, ValueError, "Video fps=1001; accepted: 0.01 to 1000 frames per second"),
    (float("nan"), ValueError, "Video fps=nan; accepted: 0.01 to 1000 frames per second"),
    ("4", TypeError, "Video fps must be a number; got str '4'"),
    (True, TypeError, "Video fps must be a number; got bool True"),
])
def test_an_fps_out_of_range_or_not_a_number_is_refused(fps, error, text):
    with pytest.raises(error) as info:
        darkroom.Video(np.zeros((1, 3, 2, 2)), fps=fps)
    assert str(info.value) == text


@pytest.mark.parametrize("fmt", ["avi", "GIF", "mkv", 4])
def test_a_format_other_than_gif_mp4_webm_or_ogg_is_refused(fmt):
    with pytest.raises(ValueError) as info:
        darkroom.Video(np.zeros((1, 3, 2, 2)), format=fmt)
    assert str(info.value) == f"Video format={fmt!r}; accepted: gif, mp4, webm, ogg (or None: gif for arrays)"


def test_something_that_is_not_a_video_is_refused_listing_what_is_accepted():
    with pytest.raises(TypeError) as info:
        darkroom.Video(b"raw bytes")
    assert str(info.value) == (f"Video got bytes; accepted: a numpy array {SHAPES}, a torch tensor, a nested list, "
                               "a path to a video file, or a binary file object (io.BytesIO)")
    with pytest.raises(TypeError, match=r"^Video: array dtype <U1 is not accepted"):
        darkroom.Video(np.array([[[["a"]]]]))


def test_a_caption_that_is_not_a_string_is_refused():
    with pytest.raises(TypeError, match=r"^caption must be a str; got int 3$"):
        darkroom.Video(np.zeros((1, 3, 2, 2)), caption=3)


# -- files and file objects ------------------------------------------------------------------------------


def test_a_path_is_snapshotted_by_name_and_never_read_on_the_callers_thread(tmp_path: Path):
    path = tmp_path / "clip.MP4"
    path.write_bytes(b"not even read here")
    video = darkroom.Video(path, caption="c")
    assert video._payload == FileSnapshot(str(path.resolve()), "mp4")
    assert video._options == {"format": None, "fps": None}
    assert darkroom.Video(str(path), fps=30, format="webm")._options == {"format": "webm", "fps": 30}


def test_a_missing_path_is_refused_naming_it(tmp_path: Path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError) as info:
        darkroom.Video(missing)
    assert str(info.value) == (f"Video: no file at {str(missing)!r}; "
                               "accepted: an existing video file (mp4, webm, ogg, gif, ...)")


def test_a_bytesio_is_copied_whole_with_its_format_as_extension():
    buf = io.BytesIO(b"\x1aE\xdf\xa3 and some webm")
    buf.seek(4)
    video = darkroom.Video(buf, format="webm")
    buf.seek(0)
    buf.write(b"XXX")  # reused after log(): the snapshot keeps what was there
    assert video._payload == BytesSnapshot(b"\x1aE\xdf\xa3 and some webm", "webm", "video/webm")
    assert darkroom.Video(io.BytesIO(b"abc"))._payload == BytesSnapshot(b"abc", "bin", "application/octet-stream")


def test_an_open_binary_file_is_read_and_a_text_file_is_refused(tmp_path: Path):
    path = tmp_path / "clip.gif"
    path.write_bytes(b"GIF89a...")
    with open(path, "rb") as f:
        assert darkroom.Video(f, format="gif")._payload == BytesSnapshot(b"GIF89a...", "gif", "image/gif")
    with open(path, encoding="latin-1") as f, pytest.raises(TypeError) as info:
        darkroom.Video(f)
    assert str(info.value) == ("Video file object returned str from read(); "
                               "accepted: a binary file object (opened with 'rb', or io.BytesIO)")


def test_building_a_video_loads_no_codec():
    code = ("import json, sys, io, numpy as np, darkroom\n"
            "darkroom.Video(np.zeros((2, 3, 4, 4))); darkroom.Video(io.BytesIO(b'x'), format='mp4')\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('av', 'PIL', 'pydantic') or m.startswith('darkroom.workers'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


# -- end to end ---------------------------------------------------------------------------------------------


def test_a_run_encodes_arrays_keeps_files_and_fails_bad_ones_without_raising(embedded_env, tmp_path: Path):
    frames = np.zeros((4, 3, 8, 10), np.uint8)
    for t in range(4):
        frames[t, 0, :, 2 * t: 2 * t + 3] = 255  # a red bar moving right
    gray = np.linspace(0, 1, 3 * 6 * 6).reshape(3, 1, 6, 6)
    batch = np.stack([np.full((2, 3, 4, 4), 60 * (b + 1), np.uint8) for b in range(3)])
    mp4 = mp4_bytes()
    mp4_path = tmp_path / "clip.mp4"
    mp4_path.write_bytes(mp4)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    notes = tmp_path / "notes.webm"
    notes.write_text("these are notes, not a video\n")
    nan = np.zeros((2, 3, 2, 2))
    nan[1, 0, 1, 1] = np.nan

    run = darkroom.init(project="video")
    run.log({"gif": darkroom.Video(frames, caption="a red bar", fps=2),
             "gray": darkroom.Video(gray),
             "grid": darkroom.Video(batch, format="webm"),
             "mp4": darkroom.Video(frames, format="mp4", fps=8),
             "file": darkroom.Video(mp4_path, fps=10),
             "bytes": darkroom.Video(io.BytesIO(mp4), format="webm")})
    run.log({"bad": [darkroom.Video(empty), darkroom.Video(notes), darkroom.Video(nan)]})
    report = run.finish(quiet=True)

    assert (report.converted, report.pending, report.spooled) == (6, 0, 0)
    assert [(f.key, f.step, f.index, f.code) for f in report.failed] == [
        ("bad", 1, 0, "unreadable_file"), ("bad", 1, 1, "unreadable_file"), ("bad", 1, 2, "non_finite")]
    assert report.failed[0].message.startswith("video file is empty (0 bytes)")
    assert report.failed[1].message.startswith("video file is not a video PyAV can read (29 bytes")
    assert "video has 1 NaN or infinite values (first at (1, 0, 1, 1))" in report.failed[2].message

    reader = darkroom.Api().run(run.path)

    def read(key: str) -> tuple[dict, bytes]:
        (manifest,) = reader.manifests(key=key)
        assert manifest["status"] == "ok" and manifest["kind"] == "video", manifest
        return manifest, reader.read(manifest)

    manifest, data = read("gif")
    with PILImage.open(io.BytesIO(data)) as image:
        decoded = []
        for index in range(image.n_frames):
            image.seek(index)
            decoded.append(np.asarray(image.convert("RGB")))
        assert image.info["duration"] == 500
    np.testing.assert_array_equal(np.stack(decoded), frames.transpose(0, 2, 3, 1))
    assert manifest["caption"] == "a red bar" and manifest["warnings"] == []
    assert {k: manifest["artifact"][k] for k in ("format", "media_type", "width", "height", "frames", "fps",
                                                 "duration", "codec")} == {
        "format": "gif", "media_type": "image/gif", "width": 10, "height": 8, "frames": 4, "fps": 2,
        "duration": 2.0, "codec": "gif"}

    manifest, data = read("gray")
    with PILImage.open(io.BytesIO(data)) as image:
        image.seek(2)
        last = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(last[..., 0], np.rint(gray[2, 0] * 255).astype(np.uint8))
    assert (last[..., 0] == last[..., 2]).all()

    manifest, data = read("grid")
    with av.open(io.BytesIO(data)) as container:
        tiles = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(tiles) == 2 and tiles[0].shape == (4, 16, 3)  # 1 row x 4 columns, the last black
    assert [int(np.median(tiles[0][:, 4 * i: 4 * i + 4])) for i in range(4)] == pytest.approx([60, 120, 180, 0], abs=4)
    assert manifest["artifact"]["codec"] == "vp9" and len(manifest["warnings"]) == 1

    manifest, data = read("mp4")
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == 4
    assert manifest["artifact"]["media_type"] == "video/mp4" and manifest["artifact"]["fps"] == 8

    manifest, data = read("file")
    assert data == mp4
    art = manifest["artifact"]
    assert (art["format"], art["width"], art["height"], art["frames"], art["fps"], art["codec"]) == (
        "mp4", 16, 8, 4, 5, "h264")
    assert manifest["warnings"] == ["fps=10 ignored: a file keeps its own frame rate"]

    manifest, data = read("bytes")
    assert data == mp4 and manifest["artifact"]["format"] == "mp4"
    assert manifest["warnings"] == ["format='webm' was given, but it holds a mov,mp4,m4a,3gp,3g2,mj2 container; "
                                    "stored as mp4"]
