"""Which sample arrays are audio, and what WAV and FLAC can hold (MEDIA_TYPES.md, Audio).

One rule, used twice: the SDK applies it at construction (a cheap check on the
caller's thread) and the worker applies it again, because workers never trust
a message.  `what` names the argument in the message ("Audio data" in the SDK,
"audio array" in the worker).
"""

from __future__ import annotations

from darkroom.pipeline.errors import InvalidInput

# 32 channels covers 22.2 surround and common microphone arrays; a (2, 48000)
# array read as 48000 channels is the usual mistake this bound catches.
MAX_CHANNELS = 32
# The highest rate sold in audio interfaces (768 kHz); WAV's header would take 2**32 - 1.
MAX_SAMPLE_RATE = 768_000
# libsndfile's FLAC encoder refuses more than 8 channels ("Format not recognised")
# and rates above 655,350 Hz, or above 65,535 Hz unless a multiple of 10 (a FLAC
# frame header codes a rate in Hz up to 65535, else in tens of Hz); measured
# with libsndfile 1.2.2 / libFLAC 1.4.3 ("problem with initialization of the flac decoder").
FLAC_MAX_SAMPLE_RATE = 655_350
FLAC_MAX_CHANNELS = 8
# Clips under one key in one step (MEDIA_TYPES.md, Audio): a viewer lists them
# in one row, and each is a player.  Checked at log() and again by the worker.
MAX_CLIPS_PER_KEY = 100
ACCEPTED_SHAPES = "(samples,) or (samples, channels)"
# The formats an array is written as (a file is stored in its own).
ARRAY_FORMATS = ("wav", "flac")
_DTYPES = ("float16", "float32", "float64", "int16", "int32")
_ACCEPTED_DTYPES = "float16, float32, float64 (values in [-1, 1]), int16 or int32"
# A file's format (its extension) to the media type it is stored and served with.
MEDIA_TYPES = {
    "wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "opus": "audio/ogg", "mp3": "audio/mpeg",
    "m4a": "audio/mp4", "aac": "audio/aac", "webm": "audio/webm", "mka": "audio/x-matroska",
    "aiff": "audio/aiff", "au": "audio/basic", "caf": "audio/x-caf", "amr": "audio/amr",
}


def require_sample_rate(sample_rate: int | None, what: str) -> int:
    """The sample rate of an array, which has none of its own.

    Raises
    ------
    InvalidInput (``missing_sample_rate``): `sample_rate` is None.
    """
    if sample_rate is None:
        raise InvalidInput("missing_sample_rate", f"{what} has no sample_rate; "
                           "accepted: a positive int, e.g. Audio(samples, sample_rate=16000)")
    return sample_rate


def check_clip_count(count: int, key: str, step: int) -> None:
    """Refuse more than MAX_CLIPS_PER_KEY audio clips logged under `key` at `step`.

    The SDK calls it with the length of the logged list, the worker with the
    number of items in a request (one request holds one key's list).

    Raises
    ------
    InvalidInput (``too_many_items``).
    """
    if count > MAX_CLIPS_PER_KEY:
        raise InvalidInput("too_many_items", f"{count} audio items under key {key!r} at step {step}; "
                           f"at most {MAX_CLIPS_PER_KEY} per key per step")


def audio_layout(shape: tuple[int, ...], what: str) -> tuple[int, int]:
    """(samples, channels) of an array of `shape`.

    Raises
    ------
    InvalidInput (``invalid_shape``): not 1-D or 2-D, or empty.
    InvalidInput (``too_many_channels``): more than MAX_CHANNELS, as a (channels, samples) array has.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (1, 2):
        raise InvalidInput("invalid_shape", f"{what} has shape {shape}; accepted: {ACCEPTED_SHAPES}")
    samples, channels = shape[0], 1 if len(shape) == 1 else shape[1]
    if samples == 0 or channels == 0:
        raise InvalidInput("invalid_shape", f"{what} of shape {shape} is empty; "
                           "accepted: at least one sample and one channel")
    if channels > MAX_CHANNELS:
        raise InvalidInput(
            "too_many_channels",
            f"{what} of shape {shape} has {channels} channels; at most {MAX_CHANNELS} are accepted, "
            "as (samples, channels): a (channels, samples) array needs .T",
        )
    return samples, channels


def check_encodable(dtype: str, channels: int, sample_rate: int, fmt: str, what: str) -> None:
    """Refuse samples of a dtype darkroom does not read, or audio that `fmt` ("wav", "flac") cannot hold.

    Raises
    ------
    InvalidInput (``invalid_dtype``): not float16/32/64, int16 or int32.
    InvalidInput (``unsupported_format``): FLAC beyond its channels or rates.
    """
    if dtype not in _DTYPES:
        raise InvalidInput("invalid_dtype", f"{what} dtype {dtype} is not accepted; accepted: {_ACCEPTED_DTYPES}")
    flac_rate = sample_rate <= 65_535 or (sample_rate <= FLAC_MAX_SAMPLE_RATE and sample_rate % 10 == 0)
    if fmt == "flac" and (channels > FLAC_MAX_CHANNELS or not flac_rate):
        raise InvalidInput(
            "unsupported_format",
            f"{what} has {channels} channels at {sample_rate} Hz; format='flac' holds at most "
            f"{FLAC_MAX_CHANNELS} channels at up to 65535 Hz, or a multiple of 10 Hz up to "
            f"{FLAC_MAX_SAMPLE_RATE} Hz; accepted: format='wav' for this audio",
        )
