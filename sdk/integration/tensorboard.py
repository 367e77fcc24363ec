"""TensorBoard capture: SummaryWriter calls sent to the current darkroom run, the tag as key, `global_step` as step.

`patch()` (or ``darkroom.init(..., sync_tensorboard=True)``) replaces the
``add_*`` methods of ``torch.utils.tensorboard.SummaryWriter`` and
``tensorboardX.SummaryWriter`` with ones that log to the current run, then,
for scalars, text and hparams, also write the event file as before (cheap).
Media (images, figures, video, audio, histograms, meshes, PR curves,
embeddings) are not written to the event file unless
``patch(event_file_media=True)``: that write is the PNG/GIF/WAV encode on the
training thread that capture exists to avoid (tensorboardX spends ~56 ms on a
512x512 PNG).  The captured call only snapshots, as `Run.log` does; the
workers encode.  With no run current, every method is TensorBoard's own.
`unpatch()` restores the originals.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

import darkroom
from darkroom._guard import DarkroomStrictError, warn
from darkroom._session import current

# (module to import, the distributions it needs): torch's writer needs the tensorboard package too.
_WRITER_MODULES = (("torch.utils.tensorboard", ("torch", "tensorboard")), ("tensorboardX", ("tensorboardX",)))
_EVENT_FILE_ALWAYS = frozenset({"add_scalar", "add_scalars", "add_text", "add_hparams"})
_originals: dict[tuple[type, str], Callable] = {}
_options = {"event_file_media": False}
_inside = threading.local()  # set while TensorBoard's own method runs (its add_figure calls add_image)


def patch(event_file_media: bool = False) -> list[str]:
    """Capture SummaryWriter calls into the current darkroom run (idempotent).

    Parameters
    ----------
    event_file_media: also write media to TensorBoard's event file (encoded on the
        calling thread, as TensorBoard does); scalars, text and hparams are written always.

    Returns
    -------
    The writer classes patched, as "module.SummaryWriter".

    Raises
    ------
    ImportError: neither ``torch.utils.tensorboard`` nor ``tensorboardX`` can be imported.
    """
    _options["event_file_media"] = bool(event_file_media)
    patched, problems = [], []
    for module_name, needs in _WRITER_MODULES:
        if any(importlib.util.find_spec(n) is None for n in needs):
            problems.append(f"{module_name} (needs {' and '.join(needs)})")
            continue
        try:
            writer = importlib.import_module(module_name).SummaryWriter
        except ImportError as e:
            problems.append(f"{module_name} ({e})")
            continue
        for name, capture in _CAPTURES.items():
            original = writer.__dict__.get(name)
            if original is not None and (writer, name) not in _originals:
                _originals[(writer, name)] = original
                setattr(writer, name, _captured(name, original, capture))
        patched.append(f"{module_name}.SummaryWriter")
    if not patched:
        raise ImportError("darkroom.tensorboard.patch(): no SummaryWriter to capture: "
                          + "; ".join(problems) + ". Install one: pip install tensorboard (with torch), "
                          "or pip install tensorboardX")
    return patched


def unpatch() -> None:
    """Restore every SummaryWriter method `patch` replaced."""
    for (writer, name), original in _originals.items():
        setattr(writer, name, original)
    _originals.clear()


def _captured(name: str, original: Callable, capture: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        run = current()
        if run is None or getattr(_inside, "on", False):
            return original(self, *args, **kwargs)
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:  # TensorBoard's own error for the call
            return original(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        try:
            data = capture(arguments)
            step = arguments.get("global_step")
            if step is None:  # no step: the open row (the current step), left open
                run.log(data, commit=False)
            else:
                run.log(data, step=int(step))
        except DarkroomStrictError:
            raise
        except Exception as e:  # the guard (STYLE.md, rule 10): a capture never breaks the training loop
            warn(f"darkroom.tensorboard: {name}({_tag(arguments)!r}) not captured: {type(e).__name__}: {e}")
        if name in _EVENT_FILE_ALWAYS or _options["event_file_media"]:
            _inside.on = True
            try:
                return original(self, *args, **kwargs)
            finally:
                _inside.on = False
        if name == "add_figure" and arguments.get("close"):
            _close_figures(arguments["figure"])
        return None

    method.__darkroom_original__ = original  # type: ignore[attr-defined]
    return method


def _tag(arguments: dict[str, Any]) -> Any:
    return arguments.get("tag", arguments.get("main_tag"))


# -- one capture per method: the call's arguments -> what run.log gets ----------------


def _array(data: Any) -> np.ndarray:
    """A view of an array or tensor (no copy: the media type copies what it keeps)."""
    if all(hasattr(data, n) for n in ("detach", "cpu", "numpy")):
        return data.detach().cpu().numpy()
    return np.asarray(data)


def _images(data: Any, dataformats: str) -> list[np.ndarray] | np.ndarray:
    """Arrays in (H, W, C) or (H, W) from any of TensorBoard's `dataformats` (a list where it has N)."""
    array = _array(data)
    fmt = str(dataformats).upper()
    if len(fmt) != array.ndim or len(set(fmt)) != len(fmt) or not set(fmt) <= set("NCHW") or not {"H", "W"} <= set(fmt):
        raise ValueError(f"dataformats={dataformats!r} does not fit an array of shape {array.shape}; accepted: "
                         "one letter per axis from N, C, H, W, with H and W (CHW, HWC, HW, NCHW, NHWC...)")
    order = [fmt.index(axis) for axis in "NHWC" if axis in fmt]
    array = np.transpose(array, order)
    if "C" in fmt and array.shape[-1] == 1:
        array = array[..., 0]
    return list(array) if "N" in fmt else array


