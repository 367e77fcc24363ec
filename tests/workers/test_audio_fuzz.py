"""Fuzzing the audio converter and `process_request` with audio: an Output or an InvalidInput, never a crash.

Bounded (50 examples each, short arrays, a low sample bound) so the file runs in
seconds.  Where MEDIA_TYPES.md predicts the outcome (an accepted shape, dtype and
rate converts; floats are clipped, never wrapped), the tests check the
prediction, not only the absence of crashes.
"""

from __future__ import annotations

import functools
import hashlib
import io
from typing import Any

import av
import numpy as np
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import Storage
from darkroom.workers.converters import ItemInput, Output, Payload
from darkroom.workers.converters.audio import AudioOptions, convert

from converter_harness import (NPY, byte_flips, check_outcome, convert_request, damaged, file_item, fuzz_settings,
                               npy_bytes, npy_item, processed, put_raw, run_converter, scratch_storage,
                               stored_manifest)

LIMITS = Limits(max_audio_samples=40, max_payload_bytes=1 << 20)
FILE_LIMITS = Limits(max_audio_samples=20_000, max_payload_bytes=1 << 20)
DTYPES = ["bool", "uint8", "int8", "int16", ">i2", "int32", ">i4", "int64", "float16", "float32", "float64", ">f8"]
FUZZ = fuzz_settings(50)


def outcome(item: ItemInput, options: AudioOptions, limits: Limits = LIMITS) -> Output | InvalidInput:
    """Run the converter (converter_harness.run_converter); an Output's measurements must agree."""
    result = run_converter(convert, item, options, limits)
    if isinstance(result, Output):
        m = result.measurements
        assert 1 <= m["channels"] <= 32 and 1 <= m["samples"] <= limits.max_audio_samples and m["sample_rate"] > 0
        assert m["duration"] == round(m["samples"] / m["sample_rate"], 6)
    return result


# -- arrays --------------------------------------------------------------------------------


shapes = st.one_of(
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
    st.tuples(st.integers(0, 50)),
    st.tuples(st.integers(0, 50), st.integers(0, 40)),
)


@st.composite
def audio_arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(shapes)
    if dtype.kind == "f" and draw(st.booleans()):
        # Mostly "ordinary" floats, so both the in-range and the clipping branches get hit.
        bound = draw(st.sampled_from([1.0, 3.0]))
        return draw(hnp.arrays(dtype, shape, elements=st.floats(-bound, bound, width=dtype.itemsize * 8)))
    return draw(hnp.arrays(dtype, shape))  # floats here include NaN and ±inf


options_strategy = st.builds(
    AudioOptions,
    sample_rate=st.one_of(st.none(), st.integers(1, 768_000),
                          st.sampled_from([8000, 44_100, 65_535, 65_536, 96_000, 655_350, 655_351])),
    format=st.sampled_from([None, "wav", "flac"]),
)


def expected_refusal(array: np.ndarray, options: AudioOptions) -> str | None:
    """MEDIA_TYPES.md's rules in the converter's order, restated independently of its code."""
    if options.sample_rate is None:
        return "missing_sample_rate"
    if array.ndim not in (1, 2):
        return "invalid_shape"
    samples, channels = array.shape[0], (array.shape[1] if array.ndim == 2 else 1)
    if samples == 0 or channels == 0:
        return "invalid_shape"
    if channels > 32:
        return "too_many_channels"
    if samples > LIMITS.max_audio_samples:
        return "too_large"
    if array.dtype.name not in ("float16", "float32", "float64", "int16", "int32"):
        return "invalid_dtype"
    rate = options.sample_rate
    flac_rate = rate <= 65_535 or (rate <= 655_350 and rate % 10 == 0)  # FLAC above 65535 Hz: tens of Hz
    if options.format == "flac" and (channels > 8 or not flac_rate):
        return "unsupported_format"
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return "non_finite"
    return None


