"""The ``geometry`` related file: a mesh's, molecule's or cloud's arrays as compact binary for the viewer.

A browser turns this into WebGL buffers with one typed-array view per array,
no parsing (docs/viewer.md, "The geometry file").  Layout, all little-endian:

    bytes 0-3    magic b"DRG1"
    bytes 4-7    uint32: n, the length of the header
    bytes 8..    n bytes of UTF-8 JSON, padded with spaces to a multiple of 4
    then         each array's bytes at the offset the header names (from the
                 file's start, a multiple of 4: a Float32Array/Uint32Array can
                 view it in place), padded with zeros to a multiple of 4

The header is ``{"format": "darkroom.geometry/1", "kind": "mesh" | "molecule" |
"points", "arrays": {name: {"dtype", "shape", "offset"}}, ...}`` plus what the
kind adds (a cloud's boxes and vectors, a subsample's source count).  dtypes
are ``float32``, ``uint32`` and ``uint8``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

MAGIC = b"DRG1"
FORMAT = "darkroom.geometry/1"
MEDIA_TYPE = "application/vnd.darkroom.geometry"
_DTYPES = {"float32": np.dtype("<f4"), "uint32": np.dtype("<u4"), "uint8": np.dtype("u1")}


def encode(kind: str, arrays: Mapping[str, np.ndarray], info: Mapping[str, Any] | None = None) -> bytes:
    """The geometry file of `arrays` (each cast to one of float32, uint32, uint8 by its kind of dtype's name).

    Parameters
    ----------
    kind: ``mesh``, ``molecule`` or ``points``.
    arrays: name -> array; float arrays are stored as float32, others keep their
        declared dtype, which must be one of ``uint32`` or ``uint8``.
    info: more header fields (JSON-able).
    """
    blobs = []
    specs: dict[str, dict[str, Any]] = {}
    for name, array in arrays.items():
        dtype = "float32" if array.dtype.kind == "f" else str(array.dtype)
        if dtype not in _DTYPES:
            raise ValueError(f"geometry array {name!r} has dtype {array.dtype}; accepted: float, uint32, uint8")
        data = np.ascontiguousarray(array, dtype=_DTYPES[dtype]).tobytes()
        specs[name] = {"dtype": dtype, "shape": list(array.shape), "offset": 0}
        blobs.append(data)
    header = {"format": FORMAT, "kind": kind, "arrays": specs, **(info or {})}
    # Offsets depend on the header's length, which depends on the offsets' digits:
    # settle it by recomputing until the length stops changing (twice at most).
    length = -1
    text = b""
    while True:
        offset = 8 + length if length >= 0 else 8
        for spec, data in zip(specs.values(), blobs):
            spec["offset"] = offset
            offset += _padded(len(data))
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (_padded(len(text)) - len(text))
        if len(text) == length:
            break
        length = len(text)
    parts = [MAGIC, struct.pack("<I", len(text)), text]
    for data in blobs:
        parts += [data, b"\0" * (_padded(len(data)) - len(data))]
    return b"".join(parts)


def decode(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and arrays of a geometry file (what the viewer's JavaScript does, in Python).

    Raises
    ------
    ValueError: not a geometry file, or an array outside it.
    """
    if len(data) < 8 or data[:4] != MAGIC:
        raise ValueError(f"not a darkroom geometry file (starts {data[:8]!r}); expected {MAGIC!r}")
    (length,) = struct.unpack_from("<I", data, 4)
    header = json.loads(data[8:8 + length])
    arrays = {}
    for name, spec in header["arrays"].items():
        dtype = _DTYPES[spec["dtype"]]
        count = int(np.prod(spec["shape"], dtype=np.int64))
        end = spec["offset"] + count * dtype.itemsize
        if spec["offset"] % 4 or end > len(data):
            raise ValueError(f"geometry array {name!r} at {spec['offset']}..{end} is not inside the file "
                             f"of {len(data)} bytes, 4-byte aligned")
        arrays[name] = np.frombuffer(data, dtype, count, spec["offset"]).reshape(spec["shape"])
    return header, arrays


def bounds(positions: np.ndarray) -> list[list[float]]:
    """[[min x, y, z], [max x, y, z]] of N×3 positions (zeros for none): the viewer frames its camera on it."""
    if len(positions) == 0:
        return [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    return [positions.min(axis=0).astype(float).tolist(), positions.max(axis=0).astype(float).tolist()]


def _padded(n: int) -> int:
    return (n + 3) // 4 * 4
