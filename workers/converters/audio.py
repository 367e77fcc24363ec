"""Audio: numpy sample arrays to WAV (PCM_16) or FLAC; audio files probed and stored as given.

The rules are MEDIA_TYPES.md's Audio section: arrays are (samples,) or
(samples, channels) with a sample rate; floats are expected in [-1, 1]
(clipped, recorded); int16 and int32 are integer PCM at their own full scale.
A file must decode as audio (soundfile first, PyAV for what libsndfile does
not read); its header is bounded before anything is decoded.
"""

from __future__ import annotations

import dataclasses
import io
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from darkroom.pipeline.audio_layout import (
    MAX_CHANNELS,
    MAX_SAMPLE_RATE,
    MEDIA_TYPES,
    audio_layout,
    check_encodable,
    require_sample_rate,
)
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.optional import optional_import
from darkroom.pipeline.settings import Limits
from darkroom.workers.converters import Converter, ItemInput, Output, Payload
from darkroom.workers.payloads import NPY_MEDIA_TYPE, load_npy

VERSION = "1"
_FILE_FORMATS = "wav, flac, ogg (vorbis, opus), mp3, m4a/aac, webm/opus and the other formats FFmpeg decodes"
_BLOCK = 65_536  # frames decoded at a time when a file is checked

_OUTPUTS = {"wav": ("WAV", "audio/wav", "pcm_16"), "flac": ("FLAC", "audio/flac", "flac")}
# A file name's extension and the format found inside it agree when they are in one family.
_FAMILIES = {
    "wav": "wav", "wave": "wav", "flac": "flac", "ogg": "ogg", "oga": "ogg", "opus": "ogg",
    "mp3": "mp3", "m4a": "mp4", "mp4": "mp4", "aac": "aac", "webm": "mkv", "mka": "mkv", "mkv": "mkv",
    "aiff": "aiff", "aif": "aiff", "au": "au", "caf": "caf", "amr": "amr",
}