def expected_pcm(array: np.ndarray) -> np.ndarray:
    values = array.astype(np.float64).reshape(array.shape[0], -1)
    if array.dtype.kind == "f":
        return np.rint(np.clip(values, -1, 1) * 32767).astype(np.int16)
    if array.dtype.itemsize == 4:
        return np.clip(np.rint(values / 65536), -32768, 32767).astype(np.int16)
    return values.astype(np.int16)


@FUZZ
@given(array=audio_arrays(), options=options_strategy)
def test_any_array_converts_to_the_predicted_samples_or_is_refused_as_predicted(
        array: np.ndarray, options: AudioOptions) -> None:
    result = outcome(npy_item(array), options)
    refusal = expected_refusal(array, options)
    if refusal is not None:
        assert isinstance(result, InvalidInput) and result.code == refusal, result
        return
    assert isinstance(result, Output), result
    assert result.format == (options.format or "wav")
    samples, rate = sf.read(io.BytesIO(result.data), dtype="int16", always_2d=True)
    assert rate == options.sample_rate
    np.testing.assert_array_equal(samples, expected_pcm(array))
    clipped = array.dtype.kind == "f" and bool((np.abs(array.astype(np.float64)) > 1).any())
    assert any("clipped" in w for w in result.warnings) == clipped


@FUZZ
@given(array=audio_arrays(), cut=st.integers(0, 200), flips=byte_flips(4))
def test_truncated_or_damaged_npy_payloads_never_crash(array: np.ndarray, cut: int,
                                                       flips: list[tuple[int, int]]) -> None:
    outcome(ItemInput(Payload(damaged(npy_bytes(array), flips, cut), NPY, "npy")), AudioOptions(sample_rate=8000))


# -- files ------------------------------------------------------------------------------------

MAGICS = [b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"fLaC", b"OggS\x00\x02", b"ID3\x03\x00", b"\xff\xfb\x90",
          b"\xff\xf1", b"\x00\x00\x00\x20ftypM4A ", b"\x1aE\xdf\xa3", b"FORM\x00\x00\x00\x00AIFF", b"caff",
          b".snd", b"#!AMR\n", b"\x89PNG\r\n\x1a\n", b"\x93NUMPY"]


@FUZZ
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=2000), ext=st.sampled_from(["wav", "mp3", "bin"]))
def test_random_bytes_as_an_audio_file_are_refused_or_measured(magic: bytes, body: bytes, ext: str) -> None:
    result = outcome(file_item(magic + body, ext), AudioOptions(), FILE_LIMITS)
    if isinstance(result, Output):
        assert result.data == magic + body  # stored as given


def _tone(samples: int, channels: int) -> np.ndarray:
    t = np.arange(samples)[:, None] * (np.arange(channels)[None, :] + 1)
    return (0.4 * np.sin(t / 7.0)).astype(np.float32)


@functools.cache
def audio_file(kind: str, channels: int) -> tuple[bytes, int, int]:
    """A valid file of `kind` (a soundfile format or a PyAV container), its sample rate and channels."""
    samples = 3000
    if kind.startswith("sf:"):
        fmt, subtype = kind[3:].split("/")
        rate = 48_000 if subtype == "OPUS" else 8000
        buf = io.BytesIO()
        sf.write(buf, _tone(samples, channels), rate, format=fmt, subtype=subtype)
        return buf.getvalue(), rate, channels
    container, codec = kind[3:].split("/")
    rate = 48_000 if codec == "libopus" else 16_000
    layout = {1: "mono", 2: "stereo"}[channels]
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = layout
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(_tone(samples, channels).T), format="fltp",
                                           layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue(), rate, channels


FILE_KINDS = ["sf:WAV/PCM_16", "sf:WAV/FLOAT", "sf:FLAC/PCM_16", "sf:OGG/VORBIS", "sf:OGG/OPUS",
              "sf:MP3/MPEG_LAYER_III", "sf:AIFF/PCM_24", "av:mp4/aac", "av:webm/libopus", "av:adts/aac"]
