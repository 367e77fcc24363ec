"""Reading TensorBoard event files with TensorBoard's own reader: each value as plain data, and what was skipped.

`darkroom import tensorboard` (sdk/_tb_import.py) reads here.  Records are
read with the record reader of the `tensorboard` package (the one its
`EventFileLoader` uses when TensorFlow is absent), parsed as `Event` protos
and passed through TensorBoard's own read-time migration
(`data_compat.migrate_event`), so old-style values (``simple_value``,
``image``, ``audio``, ``histo``) arrive as the new-style tensors TensorBoard
itself shows.  TensorBoard's loader stops silently at a damaged record; this
one stops there too but says where and why (`EventFile.damage`).

The `tensorboard` package is imported when a file is read, not with darkroom:
it is the ``tensorboard`` extra.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from darkroom.pipeline.optional import optional_import

# The versions of the event format TensorBoard writes (its first record says which).
KNOWN_VERSIONS = ("brain.Event:1", "brain.Event:2")


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

        reader = tb.pywrap.PyRecordReader_New(str(self.path), 0, None, None)
        try:
            while True:
                try:
                    reader.GetNext()
                except tb.errors.OutOfRangeError:
                    return
                except tb.errors.DataLossError as e:
                    self.damage = self._where(f"damaged or truncated record ({e.message})")
                    return
                try:
                    event = tb.event_pb2.Event.FromString(reader.record())
                except DecodeError as e:
                    self.damage = self._where(f"a record is not an Event ({e})")
                    return
                # A record is its length (8 bytes), their CRC (4), the data and its CRC (4).
                self.bytes_read += len(reader.record()) + 16
                if self.events == 0 and event.HasField("file_version"):
                    self.version = event.file_version
                    if self.version not in KNOWN_VERSIONS:
                        self.damage = (f"event file of unknown version {self.version!r}; "
                                       f"darkroom reads {', '.join(KNOWN_VERSIONS)}: nothing of it imported")
                        return
                self.events += 1
                yield tb.data_compat.migrate_event(event)
        finally:
            reader.file_handle.close()

    def _where(self, problem: str) -> str:
        return (f"{problem} after {self.events} event(s), at byte {self.bytes_read} of "
                f"{self.path.stat().st_size}: the rest of the file was skipped")


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
    pywrap: Any
    errors: Any
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
        from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
        from tensorboard.util import tensor_util

        _loaded.append(_TB(pywrap_tensorflow, errors, event_pb2, data_compat, tensor_util))
    return _loaded[0]
