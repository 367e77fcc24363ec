"""`darkroom.Audio`: sample arrays with their rate, audio files and file objects."""

from __future__ import annotations

import dataclasses
import io
import numbers
import re
from typing import Any

import numpy as np

from darkroom._media import ArraySnapshot, BytesSnapshot, Media, array_from, file_from

# The same bounds as workers/converters/audio.py, which checks them again: the
# worker never trusts a message, and the SDK fails at the caller's line.
_MAX_CHANNELS = 32
_MAX_SAMPLE_RATE = 768_000
_FLAC_MAX_CHANNELS = 8
_FLAC_MAX_SAMPLE_RATE = 655_350
_ARRAY_FORMATS = ("wav", "flac")
_DTYPES = ("float16", "float32", "float64", "int16", "int32")
_ACCEPTED_DATA = (
    "a numpy array (samples,) or (samples, channels) with sample_rate=, a torch tensor, a nested list, "
    "a path to an audio file, or a binary file object (io.BytesIO)"
)
_FILE_MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "opus": "audio/ogg",
                     "mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac", "webm": "audio/webm"}


class Audio(Media):
    """An audio clip to log.

    Parameters
    ----------
    data: a numpy array (samples,) or (samples, channels) of float (values in
        [-1, 1]), int16 or int32; a torch tensor (read without importing torch);
        a nested list; a path to an audio file; a binary file object (io.BytesIO).
    sample_rate: samples per second; required for arrays, at most 768,000.
        For a file, the file's own rate is used (a different value is recorded
        in the manifest's warnings).
    caption: text kept in the manifest.
    format: for arrays, the artifact's format: "wav" (default, PCM_16) or
        "flac". For a file object, the format of its bytes ("mp3", "m4a", ...),
        used as its extension; for a path, its extension by default. Files are
        stored as given whatever their format; the worker finds what they hold.

    Raises
    ------
    TypeError, ValueError, FileNotFoundError: what was given and what is accepted.
    """

    kind = "audio"

    def __init__(self, data: Any, sample_rate: int | None = None, caption: str | None = None,
                 format: str | None = None):
        super().__init__(caption)
        if format is not None and (not isinstance(format, str) or not re.fullmatch(r"[a-z0-9]{1,10}", format.lower())):
            raise ValueError(f"Audio format={format!r}; accepted: wav or flac for arrays, or a file format "
                             "such as mp3, m4a, ogg for a file object")
        fmt = format.lower() if format is not None else None
        rate = _sample_rate(sample_rate)
        if hasattr(data, "read"):
            self._payload = _file_object(data, fmt)
            self._options = {"sample_rate": rate}
            return
        snap = file_from(data, "Audio", "an existing audio file (wav, flac, ogg, mp3, m4a, ...)")
        if snap is not None:
            self._payload = dataclasses.replace(snap, ext=fmt) if fmt else snap
            self._options = {"sample_rate": rate}
            return
        array = array_from(data, "Audio")
        if array is None:
            raise TypeError(f"Audio got {type(data).__name__}; accepted: {_ACCEPTED_DATA}")
        fmt = fmt or "wav"
        if fmt not in _ARRAY_FORMATS:
            raise ValueError(f"Audio format={fmt!r} for an array; accepted: {', '.join(_ARRAY_FORMATS)}")
        if rate is None:
            raise ValueError("Audio sample_rate is required for an array; got None; "
                             "accepted: a positive int, e.g. Audio(samples, sample_rate=16000)")
        _check_array(array, fmt, rate)
        self._payload = ArraySnapshot(array)
        self._options = {"sample_rate": rate, "format": fmt}


def _sample_rate(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Audio sample_rate must be an int; got {type(value).__name__} {value!r}")
    if not 1 <= int(value) <= _MAX_SAMPLE_RATE:
        raise ValueError(f"Audio sample_rate={int(value)}; accepted: 1 to {_MAX_SAMPLE_RATE} samples per second")
    return int(value)


def _check_array(array: np.ndarray, fmt: str, rate: int) -> None:
    if array.ndim not in (1, 2):
        raise ValueError(f"Audio data has shape {tuple(array.shape)}; accepted: (samples,) or (samples, channels)")
    channels = 1 if array.ndim == 1 else array.shape[1]
    if array.shape[0] == 0 or channels == 0:
        raise ValueError(f"Audio data of shape {tuple(array.shape)} is empty; "
                         "accepted: at least one sample and one channel")
    if channels > _MAX_CHANNELS:
        raise ValueError(
            f"Audio data of shape {tuple(array.shape)} has {channels} channels; at most {_MAX_CHANNELS} are "
            "accepted, as (samples, channels): a (channels, samples) array needs .T"
        )
    if array.dtype.name not in _DTYPES:
        raise TypeError(f"Audio data dtype {array.dtype} is not accepted; "
                        "accepted: float16, float32, float64 (values in [-1, 1]), int16 or int32")
    flac_rate = rate <= 65_535 or (rate <= _FLAC_MAX_SAMPLE_RATE and rate % 10 == 0)
    if fmt == "flac" and (channels > _FLAC_MAX_CHANNELS or not flac_rate):
        raise ValueError(
            f"Audio format='flac' holds at most {_FLAC_MAX_CHANNELS} channels at up to 65535 Hz, or a multiple "
            f"of 10 Hz up to {_FLAC_MAX_SAMPLE_RATE} Hz; got {channels} channels at {rate} Hz; "
            "accepted: format='wav' for this audio"
        )


def _file_object(data: Any, fmt: str | None) -> BytesSnapshot:
    # The bytes are copied now (the caller may reuse the buffer) and parsed only by the worker.
    raw = data.getvalue() if isinstance(data, io.BytesIO) else data.read()
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"Audio file object returned {type(raw).__name__} from read(); "
                        "accepted: a binary file object (opened with 'rb', or io.BytesIO)")
    ext = fmt or "bin"
    return BytesSnapshot(bytes(raw), ext, _FILE_MEDIA_TYPES.get(ext, "application/octet-stream"))
