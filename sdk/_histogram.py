"""`darkroom.Histogram`: a distribution stored inline in the history row (no worker involved).

The caller's thread only copies the data; the binning runs on the sender
thread when the row is spooled (`to_json`).  NaN and ±inf are excluded from
the bins and counted, never silently binned or dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from darkroom._media import array_from
from darkroom._media_attrs import HistogramAttributes
from darkroom._summary_array import SummaryArray

MAX_BINS = 512


class Histogram(HistogramAttributes):
    """A histogram of values.

    Parameters
    ----------
    sequence: any array-like (flattened), binned over [min, max] of its finite values.
    np_histogram: ``(counts, edges)`` as `np.histogram` returns, with ``len(edges) == len(counts) + 1``.
    num_bins: bins for `sequence`, 1..512 (default 64).

    Raises
    ------
    TypeError, ValueError: neither or both inputs, a bad `num_bins`, mismatched counts and edges.
    """

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64):
        if (sequence is None) == (np_histogram is None):
            raise TypeError("Histogram needs exactly one of sequence= or np_histogram=(counts, edges)")
        if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or not 1 <= num_bins <= MAX_BINS:
            raise ValueError(f"Histogram num_bins={num_bins!r}; accepted: an int from 1 to {MAX_BINS}")
        self.num_bins = int(num_bins)
        self._values: np.ndarray | None = None
        self._counts: np.ndarray | None = None
        self._edges: np.ndarray | None = None
        if sequence is not None:
            values = array_from(sequence, "Histogram sequence")
            if values is None:
                raise TypeError(f"Histogram sequence must be array-like; got {type(sequence).__name__}")
            self._values = values.reshape(-1)
        else:
            if not isinstance(np_histogram, (tuple, list)) or len(np_histogram) != 2:
                raise TypeError("Histogram np_histogram must be (counts, edges)")
            counts = array_from(np_histogram[0], "Histogram np_histogram counts")
            edges = array_from(np_histogram[1], "Histogram np_histogram edges")
            if counts is None or edges is None or counts.ndim != 1 or edges.ndim != 1:
                raise ValueError("Histogram np_histogram must be two 1-D arrays (counts, edges)")
            if len(edges) != len(counts) + 1:
                raise ValueError(f"Histogram np_histogram has {len(counts)} counts and {len(edges)} edges; "
                                 "accepted: len(edges) == len(counts) + 1")
            if len(counts) > MAX_BINS:
                raise ValueError(f"Histogram np_histogram has {len(counts)} bins; at most {MAX_BINS}")
            self._counts, self._edges = counts, edges

    @property
    def nbytes(self) -> int:
        return int(self._values.nbytes) if self._values is not None else 8 * 2 * MAX_BINS

    def to_json(self) -> dict[str, Any]:
        """The inline form ``{"_type": "histogram", "values": counts, "bins": edges, ...}`` (computes)."""
        if self._values is None:
            return {"_type": "histogram", "values": self._counts.tolist(), "bins": self._edges.astype(float).tolist()}
        values = self._values
        nan = inf = 0
        if values.dtype.kind == "f":
            finite = np.isfinite(values)
            if not finite.all():
                nan = int(np.isnan(values).sum())
                inf = int(values.size - finite.sum() - nan)
                values = values[finite]
        if values.dtype.kind == "b":
            values = values.astype(np.uint8)
        if values.size:
            counts, edges = _bin(values, self.num_bins)
        else:
            counts, edges = np.zeros(self.num_bins, dtype=np.int64), np.linspace(0.0, 1.0, self.num_bins + 1)
        out: dict[str, Any] = {"_type": "histogram", "values": counts.tolist(), "bins": edges.astype(float).tolist()}
        if nan or inf:
            out["excluded"] = {"nan": nan, "inf": inf}
        return out

    def __repr__(self) -> str:
        return f"<darkroom.Histogram bins={self.num_bins}>"


def _bin(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """`np.histogram` over [min, max], for any spread of finite values.

    numpy computes the edges in the data's dtype and refuses a range narrower
    than `bins` steps of it ("Too many bins for data range": float32 values a
    few ulps apart).  Such data is binned in float64 and, if that is still too
    narrow, over [min - 0.5, max + 0.5], as numpy bins constant data.
    """
    try:
        return np.histogram(values, bins=bins)
    except ValueError:
        wide = values.astype(np.float64)
        try:
            return np.histogram(wide, bins=bins)
        except ValueError:
            low, high = float(wide.min()), float(wide.max())
            return np.histogram(wide, bins=bins, range=(low - 0.5, high + 0.5))


def resolve(value: Any) -> Any:
    """A row or summary value ready for JSON: histograms computed, containers walked."""
    if isinstance(value, (Histogram, SummaryArray)):
        return value.to_json()
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value
