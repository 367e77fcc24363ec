"""`darkroom.Image`: arrays, tensors, PIL images, files and figures, with boxes and masks."""

from __future__ import annotations

import types
import copy
from typing import Any

import numpy as np

from darkroom._media import ArraySnapshot, BytesSnapshot, Media, array_from, binary_file_object, file_from, json_copy
from darkroom._classes import class_labels
from darkroom._media_attrs import ImageAttributes
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.image_layout import (
    ACCEPTED,
    LOSSY,
    check_file_type,
    check_mask_array,
    check_mode,
    check_quality,
    image_layout,
)

_ACCEPTED_DATA = (
    f"a numpy array {ACCEPTED}, a torch tensor, a nested list, a PIL image, "
    "a path to an image file, an open binary image file (io.BytesIO), or a matplotlib figure"
)
# An open file's format, told by its first bytes (the worker decodes it with Pillow whatever it is).
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
               (b"BM", "bmp"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"))
_MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "bmp": "image/bmp",
                "tiff": "image/tiff", "webp": "image/webp"}


class Image(ImageAttributes, Media):
    """An image to log.

    Parameters
    ----------
    data: a numpy array (H,W), (H,W,1), (H,W,3), (H,W,4) or channels-first
        (C,H,W); a torch tensor (read without importing torch); a nested list;
        a PIL image; a path to any file Pillow reads, or such a file open in binary mode
        (``io.BytesIO(png_bytes)``: read now, decoded by the worker); a matplotlib figure, or
        ``matplotlib.pyplot`` (its current figure); another `Image` (a copy, its boxes and masks
        too unless given here).
    mode: the PIL mode to store ("L", "LA", "RGB", "RGBA"); default: from the data.
    caption: text kept in the manifest.
    boxes: ``{group: {"box_data": [box, ...], "class_labels": {int: str}}}``.
    masks: ``{name: {"mask_data": 2-D int array, "class_labels": {...}}}`` or
        ``{name: {"path": image file}}``.
    file_type: "png", "jpg"/"jpeg", "webp" or "bmp"; default: the run's
        ``DARKROOM_IMAGE_FILE_TYPE`` (png unless set).  PNG and lossless WebP
        keep every pixel; docs/media/image.md measures bytes and time per input kind.
    quality: 1..100 for jpg (default 90) and webp (default: lossless); refused
        for png and bmp.  Default: ``DARKROOM_IMAGE_QUALITY`` when the type is lossy.
    normalize: map floats in [0,1] or [-1,1] to 0..255 (else clip and round).
    grouping: W&B's display grouping; accepted, unused.
    classes: W&B's ``Classes`` (or ``[{"id": int, "name": str}]``): the class names of the box
        groups and masks that give no ``class_labels`` of their own.

    Raises
    ------
    TypeError, ValueError, FileNotFoundError: what was given and what is accepted.
    """

    kind = "image"

    def __init__(
        self,
        data: Any,
        mode: str | None = None,
        caption: str | None = None,
        boxes: dict[str, Any] | None = None,
        masks: dict[str, Any] | None = None,
        file_type: str | None = None,
        normalize: bool = True,
        quality: int | None = None,
        grouping: int | None = None,
        classes: Any = None,
    ):
        super().__init__(caption)
        try:
            if file_type is not None:
                check_file_type(file_type, "Image")
                check_quality(file_type, quality, "Image")
            elif quality is not None:
                check_quality("jpg", quality, "Image")  # its range now; its file type when the run gives it
            check_mode(mode, "Image")
        except InvalidInput as e:
            raise ValueError(e.message) from None
        # No file_type: the run's default (`_with_settings`), else the worker's (png).
        self._options = {"normalize": bool(normalize), "mode": mode}
        if file_type is not None:
            self._options["file_type"] = file_type
        if quality is not None:
            self._options["quality"] = quality
        if isinstance(data, Image):  # W&B's Image(wandb_image): snapshots never change, so share them
            self._payload, self._related, self._extra = data._payload, dict(data._related), dict(data._extra)
            self.caption = data.caption if caption is None else caption
        else:
            self._payload = _snapshot_image(data)
        if boxes is not None:
            self._extra["boxes"] = _check_boxes(boxes)
        if masks is not None:
            self._add_masks(masks)
        if classes is not None:  # W&B's: the names of the classes of boxes and masks that name none
            labels = class_labels(classes, "Image classes")
            for group in self._extra.get("boxes", {}).values():
                group.setdefault("class_labels", dict(labels))
            for role in self._related:
                if role.startswith("mask:"):
                    self._extra.setdefault("masks", {}).setdefault(role[5:], {"class_labels": dict(labels)})

    def _with_settings(self, settings: Any) -> "Image":
        """Unset file_type: the run's default (DARKROOM_IMAGE_FILE_TYPE, DARKROOM_IMAGE_QUALITY)."""
        if "file_type" in self._options:
            return self
        chosen = copy.copy(self)
        quality = self._options.get("quality", settings.image_quality)
        chosen._options = {**self._options, "file_type": settings.image_file_type}
        chosen._options.pop("quality", None)
        if quality is not None and settings.image_file_type in LOSSY:
            chosen._options["quality"] = quality
        return chosen

    def _add_masks(self, masks: Any) -> None:
        if not isinstance(masks, dict):
            raise TypeError(f"Image masks must be a dict {{name: {{'mask_data': array}}}}; got {type(masks).__name__}")
        labels: dict[str, Any] = {}
        for name, spec in masks.items():
            where = f"Image masks[{name!r}]"
            if not isinstance(name, str) or not name:
                raise TypeError(f"Image masks: names must be non-empty str; got {name!r}")
            if not isinstance(spec, dict) or not ({"mask_data", "path"} & spec.keys()):
                raise TypeError(f"{where} must be a dict with 'mask_data' (2-D int array) or 'path' (image file)")
            if "mask_data" in spec:
                array = array_from(spec["mask_data"], where)
                if array is None:
                    raise ValueError(f"{where} mask_data must be a 2-D (H, W) integer array; "
                                     f"got {type(spec['mask_data']).__name__}")
                try:
                    check_mask_array(array.shape, array.dtype, array.dtype.kind, f"{where} mask_data")
                except InvalidInput as e:
                    raise (ValueError if array.ndim != 2 else TypeError)(e.message) from None
                self._related[f"mask:{name}"] = ArraySnapshot(array)
            else:
                snap = file_from(spec["path"], where, "a path to a mask image file")
                if snap is None:
                    raise TypeError(f"{where} path must be a str or Path; got {type(spec['path']).__name__}")
                self._related[f"mask:{name}"] = snap
            if spec.get("class_labels") is not None:
                labels[name] = {"class_labels": json_copy(spec["class_labels"], f"{where} class_labels")}
        if labels:
            self._extra["masks"] = labels


