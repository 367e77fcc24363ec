"""Tests of darkroom.pipeline.audio_layout: which arrays are audio and what FLAC holds (MEDIA_TYPES.md, Audio)."""

from __future__ import annotations

import pytest

from darkroom.pipeline.audio_layout import audio_layout, check_encodable, require_sample_rate
from darkroom.pipeline.errors import InvalidInput


@pytest.mark.parametrize("shape, layout", [((400,), (400, 1)), ((400, 1), (400, 1)), ((3, 32), (3, 32))])
def test_one_or_two_axes_give_samples_and_channels(shape: tuple[int, ...], layout: tuple[int, int]) -> None:
    assert audio_layout(shape, "audio array") == layout


@pytest.mark.parametrize("shape, code", [
    ((), "invalid_shape"), ((2, 3, 4), "invalid_shape"), ((0,), "invalid_shape"), ((5, 0), "invalid_shape"),
    ((2, 33), "too_many_channels"),
])
def test_other_shapes_are_refused_with_a_code_and_the_name_given(shape: tuple[int, ...], code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        audio_layout(shape, "Audio data")
    assert info.value.code == code and info.value.message.startswith("Audio data ")


@pytest.mark.parametrize("channels, rate", [(8, 65_535), (2, 65_540), (2, 655_350)])
def test_flac_takes_8_channels_and_rates_in_hz_to_65535_then_in_tens_of_hz(channels: int, rate: int) -> None:
    check_encodable("int16", channels, rate, "flac", "audio array")


@pytest.mark.parametrize("channels, rate", [(9, 8000), (2, 65_536), (2, 655_360)])
def test_flac_beyond_that_is_refused_and_wav_takes_it(channels: int, rate: int) -> None:
    with pytest.raises(InvalidInput) as info:
        check_encodable("float32", channels, rate, "flac", "audio array")
    assert info.value.code == "unsupported_format" and "accepted: format='wav'" in info.value.message
    check_encodable("float32", channels, rate, "wav", "audio array")


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int64", "bool"])
def test_dtypes_other_than_float_int16_and_int32_are_refused(dtype: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_encodable(dtype, 1, 8000, "wav", "audio array")
    assert info.value.code == "invalid_dtype" and f"dtype {dtype} is not accepted" in info.value.message


def test_an_array_needs_a_sample_rate() -> None:
    assert require_sample_rate(8000, "audio array") == 8000
    with pytest.raises(InvalidInput) as info:
        require_sample_rate(None, "audio array")
    assert info.value.code == "missing_sample_rate"


def test_at_most_100_clips_under_one_key_in_one_step() -> None:
    from darkroom.pipeline.audio_layout import MAX_CLIPS_PER_KEY, check_clip_count

    assert MAX_CLIPS_PER_KEY == 100
    check_clip_count(100, "clips", 3)
    with pytest.raises(InvalidInput) as info:
        check_clip_count(101, "clips", 3)
    assert (info.value.code, info.value.message) == (
        "too_many_items", "101 audio items under key 'clips' at step 3; at most 100 per key per step")
