"""`darkroom.Audio`: sample arrays with their rate, audio files and file objects."""

from __future__ import annotations

import dataclasses
import numbers
import re
from typing import Any

import numpy as np

from darkroom._media import ArraySnapshot, Media, array_from, binary_file_object, file_from
from darkroom._media_attrs import AudioAttributes
from darkroom.pipeline.audio_layout import (
    ACCEPTED_SHAPES,
    ARRAY_FORMATS,
    MAX_SAMPLE_RATE,
    MEDIA_TYPES,
    audio_layout,
    check_encodable,
    require_sample_rate,
)
from darkroom.pipeline.errors import InvalidInput

_ACCEPTED_DATA = (
    f"a numpy array {ACCEPTED_SHAPES} with sample_rate=, a torch tensor, a nested list, "
    "a path to an audio file, or a binary file object (io.BytesIO)"
)


class Audio(AudioAttributes, Media):
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
            self._payload = binary_file_object(data, fmt, MEDIA_TYPES, "Audio")
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
        if fmt not in ARRAY_FORMATS:
            raise ValueError(f"Audio format={fmt!r} for an array; accepted: {', '.join(ARRAY_FORMATS)}")
        _check_array(array, fmt, rate)
        self._payload = ArraySnapshot(array)
        self._options = {"sample_rate": rate, "format": fmt}


def _sample_rate(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Audio sample_rate must be an int; got {type(value).__name__} {value!r}")
    if not 1 <= int(value) <= MAX_SAMPLE_RATE:
        raise ValueError(f"Audio sample_rate={int(value)}; accepted: 1 to {MAX_SAMPLE_RATE} samples per second")
    return int(value)


def _check_array(array: np.ndarray, fmt: str, rate: int | None) -> None:
    # The worker's rules (darkroom.pipeline.audio_layout), raised as the caller's TypeError or ValueError.
    try:
        sample_rate = require_sample_rate(rate, "Audio data")
        _, channels = audio_layout(array.shape, "Audio data")
        check_encodable(array.dtype.name, channels, sample_rate, fmt, "Audio data")
    except InvalidInput as e:
        raise (TypeError if e.code == "invalid_dtype" else ValueError)(e.message) from None
