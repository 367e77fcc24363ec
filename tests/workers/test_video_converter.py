"""workers/converters/video.py and video_file.py: every accepted input form decoded back, every refused one."""

from __future__ import annotations

import io
import sys
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, converter_for
from darkroom.workers.converters.gif_palette import clip_palette
from darkroom.workers.converters.video import CONVERTER, VideoOptions, convert, grid

from converter_harness import file_item, npy_item


# -- building inputs ------------------------------------------------------------------


def sprites(frames: int = 6, height: int = 12, width: int = 16) -> np.ndarray:
    """(T,3,H,W) uint8 with few colours: a red square moving over blue, a gray patch changing."""
    video = np.zeros((frames, 3, height, width), np.uint8)
    video[:, 2] = 90
    for t in range(frames):
        video[t, :, 2:6, t: t + 4] = np.array([250, 10, 10])[:, None, None]
        video[t, :, 8:11, 1:4] = 30 * t
    return video


def gradient(frames: int = 8, height: int = 32, width: int = 48) -> np.ndarray:
    """(T,3,H,W) uint8 smooth colour gradients, shifting a little every frame (thousands of colours)."""
    y, x = np.mgrid[0:height, 0:width] / np.array([height - 1, width - 1])[:, None, None]
    planes = [np.stack([x, y, 1 - (x + y) / 2]) * 200 + 5 * t for t in range(frames)]
    return np.rint(np.stack(planes)).astype(np.uint8)


def encoded_file(container: str, codec: str, frames: int = 5, size: tuple[int, int] = (16, 12),
                 rate: int = 5, audio: bool = False) -> bytes:
    """A real video file written by FFmpeg: `frames` gray frames of size (W, H)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        sound = out.add_stream("aac", rate=8000, layout="mono") if audio else None
        for t in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 40 * t % 256, np.uint8),
                                               format="rgb24")
            frame.pts = t
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            silence = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            silence.sample_rate, silence.pts = 8000, 0
            out.mux(sound.encode(silence))
            out.mux(sound.encode(None))
    return buf.getvalue()


# -- running and reading back -----------------------------------------------------------


def run(item: ItemInput, limits: Limits = Limits(), **options: Any) -> Output:
    return convert(item, VideoOptions(**options), limits)


def refused(item: ItemInput, code: str, limits: Limits = Limits(), **options: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        run(item, limits, **options)
    assert info.value.code == code, info.value.message
    return info.value.message


def gif_frames(data: bytes) -> tuple[np.ndarray, dict]:
    """Decoded by Pillow (not FFmpeg, which wrote it): (T, H, W, 3) and the first frame's info."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "GIF"
        info = dict(image.info)
        frames = []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")))
    return np.stack(frames), info


def gif_colour_tables(data: bytes) -> tuple[bool, int, int]:
    """(has a global colour table, images with a local one, images), read from the GIF's blocks."""
    assert data[:6] == b"GIF89a"
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    local = images = 0
    while data[pos] != 0x3B:  # trailer
        if data[pos] == 0x21:  # extension: label, then sub-blocks
            pos += 2
        else:  # 0x2C image descriptor, then its colour table, LZW code size and sub-blocks
            packed = data[pos + 9]
            images += 1
            local += bool(packed & 0x80)
            pos += 10 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0) + 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    return bool(flags & 0x80), local, images


def av_frames(data: bytes) -> tuple[np.ndarray, Any]:
    """Decoded by PyAV: (T, H, W, 3) and the container's first video stream's codec name and format."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, (container.format.name, stream.codec_context.name, stream.codec_context.pix_fmt)


def rgb(video: np.ndarray) -> np.ndarray:
    """(T,C,H,W) -> (T,H,W,3), gray repeated."""
    frames = video.transpose(0, 2, 3, 1)
    return np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames[..., :3]


def psnr(decoded: np.ndarray, source: np.ndarray) -> float:
    mse = float(np.mean((decoded.astype(np.float64) - source) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


# -- GIF from arrays -------------------------------------------------------------------------


def test_a_clip_of_few_colours_becomes_a_lossless_looping_gif_with_its_frame_delay():
    video = sprites()
    output = run(npy_item(video), fps=4)
    frames, info = gif_frames(output.data)
    np.testing.assert_array_equal(frames, rgb(video))
    assert info["duration"] == 250 and info["loop"] == 0  # 1/4 s a frame, looping forever
    assert (output.format, output.media_type) == ("gif", "image/gif")
    assert output.measurements == {"width": 16, "height": 12, "frames": 6, "fps": 4, "duration": 1.5,
                                   "codec": "gif", "container": "gif"}
    assert output.warnings == []


def test_gif_is_the_default_format_and_4_the_default_fps():
    output = run(npy_item(sprites()))
    assert output.format == "gif" and output.measurements["fps"] == 4
    assert gif_frames(output.data)[1]["duration"] == 250


def fixed_palette_gif(frames: np.ndarray) -> bytes:
    """What a GIF without an adaptive palette looks like: FFmpeg's fixed rgb8 (3-3-2 bit) palette."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="gif") as out:
        stream = out.add_stream("gif", rate=4)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "rgb8"
        for t, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            picture.pts = t
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))
    return buf.getvalue()