def _scalar(a: dict[str, Any]) -> dict[str, Any]:
    return {a["tag"]: a["scalar_value"]}


def _scalars(a: dict[str, Any]) -> dict[str, Any]:
    return {f"{a['main_tag']}/{k}": v for k, v in a["tag_scalar_dict"].items()}


def _histogram(a: dict[str, Any]) -> dict[str, Any]:
    bins = a.get("bins")
    num_bins = min(int(bins), 512) if isinstance(bins, int) and bins > 0 else 64
    return {a["tag"]: darkroom.Histogram(_array(a["values"]), num_bins=num_bins)}


def _image(a: dict[str, Any]) -> dict[str, Any]:
    images = _images(a["img_tensor"], a.get("dataformats") or "CHW")
    if isinstance(images, list):
        return {a["tag"]: [darkroom.Image(image) for image in images]}
    return {a["tag"]: darkroom.Image(images)}


def _image_list(a: dict[str, Any]) -> dict[str, Any]:
    images = _images(a["img_tensor"], a.get("dataformats") or "NCHW")
    return {a["tag"]: [darkroom.Image(image) for image in (images if isinstance(images, list) else [images])]}


def _figure(a: dict[str, Any]) -> dict[str, Any]:
    figure = a["figure"]
    if isinstance(figure, (list, tuple)):
        return {a["tag"]: [darkroom.Image(f) for f in figure]}
    return {a["tag"]: darkroom.Image(figure)}


def _close_figures(figure: Any) -> None:
    import matplotlib.pyplot as plt

    for one in figure if isinstance(figure, (list, tuple)) else [figure]:
        plt.close(one)


def _video(a: dict[str, Any]) -> dict[str, Any]:
    return {a["tag"]: darkroom.Video(_array(a["vid_tensor"]), fps=a.get("fps") or 4)}


def _audio(a: dict[str, Any]) -> dict[str, Any]:
    samples = _array(a["snd_tensor"])
    if samples.ndim == 2 and samples.shape[0] == 1:  # TensorBoard's (1, L)
        samples = samples[0]
    elif samples.ndim == 2 and samples.shape[0] < samples.shape[1]:  # (channels, L)
        samples = samples.T
    return {a["tag"]: darkroom.Audio(samples, sample_rate=int(a.get("sample_rate") or 44100))}


def _text(a: dict[str, Any]) -> dict[str, Any]:
    return {a["tag"]: str(a["text_string"])}


def _hparams(a: dict[str, Any]) -> dict[str, Any]:
    run = current()
    assert run is not None
    run.config.update(dict(a["hparam_dict"]))
    return dict(a["metric_dict"])


def _mesh(a: dict[str, Any]) -> dict[str, Any]:
    """Each mesh of the batch as a point cloud (x, y, z[, r, g, b]); faces are not kept (darkroom's point clouds)."""
    vertices = _array(a["vertices"])
    if vertices.ndim == 2:
        vertices = vertices[None]
    colors = a.get("colors")
    clouds = []
    for i, points in enumerate(vertices):
        if colors is not None:
            points = np.concatenate([points, np.broadcast_to(_array(colors), (len(vertices),) + points.shape)[i]],
                                    axis=1)
        clouds.append(darkroom.Object3D(points))
    return {a["tag"]: clouds}


def _pr_curve(a: dict[str, Any]) -> dict[str, Any]:
    """A binary PR curve (TensorBoard's labels and positive-class probabilities), computed by the workers."""
    scores = _array(a["predictions"]).reshape(-1).astype(float)
    truth = _array(a["labels"]).reshape(-1)
    return {a["tag"]: darkroom.plot.pr_curve(truth.astype(int), np.stack([1 - scores, scores], axis=1),
                                             labels=["negative", "positive"], classes_to_plot=[1])}


def _embedding(a: dict[str, Any]) -> dict[str, Any]:
    """The embedding as a table: metadata columns, the vector, and the label image where given."""
    vectors = _array(a["mat"])
    if vectors.ndim != 2:
        raise ValueError(f"mat has shape {vectors.shape}; accepted: (N, D)")
    metadata, header = a.get("metadata"), a.get("metadata_header")
    columns: list[str] = []
    rows: list[list[Any]] = [[] for _ in range(len(vectors))]
    if metadata is not None:
        metadata = list(metadata)
        if len(metadata) != len(vectors):
            raise ValueError(f"metadata has {len(metadata)} entries for {len(vectors)} vectors")
        columns = [str(h) for h in header] if header else ["label"]
        for row, meta in zip(rows, metadata):
            row.extend(list(meta) if header else [meta])
    columns.append("embedding")
    for row, vector in zip(rows, vectors.tolist()):
        row.append(vector)
    if a.get("label_img") is not None:
        columns.append("image")
        for row, image in zip(rows, _images(a["label_img"], "NCHW")):
            row.append(darkroom.Image(image))
    return {a.get("tag") or "default": darkroom.Table(columns=columns, data=rows)}


_CAPTURES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "add_scalar": _scalar, "add_scalars": _scalars, "add_histogram": _histogram, "add_image": _image,
    "add_images": _image_list, "add_figure": _figure, "add_video": _video, "add_audio": _audio,
    "add_text": _text, "add_hparams": _hparams, "add_mesh": _mesh, "add_pr_curve": _pr_curve,
    "add_embedding": _embedding,
}

__all__ = ["patch", "unpatch"]
