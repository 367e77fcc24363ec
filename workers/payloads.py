"""Decoding raw payloads safely: numpy arrays read as plain data (object arrays refused), sizes bounded first."""

from __future__ import annotations

import io
import tokenize

import numpy as np

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.payload_types import NPY_MEDIA_TYPE

__all__ = ["NPY_MEDIA_TYPE", "load_npy", "unzstd"]  # the converters take the media type from here too
# Numeric dtypes only: object arrays would need pickle, and strings are not media.
_NUMERIC_KINDS = frozenset("biuf")


def unzstd(data: bytes, max_bytes: int) -> bytes:
    """A zstd-compressed .npy payload's bytes, refused before decompressing if they would exceed `max_bytes`.

    The frame header declares the content size (the sender's compressor
    writes it); a frame that does not, or declares more than the bound, or
    decompresses to something else, is refused.

    Raises
    ------
    InvalidInput: ``corrupt_payload`` (not one zstd frame that says its size), ``too_large``.
    """
    from darkroom.pipeline.optional import optional_import

    zstandard = optional_import("zstandard", "zstd-compressed payloads need zstandard", "all")
    try:
        size = zstandard.frame_content_size(data)
    except zstandard.ZstdError as e:
        raise InvalidInput("corrupt_payload", f"payload is not a zstd frame ({e})") from None
    if size < 0:
        raise InvalidInput("corrupt_payload", "zstd payload does not declare its size; darkroom's sender always does")
    if size > max_bytes:
        raise InvalidInput("too_large", f"zstd payload declares {size} bytes; the bound is {max_bytes} "
                           "(DARKROOM_MAX_PAYLOAD_BYTES)")
    try:
        out = zstandard.ZstdDecompressor().decompress(data, max_output_size=max_bytes)
    except zstandard.ZstdError as e:
        raise InvalidInput("corrupt_payload", f"zstd payload does not decompress ({e})") from None
    if len(out) != size:
        raise InvalidInput("corrupt_payload", f"zstd payload declares {size} bytes but holds {len(out)}")
    return out


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
    except (ValueError, TypeError, SyntaxError, RecursionError, tokenize.TokenError) as e:
        # numpy parses the header with ast.literal_eval and, for v1/v2 headers it
        # cannot parse, retries through `tokenize`: besides ValueError, a corrupt
        # header raises TypeError ({[1]: 2}), RecursionError (deep nesting),
        # IndentationError or tokenize.TokenError (found by tests/workers/test_image_fuzz.py).
        raise InvalidInput("corrupt_payload", f"payload is not a readable .npy array ({e})") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject:
        raise InvalidInput(
            "invalid_dtype",
            f"array dtype {dtype} is not accepted; accepted: bool, integer or float arrays",
        )
    if any(int(n) < 0 for n in shape):
        # The header parser accepts negative sizes; numpy would then read "all
        # remaining data" (count=-1) or fail in reshape with a ValueError.
        raise InvalidInput("corrupt_payload", f"payload .npy header has a negative shape {tuple(shape)}")
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