def pillow_gif(frames: np.ndarray) -> bytes:
    """Pillow's GIF: an adaptive palette (median cut) per frame."""
    images = [Image.fromarray(np.ascontiguousarray(frame)) for frame in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=250, loop=0)
    return buf.getvalue()


def shapes_on_a_gradient(frames: int = 16, size: int = 48) -> np.ndarray:
    """(T,3,H,W): a static colour gradient with a disk and a square moving over it (bench/video.py's kind)."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    video = np.empty((frames, 3, size, size))
    for t in range(frames):
        video[t] = np.stack([x, y, 1 - (x + y) / 2])
        video[t][:, (x - 0.2 - 0.6 * t / frames) ** 2 + (y - 0.5) ** 2 < 0.02] = np.array([1, 0.2, 0.1])[:, None]
        video[t][:, 5 + t: 12 + t, 4:11] = np.array([0.1, 0.9, 0.3])[:, None, None]
    return np.rint(video * 255).astype(np.uint8)


def test_a_gradient_gets_an_adaptive_palette_far_closer_than_a_fixed_one():
    video = gradient()
    frames, _ = gif_frames(run(npy_item(video)).data)
    assert frames.shape == (8, 32, 48, 3)
    ours, fixed = psnr(frames, rgb(video)), psnr(gif_frames(fixed_palette_gif(rgb(video)))[0], rgb(video))
    assert ours > fixed + 8, (ours, fixed)  # 31.0 dB against 21.1 dB


def test_shapes_moving_on_a_gradient_come_out_at_least_as_close_as_pillows_gif():
    video = shapes_on_a_gradient()
    ours = psnr(gif_frames(run(npy_item(video)).data)[0], rgb(video))
    pillow = psnr(gif_frames(pillow_gif(rgb(video)))[0], rgb(video))
    assert ours >= pillow, (ours, pillow)


def test_the_palette_is_one_per_clip_and_the_same_for_the_same_clip():
    video = gradient()
    first, second = run(npy_item(video)).data, run(npy_item(video)).data
    assert first == second
    global_table, local_tables, images = gif_colour_tables(first)
    assert global_table and local_tables == 0 and images == 8


def test_an_exact_palette_is_kept_for_clips_of_at_most_256_colours():
    video = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16).repeat(3, axis=0)
    palette = clip_palette(lambda t: rgb(video)[t], 3)
    assert palette.exact and len(palette.colours) == 256
    np.testing.assert_array_equal(palette.colours[palette.indices(rgb(video)[0])], rgb(video)[0])


def test_a_gif_fps_above_50_is_kept_with_a_warning_about_browsers():
    output = run(npy_item(sprites()), fps=60)
    assert output.measurements["fps"] == 60
    assert any("fps=60 in a GIF" in w and "about 10 fps" in w for w in output.warnings)


# -- channels, dtypes ----------------------------------------------------------------------------


def test_one_channel_becomes_gray_rgb():
    video = (np.arange(5 * 6 * 7).reshape(5, 1, 6, 7) * 3 % 256).astype(np.uint8)
    frames, _ = gif_frames(run(npy_item(video)).data)
    np.testing.assert_array_equal(frames, np.repeat(video.transpose(0, 2, 3, 1), 3, axis=-1))


def test_an_alpha_channel_is_dropped_with_a_warning():
    video = np.concatenate([sprites(), np.full((6, 1, 12, 16), 7, np.uint8)], axis=1)
    output = run(npy_item(video))
    np.testing.assert_array_equal(gif_frames(output.data)[0], rgb(sprites()))
    assert output.warnings == ["alpha channel dropped: gif video is written without one"]


@pytest.mark.parametrize("dtype, scale", [("float32", 1 / 255), ("float64", 1 / 255), ("uint16", 257), ("bool", None)])
def test_non_uint8_clips_are_normalised_like_images(dtype, scale):
    video = sprites()
    if dtype == "bool":
        source, expected = video > 100, (video > 100).astype(np.uint8) * 255
    else:
        source, expected = (video.astype(np.float64) * scale).astype(dtype), video
    output = run(npy_item(source))
    np.testing.assert_array_equal(gif_frames(output.data)[0], rgb(expected))
    assert output.warnings == []


def test_signed_floats_in_minus_one_to_one_are_mapped_to_0_255():
    video = np.linspace(-1, 1, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    frames, _ = gif_frames(run(npy_item(video)).data)
    np.testing.assert_array_equal(frames, rgb(np.rint((video + 1) * 127.5).astype(np.uint8)))


def test_integers_outside_0_255_are_clipped_and_recorded():
    video = sprites().astype(np.int16) * 2 - 100
    output = run(npy_item(video))
    np.testing.assert_array_equal(gif_frames(output.data)[0], rgb(np.clip(video, 0, 255).astype(np.uint8)))
    assert output.warnings == ["video values -100..400 clipped to 0..255"]


def test_nan_is_refused_with_its_count_and_position():
    video = np.zeros((2, 3, 4, 4))
    video[1, 2, 0, 3] = np.nan
    message = refused(npy_item(video), "non_finite")
    assert message == "video has 1 NaN or infinite values (first at (1, 2, 0, 3)); accepted: finite numbers"


# -- batches -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch, layout", [(1, (1, 1)), (2, (1, 2)), (3, (1, 4)), (4, (2, 2)), (5, (2, 4)),
                                           (8, (2, 4)), (9, (2, 8)), (16, (4, 4))])
def test_a_batch_is_tiled_into_w_and_b_grid(batch, layout):
    assert grid(batch) == layout


def test_a_batch_of_three_is_tiled_row_by_row_and_padded_with_one_black_video():
    colours = np.array([[200, 0, 0], [0, 200, 0], [0, 0, 200]], np.uint8)
    video = np.broadcast_to(colours[:, None, :, None, None], (3, 2, 3, 4, 5)).copy()
    output = run(npy_item(video))
    frames, _ = gif_frames(output.data)
    assert frames.shape == (2, 4, 20, 3)  # 1 row x 4 columns of 4x5
    for index, colour in enumerate([*colours, [0, 0, 0]]):
        assert (frames[:, :, 5 * index: 5 * index + 5] == colour).all(), index
    assert (output.measurements["width"], output.measurements["height"]) == (20, 4)
    assert output.warnings == ["3 videos tiled in a 1x4 grid (rows x columns) padded with 1 black videos "
                               "to a power of two"]


def test_a_batch_of_four_fills_a_two_by_two_grid_frame_by_frame():
    video = np.zeros((4, 3, 1, 2, 2), np.uint8)
    for b in range(4):
        for t in range(3):
            video[b, t] = 10 * b + 50 * t
    frames, _ = gif_frames(run(npy_item(video)).data)
    assert frames.shape == (3, 4, 4, 3)
    for t in range(3):
        np.testing.assert_array_equal(frames[t, :, :, 0], [[50 * t, 50 * t, 10 + 50 * t, 10 + 50 * t]] * 2
                                      + [[20 + 50 * t, 20 + 50 * t, 30 + 50 * t, 30 + 50 * t]] * 2)


# -- MP4, WebM, Ogg ------------------------------------------------------------------------------------


def test_mp4_is_h264_in_yuv420p_and_decodes_to_the_frames():
    video = gradient()
    output = run(npy_item(video), format="mp4", fps=8)
    frames, (container, codec, pix_fmt) = av_frames(output.data)
    assert (container.split(",")[:2], codec, pix_fmt) == (["mov", "mp4"], "h264", "yuv420p")
    assert frames.shape == (8, 32, 48, 3) and psnr(frames, rgb(video)) > 30
    assert (output.format, output.media_type) == ("mp4", "video/mp4")
    with av.open(io.BytesIO(output.data)) as decoded:  # tagged as converted: BT.601, limited range
        first = next(decoded.decode(video=0))
        assert (first.colorspace, first.color_range) == (5, 1)
    assert output.measurements == {"width": 48, "height": 32, "frames": 8, "fps": 8, "duration": 1.0,
                                   "codec": "h264", "container": "mp4"}


def test_odd_sizes_are_padded_to_even_with_black_for_mp4_and_recorded():
    video = np.full((3, 3, 7, 9), 200, np.uint8)
    output = run(npy_item(video), format="mp4")
    frames, _ = av_frames(output.data)
    assert frames.shape == (3, 8, 10, 3)
    assert np.abs(frames[:, :6, :8].astype(int) - 200).max() <= 3  # the edge bleeds into the padding
    assert frames[:, 7:, :].max() <= 40 and frames[:, :, 9:].max() <= 40  # black, but for chroma bleeding
    assert output.warnings == ["frames padded from 9x7 to 10x8 (WxH) with black: H.264 in yuv420p needs even sizes"]
    assert (output.measurements["width"], output.measurements["height"]) == (10, 8)


def test_webm_is_vp9_and_keeps_odd_sizes():
    video = gradient(frames=4, height=15, width=21)
    output = run(npy_item(video), format="webm")
    frames, (container, codec, _) = av_frames(output.data)
    assert (container, codec) == ("matroska,webm", "vp9")
    assert frames.shape == (4, 15, 21, 3) and psnr(frames, rgb(video)) > 30
    assert (output.media_type, output.measurements["codec"], output.warnings) == ("video/webm", "vp9", [])


def test_ogg_is_vp8_in_ogg_with_a_warning_that_browsers_may_not_play_it():
    video = gradient(frames=4)
    output = run(npy_item(video), format="ogg")
    frames, (container, codec, _) = av_frames(output.data)
    assert (container, codec) == ("ogg", "vp8")  # this PyAV build has no Theora encoder
    assert frames.shape == (4, 32, 48, 3) and psnr(frames, rgb(video)) > 30
    assert output.measurements["codec"] == "vp8" and output.media_type == "video/ogg"
    assert output.warnings == ["ogg video (vp8 in Ogg): browsers may not play it; webm is the portable choice"]


def test_a_fractional_fps_is_kept_in_the_file_and_the_manifest():
    output = run(npy_item(sprites(frames=5)), format="mp4", fps=2.5)
    assert (output.measurements["fps"], output.measurements["duration"]) == (2.5, 2.0)
    probed = run(file_item(output.data, "mp4"))
    assert (probed.measurements["fps"], probed.measurements["frames"]) == (2.5, 5)


# -- arrays refused ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 4), (2, 2, 5, 5), (2, 5, 6, 6), (1, 1, 1, 3, 4, 4)])
def test_shapes_outside_the_rule_are_refused_naming_the_accepted_ones(shape):
    message = refused(npy_item(np.zeros(shape, np.uint8)), "invalid_shape")
    assert message == (f"video array has shape {shape}; accepted: (T,C,H,W) or (B,T,C,H,W) "
                       "with C (channels) in 1, 3, 4")


def test_a_channels_last_clip_gets_a_hint():
    message = refused(npy_item(np.zeros((2, 8, 8, 3), np.uint8)), "invalid_shape")
    assert message.endswith("; a channels-last (..., H, W, C) array needs np.moveaxis(a, -1, -3)")


def test_an_empty_clip_is_refused():
    message = refused(npy_item(np.zeros((0, 3, 4, 4), np.uint8)), "invalid_shape")
    assert message == ("video array of shape (0, 3, 4, 4) is empty; accepted: (T,C,H,W) or (B,T,C,H,W) "
                       "with C (channels) in 1, 3, 4, every axis at least 1")


def test_frames_over_the_bound_are_refused_naming_the_variable():
    message = refused(npy_item(np.zeros((6, 1, 2, 2), np.uint8)), "too_large", Limits(max_video_frames=5))
    assert message == "video array has 6 frames; the bound is 5 (DARKROOM_MAX_VIDEO_FRAMES)"


def test_frame_pixels_over_the_bound_are_refused_counting_the_grid():
    message = refused(npy_item(np.zeros((3, 1, 1, 4, 4), np.uint8)), "too_large", Limits(max_pixels=63))
    assert message == ("video array frames of 16x4 = 64 pixels exceed the bound of 63 pixels a frame "
                       "(DARKROOM_MAX_PIXELS)")


def test_total_pixels_over_the_bound_are_refused_counting_the_mp4_padding():
    message = refused(npy_item(np.zeros((4, 3, 3, 3), np.uint8)), "too_large", Limits(max_video_pixels=63),
                      format="mp4")
    assert message == ("video array of 4 frames of 4x4 = 64 pixels exceeds the bound of 63 "
                       "(DARKROOM_MAX_VIDEO_PIXELS: frames x height x width)")


def test_a_payload_over_the_byte_bound_is_refused_before_it_is_read():
    message = refused(npy_item(np.zeros((4, 3, 8, 8), np.uint8)), "too_large", Limits(max_payload_bytes=100))
    assert "DARKROOM_MAX_PAYLOAD_BYTES" in message


@pytest.mark.parametrize("options, problem", [({"format": "avi"}, "format"), ({"fps": 0}, "fps"),
                                              ({"fps": 1001}, "fps"), ({"quality": 3}, "quality")])
def test_unknown_or_out_of_range_options_are_refused_by_name(options, problem):
    with pytest.raises(InvalidInput) as info:
        CONVERTER.parse_options(options)
    assert info.value.code == "invalid_options" and info.value.message.startswith(f"video options: {problem}")


# -- files ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext, container, codec, media_type", [
    ("mp4", "mp4", "libx264", "video/mp4"), ("webm", "webm", "libvpx-vp9", "video/webm"),
    ("ogg", "ogg", "libvpx", "video/ogg"), ("gif", "gif", "gif", "image/gif"), ("mov", "mov", "libx264", "video/quicktime"),
])
def test_a_video_file_is_stored_as_given_with_what_decoding_it_found(ext, container, codec, media_type):
    data = encoded_file(container, codec)
    output = run(file_item(data, ext))
    assert output.data == data
    assert (output.format, output.media_type) == (ext, media_type)
    found = output.measurements
    assert (found["width"], found["height"], found["frames"], found["fps"]) == (16, 12, 5, 5)
    assert found["duration"] == pytest.approx(1.0)
    assert found["codec"] == {"libx264": "h264", "libvpx-vp9": "vp9", "libvpx": "vp8"}.get(codec, codec)
    assert found["container"] == av.open(io.BytesIO(data)).format.name
    assert output.warnings == []


def test_a_file_object_without_a_name_is_named_by_its_container():
    output = run(file_item(encoded_file("webm", "libvpx-vp9"), "bin"))
    assert (output.format, output.media_type, output.warnings) == ("webm", "video/webm", [])


def test_a_file_whose_name_or_format_lies_is_stored_as_what_it_holds_with_a_warning():
    data = encoded_file("mp4", "libx264")
    named = run(file_item(data, "gif"))
    assert (named.format, named.media_type) == ("mp4", "video/mp4")
    assert named.warnings == ["a .gif file was given, but it holds a mov,mp4,m4a,3gp,3g2,mj2 container; "
                              "stored as mp4"]
    declared = run(file_item(data, "bin"), format="webm")
    assert declared.warnings == ["format='webm' was given, but it holds a mov,mp4,m4a,3gp,3g2,mj2 container; "
                                 "stored as mp4"]


def test_fps_given_for_a_file_is_ignored_with_a_warning():
    output = run(file_item(encoded_file("mp4", "libx264"), "mp4"), fps=30)
    assert output.measurements["fps"] == 5
    assert output.warnings == ["fps=30 ignored: a file keeps its own frame rate"]


def test_a_container_browsers_do_not_play_is_transcoded_and_the_file_kept_as_the_original():
    data = encoded_file("matroska", "libx264")
    output = run(file_item(data, "mkv"))
    assert (output.format, output.media_type, output.measurements["codec"]) == ("mp4", "video/mp4", "h264")
    assert [(r.role, r.format, r.media_type, r.data) for r in output.related] == [
        ("original", "mkv", "video/x-matroska", data)]
    assert output.warnings == ["transcoded from h264 in mkv to H.264 in MP4, which browsers play; the file as "
                               "logged is kept as the related file 'original'"]


def test_other_streams_in_a_file_are_kept_and_recorded():
    output = run(file_item(encoded_file("mp4", "libx264", audio=True), "mp4"))
    assert output.measurements["frames"] == 5
    assert output.warnings == ["the file also holds 1 other streams; the first video stream was measured, "
                               "the file is stored whole"]


def test_an_empty_file_is_refused():
    message = refused(file_item(b"", "mp4"), "unreadable_file")
    assert message.startswith("video file is empty (0 bytes); accepted: a video file: mp4, webm, ogg/ogv, gif")


def test_a_text_file_named_mp4_is_refused_as_unreadable():
    message = refused(file_item(b"hello, this is not a video\n" * 10, "mp4"), "unreadable_file")
    assert message.startswith("video file is not a video PyAV can read (270 bytes, starts b'hello, t'); accepted:")


def test_a_still_image_is_refused_and_pointed_to_image():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG")
    message = refused(file_item(buf.getvalue(), "mp4"), "not_video")
    assert message.startswith("file is a still image (png_pipe), not a video;")
    assert message.endswith("log a still image with darkroom.Image")


def test_an_audio_file_is_refused_for_holding_no_video_stream():
    buf = io.BytesIO()
    with av.open(buf, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    message = refused(file_item(buf.getvalue(), "mp4"), "not_video")
    assert message.startswith("file (wav) holds no video stream (found: audio); accepted:")


def test_a_truncated_mp4_is_refused():
    data = encoded_file("mp4", "libx264", frames=20)
    refused(file_item(data[: len(data) // 2], "mp4"), "unreadable_file")  # moov (the index) is at the end


def test_a_truncated_webm_keeps_the_frames_that_decode_or_is_refused():
    data = encoded_file("webm", "libvpx-vp9", frames=20, size=(64, 48))
    try:
        output = run(file_item(data[: len(data) * 2 // 3], "webm"))
    except InvalidInput as e:
        assert e.code in ("corrupt_file", "unreadable_file"), e.message
    else:
        assert 0 < output.measurements["frames"] < 20


def test_a_file_claiming_too_many_frames_is_refused_before_decoding():
    message = refused(file_item(encoded_file("mp4", "libx264", frames=6), "mp4"), "too_large",
                      Limits(max_video_frames=5))
    assert message == "video file (mp4, h264) has 6 frames; the bound is 5 (DARKROOM_MAX_VIDEO_FRAMES)"


def test_a_file_without_a_frame_count_is_bounded_by_its_duration_times_its_rate():
    data = encoded_file("webm", "libvpx-vp9", frames=6)  # Matroska stores no frame count, but a duration
    message = refused(file_item(data, "webm"), "too_large", Limits(max_video_frames=5))
    assert message == "video file (webm, vp9) has 6 frames; the bound is 5 (DARKROOM_MAX_VIDEO_FRAMES)"


def test_a_file_that_claims_nothing_is_bounded_while_it_is_decoded():
    data = encoded_file("h264", "libx264", frames=6)  # a raw H.264 stream: no count, no duration
    with av.open(io.BytesIO(data)) as container:
        assert (container.streams.video[0].frames, container.duration) == (0, None)
    assert run(file_item(data), Limits(max_video_frames=6)).measurements["frames"] == 6
    message = refused(file_item(data), "too_large", Limits(max_video_frames=5))
    assert message == "video file (h264, h264) has 6 frames; the bound is 5 (DARKROOM_MAX_VIDEO_FRAMES)"


def test_a_file_over_the_pixel_bounds_is_refused_naming_the_variables():
    data = encoded_file("mp4", "libx264", frames=4)
    assert "(DARKROOM_MAX_PIXELS)" in refused(file_item(data, "mp4"), "too_large", Limits(max_pixels=191))
    message = refused(file_item(data, "mp4"), "too_large", Limits(max_video_pixels=4 * 192 - 1))
    assert message.endswith("(DARKROOM_MAX_VIDEO_PIXELS: frames x height x width)")


# -- the table and the dependency -----------------------------------------------------------------------------


def test_the_converter_is_registered_for_the_video_kind():
    assert converter_for("video") is CONVERTER


def test_a_worker_without_pyav_fails_the_item_with_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # what `import av` finds when PyAV is not installed
    message = refused(npy_item(sprites()), "missing_dependency")
    assert message == "video needs PyAV on the worker: pip install 'darkroom[video]'"
