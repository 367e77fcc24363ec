"""A numpy array or tensor put in ``run.summary``: kept whole in storage and summarised in place.

Up to 32 values it is a list, as in a history row.

MEDIA_TYPES.md (``run.log``, Summary): the summary holds the array's shape,
dtype, min, max, mean, variance and percentiles 5, 25, 50, 75 and 95 (of its
finite values; NaN and infinities counted apart), and the storage key of the
whole array (``.npy``, base64 in a small JSON object, as every run object is
JSON).  The statistics are computed when the summary is written (at finish),
not when the value is set.  `darkroom.Api().run(path).summary_array(key)`
reads the array back.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np

PERCENTILES = (5, 25, 50, 75, 95)


SMALL = 32  # up to this many values an array stays a list of them (as in a history row, and in W&B)


def is_summary_array(value: Any) -> bool:
    """An array or tensor of more than `SMALL` numbers."""
    if all(hasattr(value, n) for n in ("detach", "cpu", "numpy")):
        return int(np.prod(tuple(getattr(value, "shape", ())) or (1,))) > SMALL
    return isinstance(value, np.ndarray) and value.size > SMALL and value.dtype.kind in "biuf"


class SummaryArray:
    """A private copy of a summary array, and where it is stored."""

    def __init__(self, array: np.ndarray, storage_key: str | None):
        self.array = array
        self.storage_key = storage_key  # None: not stored (a disabled run, or over the payload bound)

    def object_body(self) -> bytes:
        """The stored object: ``{"dtype", "shape", "npy_base64"}`` (numpy's .npy, never pickled)."""
        buf = io.BytesIO()
        np.save(buf, self.array, allow_pickle=False)
        return json.dumps({"dtype": str(self.array.dtype), "shape": list(self.array.shape),
                           "npy_base64": base64.b64encode(buf.getvalue()).decode()}).encode()

    def to_json(self) -> dict[str, Any]:
        """The summary's statistics of the array (computed now)."""
        values = self.array.astype(np.float64).reshape(-1)
        finite = values[np.isfinite(values)]
        out: dict[str, Any] = {"_type": "ndarray", "shape": list(self.array.shape), "dtype": str(self.array.dtype),
                               "size": int(self.array.size), "non_finite": int(values.size - finite.size)}
        if finite.size:
            out.update(min=float(finite.min()), max=float(finite.max()), mean=float(finite.mean()),
                       var=float(finite.var()),
                       percentiles={str(p): float(v) for p, v in zip(PERCENTILES, np.percentile(finite, PERCENTILES))})
        if self.storage_key is not None:
            out["path"] = self.storage_key
        return out


def load_summary_array(body: bytes) -> np.ndarray:
    """The array of a stored summary-array object (`SummaryArray.object_body`)."""
    stored = json.loads(body)
    return np.load(io.BytesIO(base64.b64decode(stored["npy_base64"])), allow_pickle=False)