def _snapshot_image(data: Any):
    if isinstance(data, types.ModuleType) and data.__name__ == "matplotlib.pyplot":
        data = data.gcf()  # Image(plt), as log({"x": plt}): pyplot's current figure
    if _is_pil(data):
        return ArraySnapshot(_pil_array(data))
    if _is_figure(data):
        return ArraySnapshot(_figure_rgba(data))
    snap = file_from(data, "Image", "an existing image file")
    if snap is not None:
        return snap
    if hasattr(data, "read"):
        return _file_object(data)
    array = array_from(data, "Image")
    if array is None:
        raise TypeError(f"Image got {type(data).__name__}; accepted: {_ACCEPTED_DATA}")
    try:
        image_layout(array.shape)
    except InvalidInput as e:
        raise ValueError(f"Image: {e.message}") from None
    return ArraySnapshot(array)


def _file_object(data: Any) -> BytesSnapshot:
    """An open image file's bytes, stored under the format its first bytes tell (else ``bin``)."""
    snap = binary_file_object(data, None, _MEDIA_TYPES, "Image")
    head = snap.data[:16]
    fmt = next((f for sig, f in _SIGNATURES if head.startswith(sig)), None)
    if fmt is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        fmt = "webp"
    if fmt is None:
        return snap
    return BytesSnapshot(snap.data, fmt, _MEDIA_TYPES[fmt])


def _is_pil(data: Any) -> bool:
    return type(data).__module__.startswith("PIL.") and hasattr(data, "getbands")


def _pil_array(image: Any) -> np.ndarray:
    # Image.open() is lazy: the pixels are decoded here, and a truncated or corrupt
    # file fails here with Pillow's bare OSError ("image file is truncated").
    try:
        image.load()
    except OSError as e:
        source = f" from {image.filename!r}" if getattr(image, "filename", "") else ""
        raise ValueError(
            f"Image: the PIL image{source} could not be decoded ({e}); "
            "accepted: a PIL image whose pixel data Pillow can read in full"
        ) from None
    # "I" and "F" stay numbers: the worker normalises them like numpy arrays
    # (a [0,1] float image would turn black, and 300 silently 255, through convert()).
    if image.mode not in ("L", "RGB", "RGBA", "1", "I;16", "I", "F"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    return np.array(image, copy=True)


def _is_figure(data: Any) -> bool:
    return type(data).__module__.startswith("matplotlib.") and hasattr(data, "canvas")


def _figure_rgba(figure: Any) -> np.ndarray:
    # Drawn on the caller's thread (a figure is not thread-safe); encoded by the worker.
    figure.canvas.draw()
    return np.array(figure.canvas.buffer_rgba(), copy=True)


def _check_boxes(boxes: Any) -> dict[str, Any]:
    if not isinstance(boxes, dict):
        raise TypeError(f"Image boxes must be a dict {{group: {{'box_data': [...]}}}}; got {type(boxes).__name__}")
    for group, spec in boxes.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("box_data"), list):
            raise TypeError(f"Image boxes[{group!r}] must be a dict with 'box_data': a list of boxes")
    return json_copy(boxes, "Image boxes")
