"""Pixel values to uint8, as MEDIA_TYPES.md's Image section says: one rule for the worker's
converters (image, video) and the SDK's lazy ``Image.image`` (W&B's attribute).

Never by wrapping: bool -> 0/255; uint16 / 257; other integers clipped to
0..255 (said in `warnings`); floats in [0,1] x 255, in [-1,1] (x+1) x 127.5,
else clipped (said); NaN or infinity refused.
"""

from __future__ import annotations

import numpy as np

from darkroom.pipeline.errors import InvalidInput


def to_uint8(array: np.ndarray, normalize: bool, warnings: list[str], what: str = "image") -> np.ndarray:
    """Map any numeric array to uint8 as MEDIA_TYPES.md says (never by wrapping).

    Raises
    ------
    InvalidInput (``non_finite``): NaN or infinity, with the count and first position.
    """
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint8:
        return array
    if kind == "u" and array.dtype.itemsize == 2:  # any byte order: ">u2" != np.uint16
        return _round_to_uint8(array / 257.0)
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            warnings.append(f"{what} values {low}..{high} clipped to 0..255")
        return np.clip(array, 0, 255).astype(np.uint8)
    # floats
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        raise InvalidInput(
            "non_finite",
            f"{what} has {len(bad)} NaN or infinite values (first at {first}); "
            "accepted: finite numbers",
        )
    low, high = float(array.min()), float(array.max())
    if normalize and low >= 0.0 and high <= 1.0:
        return _round_to_uint8(array * 255.0)
    if normalize and low >= -1.0 and high <= 1.0:
        return _round_to_uint8((array + 1.0) * 127.5)
    if low < 0.0 or high > 255.0:
        warnings.append(f"{what} values {low:g}..{high:g} clipped to 0..255")
    return _round_to_uint8(np.clip(array, 0.0, 255.0))


def _round_to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
