"""W&B's attributes on media objects, which user code reads after making them: computed when read.

``Image.image`` (a PIL image), ``Image.format``, ``Image.to_data_array()``,
``Histogram.histogram`` / ``.bins``, ``Html.html``, ``Audio.sample_rate`` /
``.duration``, and equality of two media made from the same input.  Nothing
here runs unless the attribute is read, so a training loop that never reads
them pays nothing (MEDIA_TYPES.md: the training thread only snapshots).
Pillow and soundfile are imported on first read.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from darkroom._media import ArraySnapshot, BytesSnapshot, FileSnapshot


def snapshot_bytes(snap: Any) -> bytes | None:
    """The bytes of a file or bytes snapshot (a large file is read now), else None."""
    if isinstance(snap, BytesSnapshot):
        return snap.data
    if isinstance(snap, FileSnapshot):
        if snap.data is not None:
            return snap.data
        with open(snap.path, "rb") as f:
            return f.read()
    return None


def same_snapshot(a: Any, b: Any) -> bool:
    """Whether two snapshots hold the same content (arrays compared by value)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, ArraySnapshot):
        return a.array.shape == b.array.shape and a.array.dtype == b.array.dtype and np.array_equal(a.array, b.array)
    if isinstance(a, FileSnapshot):
        return a.ext == b.ext and snapshot_bytes(a) == snapshot_bytes(b)
    return a == b


class ImageAttributes:
    """``image``, ``format`` and ``to_data_array()`` of `darkroom.Image`, as W&B's."""

    _payload: Any
    _options: dict[str, Any]

    @property
    def image(self) -> Any:
        """The image as a PIL image, pixels mapped to 0..255 as the worker maps them (computed once, when read).

        Raises
        ------
        InvalidInput (``non_finite``): NaN or infinity in the array (the worker fails the item so too).
        """
        cached = self.__dict__.get("_pil")
        if cached is None:
            cached = self.__dict__["_pil"] = _pil_image(self._payload, bool(self._options.get("normalize", True)))
        return cached

    @property
    def format(self) -> str:
        """The stored format ("png" unless `file_type` asked for another)."""
        return str(self._options.get("file_type") or "png")

    def to_data_array(self) -> np.ndarray:
        """The pixels as a numpy array (H, W) or (H, W, C) of uint8."""
        return np.asarray(self.image)


def _pil_image(snap: Any, normalize: bool) -> Any:
    from PIL import Image as PILImage

    from darkroom.pipeline.image_layout import image_layout
    from darkroom.pipeline.pixel_values import to_uint8

    if isinstance(snap, ArraySnapshot):
        array = snap.array
        _, channels_first = image_layout(array.shape)
        if channels_first:
            array = np.moveaxis(array, 0, -1)
        pixels = to_uint8(array, normalize, [])
        if pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        return PILImage.fromarray(np.ascontiguousarray(pixels))
    image = PILImage.open(io.BytesIO(snapshot_bytes(snap) or b""))
    image.load()
    return image


class HistogramAttributes:
    """``histogram`` (the counts) and ``bins`` (the edges) of `darkroom.Histogram`, as W&B's."""

    to_json: Any

    @property
    def histogram(self) -> list[int]:
        """The count of each bin (binned when first read)."""
        return list(self._binned()["values"])

    @property
    def bins(self) -> list[float]:
        """The bins' edges, one more than the counts."""
        return list(self._binned()["bins"])

    def _binned(self) -> dict[str, Any]:
        cached = self.__dict__.get("_binned_json")
        if cached is None:
            cached = self.__dict__["_binned_json"] = self.to_json()
        return cached


class HtmlAttributes:
    """``html`` of `darkroom.Html`, as W&B's: the document's text (a file is read when this is read)."""

    _payload: Any

    @property
    def html(self) -> str:
        return (snapshot_bytes(self._payload) or b"").decode("utf-8", errors="replace")


class AudioAttributes:
    """``sample_rate`` and ``duration`` of `darkroom.Audio` (W&B's ``Audio.sample_rates``/``durations`` too)."""

    _payload: Any
    _options: dict[str, Any]

    @property
    def sample_rate(self) -> int | None:
        """Samples per second: as given for an array, else the file's own (read from its header when first read)."""
        if self._options.get("sample_rate") is not None or isinstance(self._payload, ArraySnapshot):
            return self._options.get("sample_rate")
        info = self._file_info()
        return info.samplerate if info else None

    @property
    def duration(self) -> float | None:
        """Seconds: samples / sample_rate for an array; a file's from its header (None if soundfile cannot tell)."""
        if isinstance(self._payload, ArraySnapshot):
            rate = self._options.get("sample_rate")
            return len(self._payload.array) / rate if rate else None
        info = self._file_info()
        return info.duration if info else None

    def _file_info(self) -> Any:
        if "_info" not in self.__dict__:
            try:
                import soundfile

                self.__dict__["_info"] = soundfile.info(io.BytesIO(snapshot_bytes(self._payload) or b""))
            except (ImportError, RuntimeError, ValueError):  # no soundfile, or a format it does not read (m4a)
                self.__dict__["_info"] = None
        return self.__dict__["_info"]

    @classmethod
    def sample_rates(cls, audio_list: list[Any]) -> list[int | None]:
        return [a.sample_rate for a in audio_list]

    @classmethod
    def durations(cls, audio_list: list[Any]) -> list[float | None]:
        return [a.duration for a in audio_list]
