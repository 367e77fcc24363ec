"""Decoding raw payloads safely: numpy arrays without pickle, sizes bounded first."""

from __future__ import annotations

import io

import numpy as np

from darkroom.pipeline.errors import InvalidInput

NPY_MEDIA_TYPE = "application/x-npy"
# Numeric dtypes only: object arrays would need pickle, and strings are not media.
_NUMERIC_KINDS = frozenset("biuf")


def load_npy(data: bytes, max_bytes: int) -> np.ndarray:
    """Read an .npy payload without unpickling, checking its size before allocating.

    Raises
    ------
    InvalidInput: not an .npy file (``corrupt_payload``), a non-numeric dtype
        (``invalid_dtype``), or bigger than `max_bytes` (``too_large``).
    """
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"npy version {version}")
    except ValueError as e:
        raise InvalidInput("corrupt_payload", f"payload is not a readable .npy array ({e})") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject:
        raise InvalidInput(
            "invalid_dtype",
            f"array dtype {dtype} is not accepted; accepted: bool, integer or float arrays",
        )
    count = 1
    for n in shape:
        count *= int(n)
    needed = count * dtype.itemsize
    if needed > max_bytes:
        raise InvalidInput(
            "too_large",
            f"array of shape {tuple(shape)} ({needed} bytes) exceeds the bound of {max_bytes} bytes "
            "(DARKROOM_MAX_PAYLOAD_BYTES)",
        )
    offset = f.tell()
    if len(data) - offset < needed:
        raise InvalidInput(
            "corrupt_payload", f"truncated .npy payload: {len(data) - offset} of {needed} data bytes"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran else "C")
