"""darkroom.Audio: what the constructor snapshots and what it refuses (MEDIA_TYPES.md, Audio).

The constructor needs no run.  The last test logs every accepted form in one
embedded run and decodes the stored audio back, so "snapshotted" is checked end to end.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import darkroom
from tensor_doubles import DuckTensor
from darkroom._media import ArraySnapshot, BytesSnapshot, FileSnapshot

SHAPES_TEXT = "accepted: (samples,) or (samples, channels)"



def tone(samples: int = 400, channels: int | None = None) -> np.ndarray:
    mono = 0.5 * np.sin(np.arange(samples) / 5.0)
    return mono if channels is None else np.stack([mono / (c + 1) for c in range(channels)], axis=1)


def wav_bytes(array: np.ndarray, rate: int = 8000, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, array, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def m4a_bytes(rate: int = 16_000, samples: int = 3000) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(tone(samples).astype(np.float32).reshape(1, -1), format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


def pcm16(values: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(values, -1, 1) * 32767).astype(np.int16)


# -- arrays ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(400,), (400, 1), (400, 2), (3, 32)])
def test_every_accepted_shape_is_snapshotted_as_a_private_copy(shape: tuple[int, ...]) -> None:
    array = np.zeros(shape, np.float32)
    audio = darkroom.Audio(array, sample_rate=16_000)
    array[0] = 0.5  # the caller reuses its buffer after log()
    payload = audio._payload
    assert isinstance(payload, ArraySnapshot) and payload.array.shape == shape
    assert not payload.array.any()
    assert audio._options == {"sample_rate": 16_000, "format": "wav"}
    assert audio.kind == "audio" and audio.caption is None


def test_a_tensor_a_nested_list_and_a_numpy_integer_rate_are_accepted() -> None:
    backing = np.array([0.1, -0.2, 0.3], np.float32)
    from_tensor = darkroom.Audio(DuckTensor(backing), sample_rate=np.int64(8000), caption="t")
    backing[:] = 0
    np.testing.assert_array_equal(from_tensor._payload.array, np.array([0.1, -0.2, 0.3], np.float32))
    assert from_tensor._options["sample_rate"] == 8000 and type(from_tensor._options["sample_rate"]) is int
    from_list = darkroom.Audio([[0.0, 0.5], [0.25, -1.0]], sample_rate=8000, format="FLAC")
    assert from_list._payload.array.shape == (2, 2) and from_list._options["format"] == "flac"


def test_an_array_without_a_sample_rate_is_refused_naming_the_argument() -> None:
    with pytest.raises(ValueError) as info:
        darkroom.Audio(tone())
    assert str(info.value) == ("Audio data has no sample_rate; "
                               "accepted: a positive int, e.g. Audio(samples, sample_rate=16000)")


@pytest.mark.parametrize("rate, error, text", [
    (True, TypeError, "Audio sample_rate must be an int; got bool True"),
    (16000.0, TypeError, "Audio sample_rate must be an int; got float 16000.0"),
    ("16000", TypeError, "Audio sample_rate must be an int; got str '16000'"),
    (0, ValueError, "Audio sample_rate=0; accepted: 1 to 768000 samples per second"),
    (800_000, ValueError, "Audio sample_rate=800000; accepted: 1 to 768000 samples per second"),
])
def test_a_sample_rate_that_is_not_a_positive_int_is_refused(rate, error, text) -> None:
    with pytest.raises(error) as info:
        darkroom.Audio(tone(), sample_rate=rate)
    assert str(info.value) == text


@pytest.mark.parametrize("shape", [(), (2, 3, 4)])
def test_another_rank_is_refused_naming_the_shape_and_the_accepted_ones(shape) -> None:
    with pytest.raises(ValueError) as info:
        darkroom.Audio(np.zeros(shape), sample_rate=8000)
    assert str(info.value) == f"Audio data has shape {shape}; {SHAPES_TEXT}"


def test_an_empty_array_is_refused_as_empty() -> None:
    with pytest.raises(ValueError, match=r"shape \(0, 2\) is empty; accepted: at least one sample"):
        darkroom.Audio(np.zeros((0, 2)), sample_rate=8000)


def test_a_channels_first_array_is_refused_with_the_transpose_hint() -> None:
    with pytest.raises(ValueError) as info:
        darkroom.Audio(np.zeros((2, 48_000)), sample_rate=48_000)
    assert str(info.value) == ("Audio data of shape (2, 48000) has 48000 channels; at most 32 are accepted, "
                               "as (samples, channels): a (channels, samples) array needs .T")


@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool"])
def test_a_dtype_other_than_float_int16_or_int32_is_refused(dtype: str) -> None:
    with pytest.raises(TypeError) as info:
        darkroom.Audio(np.zeros(10, dtype), sample_rate=8000)
    assert str(info.value) == (f"Audio data dtype {dtype} is not accepted; "
                               "accepted: float16, float32, float64 (values in [-1, 1]), int16 or int32")


def test_a_string_array_is_refused_naming_its_dtype() -> None:
    with pytest.raises(TypeError, match=r"Audio: array dtype <U1 is not accepted"):
        darkroom.Audio(["a", "b"], sample_rate=8000)


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_an_array_format_other_than_wav_or_flac_is_refused(fmt: str) -> None:
    with pytest.raises(ValueError) as info:
        darkroom.Audio(tone(), sample_rate=8000, format=fmt)
    assert str(info.value) == f"Audio format={fmt!r} for an array; accepted: wav, flac"


@pytest.mark.parametrize("fmt", ["", "../x", 3, "toolongformat"])
def test_a_format_that_is_not_a_short_name_is_refused(fmt) -> None:
    with pytest.raises(ValueError, match=r"Audio format=.*; accepted: wav or flac for arrays"):
        darkroom.Audio(tone(), sample_rate=8000, format=fmt)


@pytest.mark.parametrize("shape, rate", [((10, 9), 8000), ((10, 2), 65_537), ((10, 2), 700_000)])
def test_flac_beyond_its_channels_or_rates_is_refused_pointing_to_wav(shape, rate) -> None:
    with pytest.raises(ValueError) as info:
        darkroom.Audio(np.zeros(shape, np.int16), sample_rate=rate, format="flac")
    assert str(info.value) == (
        f"Audio data has {shape[1]} channels at {rate} Hz; format='flac' holds at most 8 channels at up to "
        "65535 Hz, or a multiple of 10 Hz up to 655350 Hz; accepted: format='wav' for this audio")
    darkroom.Audio(np.zeros(shape, np.int16), sample_rate=rate)  # wav takes it


def test_something_that_is_not_audio_is_refused_listing_what_is_accepted() -> None:
    with pytest.raises(TypeError) as info:
        darkroom.Audio({"samples": [0.0]}, sample_rate=8000)
    assert str(info.value).startswith("Audio got dict; accepted: a numpy array (samples,) or (samples, channels)")


def test_a_caption_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match=r"caption must be a str; got int 3"):
        darkroom.Audio(tone(), sample_rate=8000, caption=3)


# -- files and file objects -------------------------------------------------------------------------


def test_a_path_is_snapshotted_by_name_and_never_read_on_the_callers_thread(tmp_path: Path) -> None:
    path = tmp_path / "clip.MP3"
    path.write_bytes(b"not even read here")
    audio = darkroom.Audio(path, caption="c")
    assert audio._payload == FileSnapshot(str(path.resolve()), "mp3")
    assert audio._options == {"sample_rate": None}
    relabelled = darkroom.Audio(str(path), sample_rate=44_100, format="wav")
    assert relabelled._payload.ext == "wav" and relabelled._options == {"sample_rate": 44_100}


def test_a_missing_path_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError) as info:
        darkroom.Audio(missing)
    assert str(info.value) == (f"Audio: no file at {str(missing)!r}; "
                               "accepted: an existing audio file (wav, flac, ogg, mp3, m4a, ...)")


def test_a_bytesio_is_copied_whole_with_its_format_as_extension() -> None:
    buf = io.BytesIO(b"ID3 and some mp3 frames")
    buf.seek(5)
    audio = darkroom.Audio(buf, format="mp3")
    buf.seek(0)
    buf.write(b"XXX")  # reused after log(): the snapshot keeps what was there
    assert audio._payload == BytesSnapshot(b"ID3 and some mp3 frames", "mp3", "audio/mpeg")
    unnamed = darkroom.Audio(io.BytesIO(b"abc"))
    assert unnamed._payload == BytesSnapshot(b"abc", "bin", "application/octet-stream")


def test_an_open_binary_file_is_read_and_a_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clip.flac"
    path.write_bytes(b"fLaC...")
    with open(path, "rb") as f:
        assert darkroom.Audio(f, format="flac")._payload == BytesSnapshot(b"fLaC...", "flac", "audio/flac")
    with open(path, encoding="latin-1") as f, pytest.raises(TypeError) as info:
        darkroom.Audio(f)
    assert str(info.value) == ("Audio file object returned str from read(); "
                               "accepted: a binary file object (opened with 'rb', or io.BytesIO)")


def test_building_audio_loads_no_codec() -> None:
    code = ("import json, sys, io, numpy as np, darkroom\n"
            "darkroom.Audio(np.zeros(10), sample_rate=8000); darkroom.Audio(io.BytesIO(b'x'), format='mp3')\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('soundfile', 'av', 'pydantic', 'PIL', 'darkroom.workers'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


# -- end to end -------------------------------------------------------------------------------------


def test_a_run_stores_arrays_as_wav_or_flac_and_files_as_given(embedded_env, tmp_path: Path) -> None:
    mono = tone(800)
    mono[5] = 1.5  # clipped, and recorded
    stereo = (tone(600, channels=2) * 32767).astype(np.int16)
    mp3 = wav_bytes(tone(2000), 22_050, "MP3", "MPEG_LAYER_III")
    mp3_path = tmp_path / "speech.mp3"
    mp3_path.write_bytes(mp3)
    m4a = m4a_bytes()
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are notes, not audio\n")
    nan = tone(10)
    nan[4] = np.nan

    run = darkroom.init(project="audio")
    run.log({"mono": darkroom.Audio(mono, sample_rate=16_000, caption="a tone"),
             "stereo": darkroom.Audio(stereo, sample_rate=8000, format="flac"),
             "mp3": darkroom.Audio(mp3_path, sample_rate=16_000),
             "m4a": darkroom.Audio(io.BytesIO(m4a), format="m4a")})
    run.log({"clips": [darkroom.Audio(tone(100) * (i + 1) / 4, sample_rate=8000) for i in range(3)],
             "bad": [darkroom.Audio(not_audio), darkroom.Audio(nan, sample_rate=8000)]})
    report = run.finish(quiet=True)

    assert (report.converted, report.pending, report.spooled) == (4 + 3, 0, 0)
    assert [(f.key, f.step, f.index, f.code) for f in report.failed] == [
        ("bad", 1, 0, "unreadable_file"), ("bad", 1, 1, "non_finite")]
    assert "audio file is not audio that soundfile or PyAV can read" in report.failed[0].message
    assert "audio has 1 NaN or infinite values (first at (4,))" in report.failed[1].message

    reader = darkroom.Api().run(run.path)

    def read(key: str, index: int = 0) -> tuple[dict, bytes]:
        manifest = reader.manifests(key=key)[index]
        assert manifest["status"] == "ok" and manifest["kind"] == "audio", manifest
        return manifest, reader.read(manifest)

    manifest, data = read("mono")
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == 16_000 and manifest["caption"] == "a tone"
    np.testing.assert_array_equal(samples, pcm16(mono))
    art = manifest["artifact"]
    assert (art["format"], art["media_type"], art["sample_rate"], art["channels"], art["samples"],
            art["duration"]) == ("wav", "audio/wav", 16_000, 1, 800, 0.05)
    assert manifest["warnings"] == [f"audio values {mono.min():g}..1.5 clipped to [-1, 1] (1 of 800 values outside)"]

    manifest, data = read("stereo")
    assert manifest["artifact"]["format"] == "flac" and data.startswith(b"fLaC")
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == 8000
    np.testing.assert_array_equal(samples, stereo)

    manifest, data = read("mp3")
    assert data == mp3
    art = manifest["artifact"]
    assert (art["format"], art["media_type"], art["sample_rate"], art["channels"]) == ("mp3", "audio/mpeg", 22_050, 1)
    assert manifest["warnings"] == ["sample_rate=16000 ignored: a file keeps its own rate (22050 Hz)"]

    manifest, data = read("m4a")
    assert data == m4a
    assert (manifest["artifact"]["format"], manifest["artifact"]["codec"]) == ("m4a", "aac")
    assert manifest["artifact"]["sample_rate"] == 16_000

    for i in range(3):
        manifest, data = read("clips", i)
        assert manifest["index"] == i
        np.testing.assert_array_equal(sf.read(io.BytesIO(data), dtype="int16")[0], pcm16(tone(100) * (i + 1) / 4))


def test_more_than_100_clips_under_one_key_in_a_step_are_refused_at_log(embedded_env):
    import warnings as _warnings

    clips = [darkroom.Audio(np.zeros(10, dtype=np.float32), sample_rate=8000) for _ in range(101)]
    run = darkroom.init(project="audio-bound")
    with _warnings.catch_warnings(record=True) as record:
        _warnings.simplefilter("always")
        run.log({"clips": clips, "ok": 1})
    assert any("101 audio items under key 'clips' at step 0; at most 100 per key per step" in str(w.message)
               for w in record)
    report = run.finish(quiet=True)
    assert report.converted == 0 and report.failed == []
