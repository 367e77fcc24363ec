"""Reading TensorBoard event files with TensorBoard's own protos: each value as plain data, and what was skipped.

`darkroom import tensorboard` (sdk/_tb_import.py) reads here.  Records are
framed and checked here (below), parsed as the `tensorboard` package's
`Event` protos and passed through TensorBoard's own read-time migration
(`data_compat.migrate_event`), so old-style values (``simple_value``,
``image``, ``audio``, ``histo``) arrive as the new-style tensors TensorBoard
itself shows.  TensorBoard's loader stops silently at a damaged record; this
one stops there too but says where and why (`EventFile.damage`).

The records themselves (TFRecord framing: the data's length, its CRC-32C,
the data, its CRC-32C) are read here, with the CRCs checked by google-crc32c's
C code: without TensorFlow, TensorBoard's record reader computes them in pure
Python, which was 96% of reading a log of images (5.3 of 5.5 s for 200
256x256 images, 26 MiB; about 5 MB/s).  Without google-crc32c installed,
TensorBoard's own CRC function checks them, slowly but the same.

The `tensorboard` package is imported when a file is read, not with darkroom:
it is the ``tensorboard`` extra.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from darkroom.pipeline.optional import optional_import

# The versions of the event format TensorBoard writes (its first record says which).
KNOWN_VERSIONS = ("brain.Event:1", "brain.Event:2")
# A PR curve as darkroom stores it (a table, one row a threshold), imported and exported as TensorBoard's.
PR_CURVE_COLUMNS = ("threshold", "precision", "recall", "true_positives", "false_positives", "true_negatives",
                    "false_negatives")


@dataclasses.dataclass(frozen=True)
class Value:
    """One summary value: its tag, step and wall time, and what it holds.

    `what` is "scalar" (`data`: a float), "images" (a list of encoded image
    files), "audio" (a list of encoded audio files), "histogram" (``(counts,
    edges)``), "text" (a str), "pr_curve" (a [6, thresholds] array: TP, FP,
    TN, FN, precision, recall), "mesh" (``(part, array)``, one of a mesh's
    vertices, faces or colors; `tag` is the mesh's name), or the plugin's
    name for values darkroom does not import (`data`: None).
    """

    tag: str
    step: int
    wall_time: float
    what: str
    data: Any


def event_files(run_dir: Path) -> list[Path]:
    """The event files of one run directory, in the order TensorBoard reads them (by name)."""
    return sorted(p for p in run_dir.iterdir() if p.is_file() and "tfevents" in p.name)


class EventFile:
    """One event file, read record by record.

    After `values()` is exhausted, `damage` says why reading stopped early
    (None: the whole file was read), `events` counts the events read and
    `bytes_read` how far into the file they reach.
    """

    def __init__(self, path: Path):
        self.path = path
        self.damage: str | None = None
        self.events = 0
        self.bytes_read = 0
        self.version: str | None = None

    def values(self) -> Iterator[Value]:
        """Every summary value of the file, in the file's order; stops at a damaged record or an unknown version."""
        for event in self._events():
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                yield _value(value, int(event.step), float(event.wall_time))

    def _events(self) -> Iterator[Any]:
        tb = _tensorboard()
        from google.protobuf.message import DecodeError

        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            while True:
                try:
                    record = _record(f, size - self.bytes_read, tb.masked_crc32c)
                except _DataLoss as e:
                    self.damage = self._where(f"damaged or truncated record ({e})")
                    return
                if record is None:
                    return
                try:
                    event = tb.event_pb2.Event.FromString(record)
                except DecodeError as e:
                    self.damage = self._where(f"a record is not an Event ({e})")
                    return
                # A record is its length (8 bytes), their CRC (4), the data and its CRC (4).
                self.bytes_read += len(record) + 16
                if self.events == 0 and event.HasField("file_version"):
                    self.version = event.file_version
                    if self.version not in KNOWN_VERSIONS:
                        self.damage = (f"event file of unknown version {self.version!r}; "
                                       f"darkroom reads {', '.join(KNOWN_VERSIONS)}: nothing of it imported")
                        return
                self.events += 1
                yield tb.data_compat.migrate_event(event)

    def _where(self, problem: str) -> str:
        return (f"{problem} after {self.events} event(s), at byte {self.bytes_read} of "
                f"{self.path.stat().st_size}: the rest of the file was skipped")


class _DataLoss(Exception):
    """A record whose framing or CRC is wrong, or that the file ends inside."""


def _record(f: Any, left: int, masked_crc32c: Callable[[bytes], int]) -> bytes | None:
    """The next record's data from `f` (None at the end of the file); `left`: the bytes after it."""
    header = f.read(12)
    if not header:
        return None
    if len(header) < 12:
        raise _DataLoss(f"the file ends inside a record's header ({len(header)} of 12 bytes)")
    length, length_crc = struct.unpack("<QI", header)
    if masked_crc32c(header[:8]) != length_crc:
        raise _DataLoss("the CRC of a record's length does not match")
    if length > left - 16:  # checked before reading: a damaged length never allocates more than the file
        raise _DataLoss(f"a record of {length} bytes in the {left} left of the file")
    data, footer = f.read(length), f.read(4)
    if len(footer) < 4:
        raise _DataLoss("the file ends inside a record")
    if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
        raise _DataLoss("the CRC of a record's data does not match")
    return data


def _fast_masked_crc32c() -> Callable[[bytes], int] | None:
    """TFRecord's masked CRC-32C computed by google-crc32c's C code; None where it is not installed."""
    try:
        import google_crc32c
    except ImportError:
        return None
    if google_crc32c.implementation != "c":
        return None

    def masked(data: bytes) -> int:
        crc = google_crc32c.value(data)
        return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    return masked


def _value(value: Any, step: int, wall_time: float) -> Value:
    tb = _tensorboard()
    plugin = value.metadata.plugin_data.plugin_name
    kind = value.WhichOneof("value")
    if kind != "tensor":  # what data_compat leaves old-style: nothing darkroom imports
        return Value(value.tag, step, wall_time, kind or "empty", None)
    array = tb.tensor_util.make_ndarray(value.tensor)
    if plugin == "scalars" or (not plugin and array.ndim == 0 and array.dtype.kind in "fiu"):
        return Value(value.tag, step, wall_time, "scalar", float(array))
    if plugin == "images":  # [width, height, image, image, ...]
        return Value(value.tag, step, wall_time, "images", [bytes(b) for b in array[2:]])
    if plugin == "audio":  # [[encoded, label], ...]
        return Value(value.tag, step, wall_time, "audio", [bytes(row[0]) for row in array.reshape(-1, 2)])
    if plugin == "histograms":  # [[left, right, count], ...]
        buckets = array.reshape(-1, 3).astype(float)
        if len(buckets) == 0:
            return Value(value.tag, step, wall_time, "histogram", None)
        edges = [*buckets[:, 0].tolist(), float(buckets[-1, 1])]
        return Value(value.tag, step, wall_time, "histogram", (buckets[:, 2].tolist(), edges))
    if plugin == "pr_curves":  # [6, thresholds]: TP, FP, TN, FN, precision, recall
        return Value(value.tag, step, wall_time, "pr_curve", array.reshape(6, -1).astype(float))
    if plugin == "mesh":  # one part (vertices, faces or colors) of the mesh `name`; parts share a step
        from tensorboard.plugins.mesh import metadata

        info = metadata.parse_plugin_metadata(value.metadata.plugin_data.content)
        part = {1: "vertices", 2: "faces", 3: "colors"}.get(int(info.content_type), "unknown")
        return Value(info.name or value.tag, step, wall_time, "mesh", (part, array))
    if plugin == "text":
        texts = [b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b) for b in array.reshape(-1)]
        return Value(value.tag, step, wall_time, "text", "\n".join(texts))
    return Value(value.tag, step, wall_time, plugin or "tensor", None)


@dataclasses.dataclass(frozen=True)
class _TB:
    masked_crc32c: Callable[[bytes], int]
    event_pb2: Any
    data_compat: Any
    tensor_util: Any


_loaded: list[_TB] = []


def _tensorboard() -> _TB:
    """TensorBoard's reader modules, imported once (ImportError with the extra to install)."""
    if not _loaded:
        optional_import("tensorboard", "reading TensorBoard event files needs the tensorboard package", "tensorboard", "here")
        from tensorboard import data_compat
        from tensorboard.compat.proto import event_pb2
        from tensorboard.compat.tensorflow_stub import pywrap_tensorflow
        from tensorboard.util import tensor_util

        _loaded.append(_TB(_fast_masked_crc32c() or pywrap_tensorflow.masked_crc32c, event_pb2, data_compat,
                           tensor_util))
    return _loaded[0]