audio_files = st.builds(audio_file, st.sampled_from(FILE_KINDS), st.sampled_from([1, 2]))


@FUZZ
@given(file=audio_files, sample_rate=st.one_of(st.none(), st.sampled_from([8000, 16_000, 44_100])))
def test_a_valid_audio_file_of_any_format_is_stored_as_given_at_its_rate(
        file: tuple[bytes, int, int], sample_rate: int | None) -> None:
    data, rate, channels = file
    result = outcome(file_item(data), AudioOptions(sample_rate=sample_rate), FILE_LIMITS)
    assert isinstance(result, Output), result
    m = result.measurements
    assert result.data == data and (m["sample_rate"], m["channels"]) == (rate, channels)
    # 3000 samples were encoded; AAC adds priming and padding, at most two 1024-sample frames.
    assert 3000 <= m["samples"] <= 3000 + 2 * 1024
    ignored = sample_rate is not None and sample_rate != rate
    assert any("ignored" in w for w in result.warnings) == ignored


@FUZZ
@given(file=audio_files, cut=st.integers(0, 3000), flips=byte_flips(6, max_position=100_000))
def test_truncated_or_damaged_audio_files_never_crash(file: tuple[bytes, int, int], cut: int,
                                                     flips: list[tuple[int, int]]) -> None:
    outcome(file_item(damaged(file[0], flips, cut)), AudioOptions(), FILE_LIMITS)


# -- process_request end to end ------------------------------------------------------------------


ITEM_KINDS = ["array", "file", "bytes", "text", "missing", "mismatch"]


@st.composite
def item_specs(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(ITEM_KINDS))
    if kind == "array":
        return kind, draw(audio_arrays())
    if kind == "file":
        return kind, draw(audio_files)[0]
    if kind == "bytes":
        return kind, draw(st.sampled_from(MAGICS)) + draw(st.binary(max_size=300))
    return kind, None


def build_item(storage: Storage, index: int, kind: str, value: Any) -> dict[str, Any]:
    good = put_raw(storage, npy_bytes(np.full(8, index, np.int16)))
    item: dict[str, Any] = {"index": index, "source": good}
    if kind == "array":
        item["source"] = put_raw(storage, npy_bytes(value))
    elif kind in ("file", "bytes"):
        item["source"] = put_raw(storage, value, "bin", "application/octet-stream")
    elif kind == "text":
        item["source"] = put_raw(storage, b"not audio at all\n" * 5, "wav", "application/octet-stream")
    elif kind == "missing":
        storage.delete(storage.key_of(good["uri"]))
    elif kind == "mismatch":
        item["source"] = dict(good, sha256=hashlib.sha256(b"other").hexdigest())
    return item


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**7), st.floats(allow_nan=False),
                      st.text(max_size=5))
request_options = st.one_of(
    st.just({"sample_rate": 8000}), st.builds(lambda o: o.model_dump(), options_strategy),
    st.dictionaries(st.sampled_from(["sample_rate", "format", "bitrate"]), json_leaf, max_size=2),
)


@fuzz_settings(40)
@given(specs=st.lists(item_specs(), min_size=1, max_size=4), options=request_options, repeat=st.booleans())
def test_every_audio_item_of_any_request_gets_an_ok_or_failed_manifest(
        specs: list[tuple[str, Any]], options: dict[str, Any], repeat: bool) -> None:
    with scratch_storage() as storage:
        items = [build_item(storage, i, kind, value) for i, (kind, value) in enumerate(specs)]
        request = convert_request("audio", items, options)
        for (kind, _), manifest in zip(specs, processed(storage, request, FILE_LIMITS, repeat)):
            stored = stored_manifest(storage, request, manifest)
            if stored.status == "ok":
                assert kind not in ("text", "missing", "mismatch")
                extra = stored.artifact.model_extra
                assert {"sample_rate", "channels", "samples", "duration"} <= set(extra)
            else:
                assert stored.error.code and stored.error.message
            check_outcome(storage, stored)
