"""workers/converters/audio.py: every accepted input form decoded back, every refused one with its message."""

from __future__ import annotations

import io
from typing import Any

import av
import numpy as np
import pytest
import soundfile as sf

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import ItemInput, Output, Payload, converter_for
from darkroom.workers.converters.audio import CONVERTER, AudioOptions, convert

from converter_harness import file_item, npy_item

NPY = "application/x-npy"
RATE = 8000


# -- building inputs ------------------------------------------------------------------


def tone(samples: int = 800, channels: int | None = None, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(samples) / RATE
    mono = amplitude * np.sin(2 * np.pi * 440 * t)
    if channels is None:
        return mono
    return np.stack([mono * (c + 1) / channels for c in range(channels)], axis=1)


def soundfile_bytes(array: np.ndarray, fmt: str, subtype: str, rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, array, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def pyav_bytes(container: str, codec: str, rate: int, samples: int = 4000, video: bool = False) -> bytes:
    """An audio file encoded by FFmpeg (mono float tone), optionally with a tiny video stream."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        if video:
            vstream = out.add_stream("libx264", rate=4)
            vstream.width, vstream.height, vstream.pix_fmt = 16, 16, "yuv420p"
        astream = out.add_stream(codec, rate=rate)
        astream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(tone(samples).astype(np.float32).reshape(1, -1), format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        for packet in [*astream.encode(frame), *astream.encode(None)]:
            out.mux(packet)
        if video:
            for i in range(2):
                picture = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 60 * i, np.uint8), format="rgb24")
                for packet in vstream.encode(picture):
                    out.mux(packet)
            for packet in vstream.encode(None):
                out.mux(packet)
    return buf.getvalue()


# -- running and reading back ---------------------------------------------------------


def run(item: ItemInput, limits: Limits = Limits(), **options: Any) -> Output:
    return convert(item, AudioOptions(**options), limits)


def decoded(output: Output) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(io.BytesIO(output.data), dtype="int16", always_2d=True)
    return samples, rate


def pcm16(values: np.ndarray) -> np.ndarray:
    """MEDIA_TYPES.md's float rule, restated: clip to [-1, 1], x * 32767, rounded."""
    return np.rint(np.clip(values.astype(np.float64), -1, 1) * 32767).astype(np.int16)


def refused(item: ItemInput, code: str, limits: Limits = Limits(), **options: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        run(item, limits, **options)
    assert info.value.code == code, info.value.message
    return info.value.message


def test_the_audio_kind_is_registered() -> None:
    assert converter_for("audio") is CONVERTER
    assert CONVERTER.name == "audio" and CONVERTER.options_model is AudioOptions


# -- arrays ---------------------------------------------------------------------------


def test_a_mono_float_array_becomes_a_pcm16_wav_of_the_rounded_samples() -> None:
    array = tone(800).astype(np.float32)
    output = run(npy_item(array), sample_rate=RATE)
    assert output.format == "wav" and output.media_type == "audio/wav" and output.data.startswith(b"RIFF")
    assert output.measurements == {"sample_rate": RATE, "channels": 1, "samples": 800, "duration": 0.1,
                                   "codec": "pcm_16"}
    assert output.warnings == [] and output.related == []
    info = sf.info(io.BytesIO(output.data))
    assert (info.format, info.subtype) == ("WAV", "PCM_16")
    samples, rate = decoded(output)
    assert rate == RATE and samples.shape == (800, 1)
    np.testing.assert_array_equal(samples[:, 0], pcm16(array))


def test_a_samples_by_channels_array_keeps_its_channels_in_order() -> None:
    array = tone(500, channels=3)
    output = run(npy_item(array), sample_rate=44_100)
    samples, rate = decoded(output)
    assert rate == 44_100 and samples.shape == (500, 3)
    assert output.measurements["channels"] == 3 and output.measurements["samples"] == 500
    np.testing.assert_array_equal(samples, pcm16(array))


def test_full_scale_floats_map_to_plus_and_minus_32767() -> None:
    output = run(npy_item(np.array([-1.0, -0.5, 0.0, 0.5, 1.0])), sample_rate=RATE)
    np.testing.assert_array_equal(decoded(output)[0][:, 0], [-32767, -16384, 0, 16384, 32767])


def test_float16_samples_are_accepted() -> None:
    array = tone(100).astype(np.float16)
    np.testing.assert_array_equal(decoded(run(npy_item(array), sample_rate=RATE))[0][:, 0], pcm16(array))


def test_int16_samples_are_kept_exactly_in_any_byte_order() -> None:
    array = np.array([[-32768, 32767], [0, -1], [1234, -4321]], dtype=np.int16)
    for dtype in ("<i2", ">i2"):
        output = run(npy_item(array.astype(dtype)), sample_rate=RATE)
        np.testing.assert_array_equal(decoded(output)[0], array)
        assert output.warnings == []


def test_int32_samples_are_32_bit_pcm_rounded_to_16_bits_with_a_warning() -> None:
    array = np.array([2**31 - 1, -2**31, 65536 * 100, 65536 * 100 + 40_000, 1], dtype=np.int32)
    output = run(npy_item(array), sample_rate=RATE)
    np.testing.assert_array_equal(decoded(output)[0][:, 0], [32767, -32768, 100, 101, 0])
    assert output.warnings == ["int32 samples written as 16-bit PCM: 3 samples rounded to the nearest "
                               "multiple of 65536 (their low 16 bits dropped)"]


def test_int32_samples_on_16_bit_steps_lose_nothing_and_warn_nothing_in_any_byte_order() -> None:
    array = np.array([-32768, -3, 0, 7, 32767], dtype=np.int32) * 65536
    for dtype in ("<i4", ">i4"):
        output = run(npy_item(array.astype(dtype)), sample_rate=RATE)
        np.testing.assert_array_equal(decoded(output)[0][:, 0], [-32768, -3, 0, 7, 32767])
        assert output.warnings == []


def test_floats_outside_minus_one_to_one_are_clipped_and_the_clip_is_recorded() -> None:
    array = np.array([-3.0, -1.0, 0.25, 1.0, 1.5, 2.0])
    output = run(npy_item(array), sample_rate=RATE)
    np.testing.assert_array_equal(decoded(output)[0][:, 0], [-32767, -32767, 8192, 32767, 32767, 32767])
    assert output.warnings == ["audio values -3..2 clipped to [-1, 1] (3 of 6 values outside)"]


def test_a_fortran_ordered_array_is_read_in_its_logical_order() -> None:
    array = np.asfortranarray(tone(300, channels=2))
    np.testing.assert_array_equal(decoded(run(npy_item(array), sample_rate=RATE))[0], pcm16(array))


@pytest.mark.parametrize("rate", [22_050, 65_535, 65_540, 655_350])
def test_format_flac_gives_a_lossless_flac_of_the_same_pcm16_samples(rate: int) -> None:
    array = tone(1000, channels=2)
    output = run(npy_item(array), sample_rate=rate, format="flac")
    assert output.format == "flac" and output.media_type == "audio/flac" and output.data.startswith(b"fLaC")
    assert output.measurements["codec"] == "flac"
    info = sf.info(io.BytesIO(output.data))
    assert (info.format, info.subtype, info.samplerate) == ("FLAC", "PCM_16", rate)
    np.testing.assert_array_equal(decoded(output)[0], pcm16(array))


# -- refused arrays ---------------------------------------------------------------------


def test_nan_or_infinity_is_refused_with_the_count_and_first_position() -> None:
    array = tone(10, channels=2)
    array[3, 1] = np.nan
    array[7, 0] = -np.inf
    message = refused(npy_item(array), "non_finite", sample_rate=RATE)
    assert message == ("audio has 2 NaN or infinite values (first at (3, 1)); "
                       "accepted: finite numbers in [-1, 1]")


def test_an_array_without_a_sample_rate_is_refused_naming_the_argument() -> None:
    message = refused(npy_item(tone(10)), "missing_sample_rate")
    assert "sample_rate" in message and "Audio(samples, sample_rate=16000)" in message


@pytest.mark.parametrize("shape", [(), (2, 3, 4), (1, 1, 1, 1)])
def test_an_array_of_another_rank_is_refused_naming_its_shape(shape: tuple[int, ...]) -> None:
    message = refused(npy_item(np.zeros(shape)), "invalid_shape", sample_rate=RATE)
    assert message == f"audio array has shape {shape}; accepted: (samples,) or (samples, channels)"


@pytest.mark.parametrize("shape", [(0,), (0, 2), (5, 0)])
def test_an_empty_array_is_refused(shape: tuple[int, ...]) -> None:
    message = refused(npy_item(np.zeros(shape, np.float32)), "invalid_shape", sample_rate=RATE)
    assert f"shape {shape} is empty" in message


def test_more_than_32_channels_is_refused_with_the_transpose_hint() -> None:
    message = refused(npy_item(np.zeros((2, 4000), np.float32)), "too_many_channels", sample_rate=RATE)
    assert message == ("audio array of shape (2, 4000) has 4000 channels; at most 32 are accepted, "
                       "as (samples, channels): a (channels, samples) array needs .T")
    assert isinstance(run(npy_item(np.zeros((3, 32), np.float32)), sample_rate=RATE), Output)


def test_more_samples_than_the_bound_are_refused_naming_the_variable() -> None:
    limits = Limits(max_audio_samples=1000)
    assert run(npy_item(np.zeros((1000, 2), np.int16)), limits, sample_rate=RATE).measurements["samples"] == 1000
    message = refused(npy_item(np.zeros((1001, 2), np.int16)), "too_large", limits, sample_rate=RATE)
    assert message == ("audio array has 1001 samples per channel; the bound is 1000 "
                       "(DARKROOM_MAX_AUDIO_SAMPLES)")


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int64", "bool"])
def test_other_dtypes_are_refused_naming_the_accepted_ones(dtype: str) -> None:
    message = refused(npy_item(np.zeros(10, dtype)), "invalid_dtype", sample_rate=RATE)
    assert message == (f"audio array dtype {dtype} is not accepted; accepted: float16, float32, float64 "
                       "(values in [-1, 1]), int16 or int32")


@pytest.mark.parametrize("channels, rate", [(9, RATE), (2, 700_000), (2, 65_537)])
def test_flac_beyond_its_channels_or_rate_is_refused_pointing_to_wav(channels: int, rate: int) -> None:
    message = refused(npy_item(np.zeros((10, channels), np.int16)), "unsupported_format",
                      sample_rate=rate, format="flac")
    assert message == (f"audio array has {channels} channels at {rate} Hz; format='flac' holds at most 8 "
                       "channels at up to 65535 Hz, or a multiple of 10 Hz up to 655350 Hz; "
                       "accepted: format='wav' for this audio")
    assert decoded(run(npy_item(np.zeros((10, channels), np.int16)), sample_rate=rate))[1] == rate


def test_a_corrupt_npy_payload_is_refused() -> None:
    item = ItemInput(Payload(b"\x93NUMPY\x01\x00garbage", NPY, "npy"))
    refused(item, "corrupt_payload", sample_rate=RATE)


@pytest.mark.parametrize("options, where", [
    ({"sample_rate": 0}, "sample_rate"), ({"sample_rate": 800_000}, "sample_rate"),
    ({"sample_rate": True}, "sample_rate"), ({"sample_rate": "16000"}, "sample_rate"),
    ({"format": "mp3"}, "format"), ({"quality": 3}, "quality"),
])
def test_options_outside_the_model_are_refused_naming_the_option(options: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidInput) as info:
        CONVERTER.parse_options(options)
    assert info.value.code == "invalid_options" and info.value.message.startswith(f"audio options: {where}:")


# -- files read by soundfile ---------------------------------------------------------------


@pytest.mark.parametrize("fmt, subtype, rate, expected_format, media_type, codec", [
    ("WAV", "PCM_16", RATE, "wav", "audio/wav", "pcm_16"),
    ("WAV", "FLOAT", RATE, "wav", "audio/wav", "float"),
    ("FLAC", "PCM_24", RATE, "flac", "audio/flac", "flac"),
    ("OGG", "VORBIS", RATE, "ogg", "audio/ogg", "vorbis"),
    ("OGG", "OPUS", 48_000, "opus", "audio/ogg", "opus"),
    ("MP3", "MPEG_LAYER_III", RATE, "mp3", "audio/mpeg", "mp3"),
    ("AIFF", "PCM_16", RATE, "aiff", "audio/aiff", "pcm_16"),
])
def test_an_audio_file_soundfile_reads_is_stored_as_given_and_measured(
        fmt: str, subtype: str, rate: int, expected_format: str, media_type: str, codec: str) -> None:
    data = soundfile_bytes(tone(4000, channels=2), fmt, subtype, rate)
    output = run(file_item(data, ext=expected_format))
    assert output.data == data
    assert (output.format, output.media_type) == (expected_format, media_type)
    m = output.measurements
    assert (m["sample_rate"], m["channels"], m["codec"]) == (rate, 2, codec)
    assert m["samples"] == sf.info(io.BytesIO(data)).frames
    assert m["duration"] == round(m["samples"] / rate, 6)
    assert output.warnings == []


def test_a_wav_file_measures_exactly_its_samples() -> None:
    output = run(file_item(soundfile_bytes(tone(1234), "WAV", "PCM_16", 16_000), "wav"))
    assert output.measurements == {"sample_rate": 16_000, "channels": 1, "samples": 1234,
                                   "duration": 0.077125, "codec": "pcm_16"}


# -- files read by PyAV ---------------------------------------------------------------------


@pytest.mark.parametrize("container, codec, rate, expected_format, media_type", [
    ("mp4", "aac", RATE, "m4a", "audio/mp4"),
    ("webm", "libopus", 48_000, "webm", "audio/webm"),
    ("adts", "aac", 16_000, "aac", "audio/aac"),
])
def test_a_compressed_file_soundfile_cannot_read_is_probed_with_pyav(
        container: str, codec: str, rate: int, expected_format: str, media_type: str) -> None:
    data = pyav_bytes(container, codec, rate, samples=4000)
    with pytest.raises(sf.LibsndfileError):
        sf.info(io.BytesIO(data))  # the PyAV path is the one under test
    output = run(file_item(data, ext="bin"))
    assert output.data == data
    assert (output.format, output.media_type) == (expected_format, media_type)
    m = output.measurements
    assert (m["sample_rate"], m["channels"]) == (rate, 1)
    assert m["codec"] == codec.removeprefix("lib")
    # Encoders add priming and padding frames: the decoded count is the input's, plus at most 2 frames.
    assert 4000 <= m["samples"] <= 4000 + 2 * 1024
    assert m["duration"] == round(m["samples"] / rate, 6)
    assert output.warnings == []


def test_a_video_with_a_soundtrack_is_kept_whole_with_a_warning() -> None:
    data = pyav_bytes("mp4", "aac", RATE, video=True)
    output = run(file_item(data, "mp4"))
    assert output.data == data and output.format == "m4a" and output.measurements["channels"] == 1
    assert output.warnings == ["the file also holds 1 other streams (video); the first audio stream was measured, "
                               "the file is stored whole"]


# -- refused files ----------------------------------------------------------------------------


def test_a_text_file_named_wav_is_refused_as_unreadable() -> None:
    message = refused(file_item(b"this is not audio\n" * 20, "wav"), "unreadable_file")
    assert message.startswith("audio file is not audio that soundfile or PyAV can read (360 bytes, starts b'this is ')")
    assert "accepted: wav, flac, ogg (vorbis, opus), mp3, m4a/aac, webm/opus" in message


def test_an_empty_file_is_refused_as_empty() -> None:
    assert refused(file_item(b"", "wav"), "unreadable_file").startswith("audio file is empty (0 bytes)")


def test_an_image_file_is_refused_as_holding_no_audio() -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG")
    message = refused(file_item(buf.getvalue(), "wav"), "not_audio")
    assert "holds no audio stream (found: video)" in message


def test_a_file_with_more_channels_than_the_bound_is_refused_from_its_header() -> None:
    message = refused(file_item(soundfile_bytes(np.zeros((10, 33), np.int16), "WAV", "PCM_16"), "wav"),
                      "too_many_channels")
    assert message == "audio file (wav) has 33 channels; at most 32 are accepted"


@pytest.mark.parametrize("data", [
    soundfile_bytes(tone(2000), "FLAC", "PCM_16"),
    pyav_bytes("mp4", "aac", RATE, samples=2000),
], ids=["flac-soundfile", "m4a-pyav"])
def test_a_file_longer_than_the_bound_is_refused_naming_the_variable(data: bytes) -> None:
    message = refused(file_item(data), "too_large", Limits(max_audio_samples=1500))
    assert message.endswith("samples per channel; the bound is 1500 (DARKROOM_MAX_AUDIO_SAMPLES)")
    assert run(file_item(data), Limits(max_audio_samples=5000)).measurements["samples"] >= 2000


def test_a_flac_file_cut_in_its_header_is_refused() -> None:
    data = soundfile_bytes(tone(2000), "FLAC", "PCM_16")
    with pytest.raises(InvalidInput) as info:
        run(file_item(data[:30], "flac"))
    assert info.value.code in ("unreadable_file", "corrupt_file") and "audio file" in info.value.message


# -- options with files --------------------------------------------------------------------------


def test_a_sample_rate_given_for_a_file_is_ignored_with_a_warning_when_it_differs() -> None:
    data = soundfile_bytes(tone(100), "WAV", "PCM_16", 16_000)
    assert run(file_item(data, "wav"), sample_rate=16_000).warnings == []
    output = run(file_item(data, "wav"), sample_rate=44_100)
    assert output.measurements["sample_rate"] == 16_000
    assert output.warnings == ["sample_rate=44100 ignored: a file keeps its own rate (16000 Hz)"]


def test_a_file_whose_name_disagrees_with_its_contents_is_stored_as_what_it_holds() -> None:
    data = soundfile_bytes(tone(100), "FLAC", "PCM_16")
    output = run(file_item(data, "wav"))
    assert output.format == "flac" and output.data == data
    assert output.warnings == ["the file was given as .wav (its name or format=) but holds flac audio; "
                               "stored as flac"]
    assert run(file_item(soundfile_bytes(tone(100), "OGG", "VORBIS"), "oga")).warnings == []
