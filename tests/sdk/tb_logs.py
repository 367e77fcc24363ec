"""TensorBoard logs for the tests, written with the tensorboard package's own event writer and protos.

The values are written as TensorBoard's writers write them: old-style
``simple_value``, ``image``, ``audio`` and ``histo`` (torch's SummaryWriter,
TF 1) and new-style plugin tensors (TF 2: several images in one value, text,
PR curves).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage


def png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, "png")
    return buf.getvalue()


def wav(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def pixels_of(step: int, index: int, size: tuple[int, int] = (6, 8)) -> np.ndarray:
    """A distinct RGB picture per (step, index)."""
    rng = np.random.default_rng(1000 * step + index)
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


class Writer:
    """Events into one run folder, with TensorBoard's EventFileWriter."""

    def __init__(self, folder: Path):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.writer = EventFileWriter(str(folder))

    def add(self, step: int, wall_time: float, *values: Any) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2

        summary = summary_pb2.Summary(value=list(values))
        self.writer.add_event(event_pb2.Event(step=step, wall_time=wall_time, summary=summary))

    def close(self) -> Path:
        self.writer.close()
        return Path(self.writer.get_logdir())


def scalar(tag: str, value: float) -> Any:
    from tensorboard.compat.proto import summary_pb2

    return summary_pb2.Summary.Value(tag=tag, simple_value=value)


def image(tag: str, pixels: np.ndarray) -> Any:
    from tensorboard.compat.proto import summary_pb2

    height, width, channels = pixels.shape
    return summary_pb2.Summary.Value(tag=tag, image=summary_pb2.Summary.Image(
        height=height, width=width, colorspace=channels, encoded_image_string=png(pixels)))


def images(tag: str, pictures: list[np.ndarray]) -> Any:
    """TF 2's image summary: one value, a string tensor [width, height, png, png, ...]."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.image import metadata
    from tensorboard.util import tensor_util

    height, width = pictures[0].shape[:2]
    data = np.array([str(width).encode(), str(height).encode(), *(png(p) for p in pictures)], dtype=object)
    return summary_pb2.Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(
        display_name=tag, description=""), tensor=tensor_util.make_tensor_proto(data))


def audio(tag: str, samples: np.ndarray, rate: int) -> Any:
    from tensorboard.compat.proto import summary_pb2

    return summary_pb2.Summary.Value(tag=tag, audio=summary_pb2.Summary.Audio(
        sample_rate=rate, num_channels=1, length_frames=len(samples), encoded_audio_string=wav(samples, rate),
        content_type="audio/wav"))


def histogram(tag: str, values: np.ndarray) -> Any:
    from tensorboard.compat.proto import summary_pb2

    counts, edges = np.histogram(values, bins=10)
    return summary_pb2.Summary.Value(tag=tag, histo=summary_pb2.HistogramProto(
        min=float(values.min()), max=float(values.max()), num=len(values), sum=float(values.sum()),
        sum_squares=float((values ** 2).sum()), bucket_limit=edges[1:].tolist(), bucket=counts.tolist()))


def text(tag: str, body: str) -> Any:
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.text import metadata
    from tensorboard.util import tensor_util

    return summary_pb2.Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(display_name=tag, description=""),
                                     tensor=tensor_util.make_tensor_proto(np.array(body.encode(), dtype=object)))


def pr_curve(tag: str) -> Any:
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.pr_curve import metadata
    from tensorboard.util import tensor_util

    return summary_pb2.Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(
        display_name=tag, description="", num_thresholds=3), tensor=tensor_util.make_tensor_proto(np.ones((6, 3))))


def mesh(name: str, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray) -> list[Any]:
    """The mesh plugin's three values (vertices, faces, colors), as its summary writes them."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.mesh import metadata, plugin_data_pb2
    from tensorboard.util import tensor_util

    parts = [(vertices.astype(np.float32), plugin_data_pb2.MeshPluginData.VERTEX),
             (faces.astype(np.int32), plugin_data_pb2.MeshPluginData.FACE),
             (colors.astype(np.uint8), plugin_data_pb2.MeshPluginData.COLOR)]
    components = metadata.get_components_bitmask([kind for _, kind in parts])
    return [summary_pb2.Summary.Value(
        tag=metadata.get_instance_name(name, kind),
        metadata=metadata.create_summary_metadata(name, name, kind, components, list(data.shape), ""),
        tensor=tensor_util.make_tensor_proto(data)) for data, kind in parts]


TETRAHEDRON = (np.array([[[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]]),
               np.array([[[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]]),
               np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]]]))


def mixed_run(folder: Path, steps: int = 3, start: float = 1_700_000_000.0) -> Path:
    """A run of every kind of value; steps logged per epoch ("val/acc") interleave with per-batch ones.

    Returns the event file.
    """
    w = Writer(folder)
    rate = 8000
    for step in range(steps):
        wall = start + 10 * step
        w.add(step, wall, scalar("loss", 1.0 / (step + 1)), image("sample", pixels_of(step, 0)))
        w.add(step, wall + 1, images("grid", [pixels_of(step, 1), pixels_of(step, 2)]),
              histogram("weights", np.linspace(-1, 1, 50) * (step + 1)))
        w.add(step, wall + 2, audio("voice", (np.sin(np.arange(800) * (step + 1) / 10) * 8000), rate),
              text("notes", f"step {step} **ok**"))
        w.add(100 + step, wall + 3, scalar("val/acc", 0.5 + step / 10))  # per-epoch steps, out of order
    w.add(1, start + 100, pr_curve("pr"))
    w.add(steps - 1, start + 200, *mesh("shape", *TETRAHEDRON))
    return w.close()
