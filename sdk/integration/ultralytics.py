"""Ultralytics YOLO: ``add_callbacks(model)`` logs a training run's metrics, plots and validation predictions.

Registered with the model's own ``add_callback(event, fn)``, on the events
every Ultralytics trainer runs: ``on_pretrain_routine_end`` (the run, with the
trainer's arguments as config), ``on_train_epoch_end`` (train losses, learning
rates), ``on_fit_epoch_end`` (validation metrics, new plots, and the
validation images with their predicted boxes) and ``on_train_end`` (the final
plots: results, confusion matrix, PR and F1 curves).  The step is the epoch
number, counted from 1 as Ultralytics prints it.

Nothing here imports Ultralytics: the callbacks read the trainer's documented
attributes (``args``, ``epoch``, ``tloss``, ``lr``, ``metrics``, ``plots``,
``save_dir``, ``validator``), so the module loads anywhere, and a model
without ``add_callback`` is refused when it is passed.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import darkroom
from darkroom._guard import DarkroomStrictError, warn

# The plot files a finished Ultralytics run leaves in its save_dir, by name pattern.
FINAL_PLOTS = ("results.png", "confusion_matrix*.png", "*curve.png", "labels*.jpg")


def add_callbacks(model: Any, project: str | None = None, max_images: int = 16, **init_kwargs: Any) -> Any:
    """Make `model`'s training log to darkroom; returns `model`.

    Parameters
    ----------
    model: an ``ultralytics.YOLO`` (anything with ``add_callback(event, fn)``).
    project: the darkroom project (default: the trainer's ``project`` argument, else darkroom's default).
    max_images: validation images logged with their predicted boxes each epoch (0: none).
        Predictions come from the validator's COCO-style ``jdict``, so ``save_json`` is turned on.
    init_kwargs: more `darkroom.init` arguments (``dir``, ``mode``, ``storage_url``...).

    Raises
    ------
    TypeError: `model` has no ``add_callback``; `max_images` is not an int >= 0.
    """
    if not callable(getattr(model, "add_callback", None)):
        raise TypeError(f"add_callbacks(model) takes an Ultralytics model (with add_callback(event, fn), "
                        f"e.g. ultralytics.YOLO('yolo11n.yaml')); got {type(model).__name__}")
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0:
        raise TypeError(f"add_callbacks max_images={max_images!r}; accepted: an int >= 0")
    logger = _YoloLogger(project, max_images, init_kwargs)
    for event in ("on_pretrain_routine_start", "on_pretrain_routine_end", "on_train_epoch_end",
                  "on_fit_epoch_end", "on_train_end"):
        model.add_callback(event, _guarded(getattr(logger, event)))
    return model


def _guarded(hook: Any) -> Any:
    def callback(trainer: Any) -> None:
        try:
            hook(trainer)
        except DarkroomStrictError:
            raise
        except Exception as e:  # the guard (STYLE.md, rule 10): logging never ends a training run
            warn(f"darkroom: Ultralytics {hook.__name__} not logged: {type(e).__name__}: {e}")

    callback.__name__ = f"darkroom_{hook.__name__}"
    return callback


class _YoloLogger:
    def __init__(self, project: str | None, max_images: int, init_kwargs: dict[str, Any]):
        self.project = project
        self.max_images = max_images
        self.init_kwargs = init_kwargs
        self.run: darkroom.Run | None = None
        self.logged_plots: dict[Path, float] = {}

    def on_pretrain_routine_start(self, trainer: Any) -> None:
        if self.max_images:
            trainer.args.save_json = True  # the validator keeps its predictions (jdict) only then

    def on_pretrain_routine_end(self, trainer: Any) -> None:
        args = vars(trainer.args)
        project = self.project or (Path(str(args["project"])).name if args.get("project") else None)
        self.run = darkroom.run or darkroom.init(project=project, name=str(args.get("name") or "") or None,
                                                 **self.init_kwargs)
        self.run.config.update({k: v if isinstance(v, (bool, int, float, str, type(None))) else str(v)
                                for k, v in args.items()})

    def on_train_epoch_end(self, trainer: Any) -> None:
        if self.run is None:
            return
        data = dict(trainer.label_loss_items(trainer.tloss, prefix="train"))
        data.update(trainer.lr)
        self.run.log(data, step=trainer.epoch + 1)

    def on_fit_epoch_end(self, trainer: Any) -> None:
        if self.run is None:
            return
        step = trainer.epoch + 1
        data: dict[str, Any] = dict(trainer.metrics)
        data.update(self._new_plots(trainer.plots, getattr(trainer.validator, "plots", {})))
        predictions = self._predictions(trainer.validator)
        if predictions:
            data["val/predictions"] = predictions
        self.run.log(data, step=step)

    def on_train_end(self, trainer: Any) -> None:
        if self.run is None:
            return
        found = {p: p.stat().st_mtime for pattern in FINAL_PLOTS for p in Path(trainer.save_dir).glob(pattern)}
        plots = self._new_plots(trainer.plots, getattr(trainer.validator, "plots", {}),
                                {p: {"timestamp": t} for p, t in found.items()})
        if plots:
            self.run.log(plots, step=trainer.epoch + 1)

    # -- what is logged --------------------------------------------------------
    def _new_plots(self, *tables: dict[Any, dict[str, Any]]) -> dict[str, darkroom.Image]:
        """Plot files not logged yet at their timestamp, as ``plots/<file stem>`` images."""
        images = {}
        for table in tables:
            for name, meta in dict(table).items():
                path = Path(name)
                stamp = meta.get("timestamp")
                if self.logged_plots.get(path) == stamp or not path.is_file():
                    continue
                self.logged_plots[path] = stamp
                images[f"plots/{path.stem}"] = darkroom.Image(path)
        return images

    def _predictions(self, validator: Any) -> list[darkroom.Image]:
        """The first `max_images` validation images with their predicted boxes (class names, scores)."""
        jdict = getattr(validator, "jdict", None) or []
        if not self.max_images or not jdict:
            return []
        files = {Path(f).name: Path(f) for f in getattr(getattr(validator.dataloader, "dataset", None), "im_files", [])}
        names = dict(getattr(validator, "names", {}) or {})
        class_map = list(getattr(validator, "class_map", None) or range(1, len(names) + 1))
        boxes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for pred in jdict:
            name = pred.get("file_name") or f"{pred['image_id']}.jpg"
            if name not in boxes and len(boxes) >= self.max_images:
                continue
            x, y, w, h = (float(v) for v in pred["bbox"])  # COCO: top-left x, y, width, height, in pixels
            cls = class_map.index(pred["category_id"]) if pred["category_id"] in class_map else int(pred["category_id"])
            score = float(pred["score"])
            boxes[name].append({"position": {"minX": x, "maxX": x + w, "minY": y, "maxY": y + h},
                                "domain": "pixel", "class_id": cls, "scores": {"conf": score},
                                "box_caption": f"{names.get(cls, cls)} {score:.2f}"})
        labels = {int(k): str(v) for k, v in names.items()}
        return [darkroom.Image(files[name], caption=name, boxes={"predictions": {"box_data": found,
                                                                                   "class_labels": labels}})
                for name, found in boxes.items() if name in files]


__all__ = ["add_callbacks"]