class AudioOptions(BaseModel):
    """Options that change the artifact (and so its content address)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Required for arrays; for files only compared with the file's own rate.
    sample_rate: Annotated[StrictInt, Field(ge=1, le=MAX_SAMPLE_RATE)] | None = None
    # The artifact's format for arrays (None: wav); files are stored as given.
    format: Literal["wav", "flac"] | None = None


@dataclasses.dataclass(frozen=True)
class _Probe:
    """What decoding a file found: its format, codec and measured size."""

    format: str
    codec: str
    sample_rate: int
    channels: int
    samples: int


def convert(item: ItemInput, options: AudioOptions, limits: Limits) -> Output:
    """Convert one audio item: an array is encoded, a file is checked and kept.

    Raises
    ------
    InvalidInput: the payload is not acceptable audio, or exceeds a bound; the
        message says what was wrong, what is accepted and which setting bounds it.
    """
    if item.payload.media_type == NPY_MEDIA_TYPE:
        return _from_array(item.payload, options, limits)
    return _from_file(item.payload, options, limits)


# -- arrays -------------------------------------------------------------------------


def _from_array(payload: Payload, options: AudioOptions, limits: Limits) -> Output:
    sample_rate = require_sample_rate(options.sample_rate, "audio array")
    fmt = options.format or "wav"
    sf = _soundfile()
    # load_npy bounds the bytes and returns a view: nothing is allocated before the checks below.
    array = load_npy(payload.data, limits.max_payload_bytes)
    samples, channels = audio_layout(array.shape, "audio array")
    _check_samples(samples, limits, "audio array")
    check_encodable(array.dtype.name, channels, sample_rate, fmt, "audio array")
    warnings: list[str] = []
    pcm = _to_int16(array, warnings)
    sf_format, media_type, codec = _OUTPUTS[fmt]
    buf = io.BytesIO()
    sf.write(buf, pcm, sample_rate, format=sf_format, subtype="PCM_16")
    return Output(
        data=buf.getvalue(), format=fmt, media_type=media_type,
        measurements=_measurements(sample_rate, channels, samples, codec),
        warnings=warnings,
    )


def _check_samples(samples: int, limits: Limits, what: str) -> None:
    if samples > limits.max_audio_samples:
        raise InvalidInput(
            "too_large",
            f"{what} has {samples} samples per channel; the bound is {limits.max_audio_samples} "
            "(DARKROOM_MAX_AUDIO_SAMPLES)",
        )


def _to_int16(array: np.ndarray, warnings: list[str]) -> np.ndarray:
    """16-bit PCM samples: floats clipped to [-1, 1] and scaled by 32767, rounded, never wrapped.

    Works in blocks of rows, so a large clip costs its int16 output and a block of
    float64, not a float64 copy of the whole array.

    Raises
    ------
    InvalidInput (``non_finite``): NaN or infinity, with the count and first position.
    """
    out = np.empty(array.shape, dtype="<i2")
    if array.dtype.kind == "i" and array.dtype.itemsize == 2:  # any byte order: ">i2" != np.int16
        out[...] = array
        return out
    if array.dtype.kind == "i":  # int32: 32-bit PCM to 16-bit, rounded to the nearest step
        lost = sum(int(np.count_nonzero(array[i:i + _BLOCK] & 0xFFFF)) for i in range(0, len(array), _BLOCK))
        if lost:
            warnings.append(f"int32 samples written as 16-bit PCM: {lost} samples rounded to the nearest "
                            "multiple of 65536 (their low 16 bits dropped)")
        for i in range(0, len(array), _BLOCK):
            out[i:i + _BLOCK] = np.clip(np.rint(array[i:i + _BLOCK] / 65536.0), -32768, 32767)
        return out
    bad = ~np.isfinite(array)
    count = int(np.count_nonzero(bad))
    if count:
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape))
        raise InvalidInput(
            "non_finite",
            f"audio has {count} NaN or infinite values (first at {first}); accepted: finite numbers in [-1, 1]",
        )
    outside = int(np.count_nonzero(array > 1.0)) + int(np.count_nonzero(array < -1.0))
    if outside:
        warnings.append(f"audio values {float(array.min()):g}..{float(array.max()):g} clipped to [-1, 1] "
                        f"({outside} of {array.size} values outside)")
    for i in range(0, len(array), _BLOCK):
        block = np.clip(array[i:i + _BLOCK].astype(np.float64), -1.0, 1.0)
        # Scaled by 32767 (not 32768) so that +1.0 fits and -1.0 mirrors it, as libsndfile does.
        out[i:i + _BLOCK] = np.rint(block * 32767.0)
    return out


# -- files --------------------------------------------------------------------------


def _from_file(payload: Payload, options: AudioOptions, limits: Limits) -> Output:
    data = payload.data
    if not data:
        raise InvalidInput("unreadable_file", f"audio file is empty (0 bytes); accepted: {_FILE_FORMATS}")
    warnings: list[str] = []
    probe = _probe_soundfile(data, limits)
    if probe is None:
        probe = _probe_av(data, limits, warnings)
    declared = _FAMILIES.get(payload.ext)
    if declared and declared != _FAMILIES.get(probe.format, probe.format):
        warnings.append(f"the file was given as .{payload.ext} (its name or format=) but holds "
                        f"{probe.format} audio; stored as {probe.format}")
    if options.sample_rate is not None and options.sample_rate != probe.sample_rate:
        warnings.append(f"sample_rate={options.sample_rate} ignored: a file keeps its own rate "
                        f"({probe.sample_rate} Hz)")
    if options.format is not None:
        warnings.append(f"format={options.format!r} ignored: a file is stored as given ({probe.format})")
    return Output(
        data=data, format=probe.format,
        media_type=MEDIA_TYPES.get(probe.format, "application/octet-stream"),
        measurements=_measurements(probe.sample_rate, probe.channels, probe.samples, probe.codec),
        warnings=warnings,
    )


def _check_header(sample_rate: int, channels: int, samples: int | None, limits: Limits, what: str) -> None:
    """Bound what a header claims, before a sample is decoded."""
    if sample_rate <= 0 or channels <= 0:
        raise InvalidInput(
            "corrupt_file", f"{what} header gives {sample_rate} Hz and {channels} channels; accepted: both positive"
        )
    if channels > MAX_CHANNELS:
        raise InvalidInput("too_many_channels",
                           f"{what} has {channels} channels; at most {MAX_CHANNELS} are accepted")
    if samples is not None:
        _check_samples(samples, limits, what)


def _probe_soundfile(data: bytes, limits: Limits) -> _Probe | None:
    """Probe with libsndfile; None when it does not recognise the format (PyAV may)."""
    sf = _soundfile()
    try:
        f = sf.SoundFile(io.BytesIO(data))
    except sf.LibsndfileError:
        # "Format not recognised", but also malformed headers of formats PyAV reads
        # better (an MP3 libsndfile calls "not a regular file"): PyAV has the last word.
        return None
    with f:
        fmt = _soundfile_format(f.format, f.subtype)
        what = f"audio file ({fmt})"
        _check_header(f.samplerate, f.channels, f.frames, limits, what)
        buf = np.empty((_BLOCK, f.channels), dtype=np.int16)
        samples = 0
        try:
            while True:
                got = len(f.read(_BLOCK, dtype="int16", out=buf))
                samples += got
                _check_samples(samples, limits, what)
                if got < _BLOCK:
                    break
        except sf.LibsndfileError as e:
            raise InvalidInput("corrupt_file", f"{what} is truncated or corrupt: {e}") from None
        codec = {"flac": "flac", "mp3": "mp3"}.get(fmt, f.subtype.lower())
        if samples == 0:
            raise InvalidInput("corrupt_file", f"{what} holds no samples; accepted: at least one sample")
        return _Probe(fmt, codec, int(f.samplerate), int(f.channels), samples)


def _soundfile_format(major: str, subtype: str) -> str:
    if major in ("WAV", "WAVEX"):
        return "wav"
    if major == "OGG":
        return "opus" if subtype == "OPUS" else "ogg"
    return re.sub(r"[^a-z0-9]", "", major.lower())[:10] or "bin"


def _probe_av(data: bytes, limits: Limits, warnings: list[str]) -> _Probe:
    """Probe with PyAV (FFmpeg): the first audio stream must decode."""
    av = _pyav()
    av.logging.set_level(av.logging.ERROR)
    try:
        # Tags are not ours to judge: bytes that are not UTF-8 must not fail the file.
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="replace")
    except av.error.FFmpegError:
        raise InvalidInput(
            "unreadable_file",
            f"audio file is not audio that soundfile or PyAV can read ({len(data)} bytes, starts {data[:8]!r}); "
            f"accepted: {_FILE_FORMATS}",
        ) from None
    with container:
        fmt = _container_format(container)
        what = f"audio file ({fmt})"
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise InvalidInput(
                "not_audio",
                f"{what} holds no audio stream (found: {', '.join(kinds)}); accepted: {_FILE_FORMATS}",
            )
        stream = container.streams.audio[0]
        if stream.codec_context is None:  # FFmpeg found a stream but has no decoder for its codec
            raise InvalidInput(
                "unsupported_codec",
                f"{what}: its audio stream's codec has no decoder in this PyAV build; "
                f"accepted: {_FILE_FORMATS}",
            )
        rate, channels = int(stream.codec_context.sample_rate or 0), int(stream.codec_context.channels or 0)
        _check_header(rate, channels, _estimated_samples(container, stream, rate), limits, what)
        others = sorted({s.type for s in container.streams if s.type != "audio"})
        if others or len(container.streams.audio) > 1:
            warnings.append(f"the file also holds {len(container.streams) - 1} other streams "
                            f"({', '.join(others or ['audio'])}); the first audio stream was measured, "
                            "the file is stored whole")
        samples = 0
        try:
            for frame in container.decode(stream):
                samples += int(frame.samples)
                _check_samples(samples, limits, what)
        except av.error.FFmpegError as e:
            raise InvalidInput("corrupt_file", f"{what} is truncated or corrupt: {e}") from None
        if samples == 0:
            raise InvalidInput("corrupt_file", f"{what} holds no decodable audio; accepted: {_FILE_FORMATS}")
        return _Probe(fmt, stream.codec_context.name, rate, channels, samples)


def _estimated_samples(container, stream, rate: int) -> int | None:
    """Samples per channel the container claims, if it says (for the bound before decoding)."""
    if stream.duration is not None and stream.time_base is not None:
        return int(stream.duration * stream.time_base * rate)
    if container.duration is not None and container.duration > 0:
        return int(container.duration * rate // 1_000_000)  # container.duration is in microseconds
    return None


def _container_format(container) -> str:
    """The stored file's extension, from what FFmpeg's probe found (never from the file's name)."""
    names = container.format.name.split(",")
    if "mp4" in names or "mov" in names:
        return "m4a"
    if "matroska" in names or "webm" in names:
        codecs = {_codec_name(s) for s in container.streams}
        return "webm" if codecs and codecs <= {"opus", "vorbis", "vp8", "vp9", "av1"} else "mka"
    if names[0] == "ogg" and {_codec_name(s) for s in container.streams.audio} == {"opus"}:
        return "opus"
    return re.sub(r"[^a-z0-9]", "", names[0].lower())[:10] or "bin"


def _codec_name(stream) -> str:
    return stream.codec_context.name if stream.codec_context is not None else "unknown"


def _measurements(sample_rate: int, channels: int, samples: int, codec: str) -> dict[str, object]:
    return {"sample_rate": sample_rate, "channels": channels, "samples": samples,
            "duration": round(samples / sample_rate, 6), "codec": codec}


# -- optional codecs ----------------------------------------------------------------


def _soundfile() -> Any:
    return optional_import("soundfile", "audio needs soundfile", "audio")


def _pyav() -> Any:
    return optional_import(
        "av", "audio files that soundfile cannot read (m4a, aac, webm, ...) need PyAV", "audio")


CONVERTER = Converter(name="audio", version=VERSION, options_model=AudioOptions, convert=convert)
