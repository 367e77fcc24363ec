"""workers/payloads.py: .npy payloads read without pickle, sizes checked before allocating."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from darkroom.pipeline.errors import InvalidInput
from darkroom.workers.payloads import load_npy

MAX = 1 << 20


def npy_bytes(array: np.ndarray, **kwargs) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False, **kwargs)
    return buf.getvalue()


def handmade_npy(shape: str, descr: str = "<u1", data: bytes = b"", fortran: bool = False) -> bytes:
    """An .npy v1.0 file whose header says whatever the test wants."""
    header = "{'descr': %r, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    assert (10 + len(header)) % 64 == 0
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + data


def refused(data: bytes, code: str, max_bytes: int = MAX) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        load_npy(data, max_bytes)
    assert info.value.code == code, info.value.message
    assert info.value.message
    return info.value


class MakesADirectoryWhenUnpickled:
    """Unpickling this runs os.mkdir(path): proof that something was unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (str(self.path),))


@pytest.mark.parametrize(
    "dtype", ["bool", "uint8", "int8", "int16", "uint16", "int32", "int64", "uint64",
              "float16", "float32", "float64", ">u2", ">f8", "<i4"],
)
def test_every_numeric_dtype_round_trips_unchanged(dtype: str) -> None:
    array = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    loaded = load_npy(npy_bytes(array), MAX)
    assert loaded.dtype == array.dtype
    assert loaded.shape == (2, 3, 4)
    np.testing.assert_array_equal(loaded, array)


def test_a_fortran_ordered_array_keeps_its_values_and_shape() -> None:
    array = np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4))
    loaded = load_npy(npy_bytes(array), MAX)
    np.testing.assert_array_equal(loaded, array)


def test_an_npy_file_of_format_version_2_is_read() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=(2, 0), allow_pickle=False)
    assert buf.getvalue()[6:8] == b"\x02\x00"
    np.testing.assert_array_equal(load_npy(buf.getvalue(), MAX), array)


def test_an_empty_array_is_read_as_empty() -> None:
    loaded = load_npy(npy_bytes(np.zeros((0, 5), np.uint8)), MAX)
    assert loaded.shape == (0, 5)


def test_an_object_array_is_refused_as_invalid_dtype_without_being_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    buf = io.BytesIO()
    np.save(buf, np.array([MakesADirectoryWhenUnpickled(marker)], dtype=object), allow_pickle=True)
    data = buf.getvalue()

    error = refused(data, "invalid_dtype")
    assert "object" in error.message
    assert "accepted: bool, integer or float" in error.message
    assert not marker.exists()

    # The payload really does run code when unpickled: the check above can fail.
    np.load(io.BytesIO(data), allow_pickle=True)
    assert marker.is_dir()


def test_a_pickle_stream_that_is_not_an_npy_file_is_refused_as_corrupt(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    refused(pickle.dumps(MakesADirectoryWhenUnpickled(marker)), "corrupt_payload")
    assert not marker.exists()


@pytest.mark.parametrize(
    "array",
    [np.array(["abc"]), np.array([b"abc"]), np.array([1 + 2j]),
     np.zeros(2, dtype=[("x", "<f4"), ("y", "<i2")]), np.array([1], dtype="datetime64[s]")],
    ids=["unicode", "bytes", "complex", "structured", "datetime"],
)
def test_non_numeric_dtypes_are_refused_as_invalid_dtype(array: np.ndarray) -> None:
    error = refused(npy_bytes(array), "invalid_dtype")
    assert str(array.dtype) in error.message


def test_a_header_claiming_a_huge_shape_is_refused_as_too_large_before_reading_data() -> None:
    # 1e12 float64 values = 8 TB: allocating would fail loudly, the bound comes first.
    data = handmade_npy("(1000000, 1000000)", "<f8", b"\0" * 64)
    error = refused(data, "too_large", max_bytes=256 * 1024 * 1024)
    assert "(1000000, 1000000)" in error.message
    assert "8000000000000 bytes" in error.message
    assert "DARKROOM_MAX_PAYLOAD_BYTES" in error.message


def test_an_array_one_byte_over_the_bound_is_too_large_and_one_at_it_is_read() -> None:
    array = np.zeros((10, 10), np.uint8)
    np.testing.assert_array_equal(load_npy(npy_bytes(array), 100), array)
    error = refused(npy_bytes(array), "too_large", max_bytes=99)
    assert "bound of 99 bytes" in error.message


def test_truncated_array_data_is_refused_as_corrupt_payload() -> None:
    data = npy_bytes(np.arange(100, dtype=np.int32))
    error = refused(data[:-1], "corrupt_payload")
    assert "truncated" in error.message
    assert "399 of 400" in error.message


def test_a_truncated_header_is_refused_as_corrupt_payload() -> None:
    data = npy_bytes(np.arange(10, dtype=np.int32))
    for cut in (0, 3, 8, 11, 40):
        refused(data[:cut], "corrupt_payload")


@pytest.mark.parametrize("data", [b"", b"hello world", np.random.default_rng(3).bytes(512), b"\x89PNG\r\n\x1a\n" + b"\0" * 40],
                         ids=["empty", "text", "random", "png-signature"])
def test_bytes_that_are_not_npy_are_refused_as_corrupt_payload(data: bytes) -> None:
    error = refused(data, "corrupt_payload")
    assert "not a readable .npy array" in error.message


def test_an_unknown_npy_format_version_is_refused_as_corrupt_payload() -> None:
    data = bytearray(npy_bytes(np.arange(3, dtype=np.uint8)))
    data[6] = 9
    error = refused(bytes(data), "corrupt_payload")
    assert "version" in error.message


@pytest.mark.parametrize("shape", ["(-1,)", "(-1, -1)", "(-2, 3)", "(4, -1)"])
def test_a_header_with_a_negative_dimension_is_refused_as_corrupt_payload(shape: str) -> None:
    error = refused(handmade_npy(shape, "<u1", b"\0" * 16), "corrupt_payload")
    assert "negative" in error.message


@pytest.mark.parametrize(
    "header",
    ["[1, 2, 3]", "{'descr': '<u1'}", "{'descr': '<u1', 'fortran_order': False, 'shape': (2.5,), }",
     "__import__('os').system('true')",
     "{[1]: 2}",  # TypeError from ast.literal_eval
     "-" * 3000 + "1",  # RecursionError from ast.literal_eval
     "{'descr': '<u1', 'fortran_order': False, 'shape': (2,), '" + "''",  # tokenize.TokenError
     " \n\t x\n y"],  # IndentationError from tokenize
    ids=["list", "missing-keys", "float-shape", "code", "unhashable-key", "deep-nesting", "open-string",
         "bad-indent"],
)
def test_a_malformed_header_dictionary_is_refused_as_corrupt_payload(header: str) -> None:
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 8
    refused(data, "corrupt_payload")


def test_extra_bytes_after_the_data_do_not_change_the_array() -> None:
    array = np.arange(6, dtype=np.uint16).reshape(2, 3)
    loaded = load_npy(npy_bytes(array) + b"trailing", MAX)
    np.testing.assert_array_equal(loaded, array)
