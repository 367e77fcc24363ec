"""The Lightning logger, written once over either package's `Logger` base (``lightning`` or ``pytorch_lightning``).

The two packages ship separate copies of Lightning, each with its own
``Logger`` class, so `darkroom.integration.lightning` and
`darkroom.integration.pytorch_lightning` each build the class here over
their own package's base and rank helper.
"""

from __future__ import annotations

import json
from argparse import Namespace
from collections.abc import Callable, Mapping
from typing import Any

import darkroom


def _per_item(what: str, items: Any, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """Lightning's W&B convention: each keyword argument is a list with one value per item.

    Raises
    ------
    TypeError: `items` is not a list, or a keyword argument's value is not a list.
    ValueError: a keyword argument's list is not as long as `items`.
    """
    if not isinstance(items, list):
        raise TypeError(f"log_{what}: {what}s must be a list (one per item); got {type(items).__name__}")
    for name, values in kwargs.items():
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"log_{what}: {name}= must be a list with one value per {what}; "
                            f"got {type(values).__name__}")
        if len(values) != len(items):
            raise ValueError(f"log_{what}: {name}= has {len(values)} values for {len(items)} {what}s; "
                             f"accepted: one per {what}")
    return [{name: values[i] for name, values in kwargs.items()} for i in range(len(items))]


def _flat_params(params: Any, prefix: str = "") -> dict[str, Any]:
    """Hyperparameters as one flat JSON-safe dict: nested dicts joined with "/", the rest as str()."""
    if isinstance(params, Namespace):
        params = vars(params)
    flat: dict[str, Any] = {}
    for key, value in (params or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, Namespace):
            value = vars(value)
        if isinstance(value, Mapping):
            flat.update(_flat_params(value, f"{name}/"))
            continue
        if callable(value):
            value = getattr(value, "__name__", None) or type(value).__name__
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = str(value)
        flat[name] = value
    return flat


def logger_class(base: type, rank_zero_only: Callable, package: str) -> type:
    """A `DarkroomLogger` class derived from `base` (that package's ``loggers.Logger``)."""

    class DarkroomLogger(base):  # type: ignore[misc, valid-type]
        """Logs a Lightning run to darkroom: metrics, hyperparameters and media, from global rank 0 only.

        Parameters
        ----------
        project, name, config: as `darkroom.init`.  A run already open in this
            process (`darkroom.init` called before) is used as it is.
        log_model: True or "all": record each checkpoint's path and score in the run's
            summary (``checkpoint/*``); darkroom stores no model files.
        prefix: put before every metric key (``"prefix/key"``).
        init_kwargs: more `darkroom.init` arguments (``dir``, ``mode``, ``storage_url``...).

        On every rank but 0, nothing is logged and nothing waits: `experiment` is a
        disabled run there.  The run is not finished by Lightning's ``finalize``
        (a ``trainer.test`` may follow ``fit``): call ``logger.experiment.finish()``,
        or let darkroom finish it at exit.
        """

        LOGGER_JOIN_CHAR = "/"

        def __init__(self, project: str | None = None, name: str | None = None,
                     config: dict[str, Any] | None = None, log_model: bool | str = False, prefix: str = "",
                     **init_kwargs: Any):
            super().__init__()
            if log_model not in (False, True, "all"):
                raise ValueError(f"DarkroomLogger log_model={log_model!r}; accepted: False, True or 'all'")
            self._project = project
            self._name = name
            self._config = dict(config or {})
            self._log_model = log_model
            self._prefix = prefix
            self._init_kwargs = init_kwargs
            self._run: darkroom.Run | None = None
            self._step = 0  # the last step Lightning gave: where media logged without one go

        def __getstate__(self) -> dict[str, Any]:
            # A run holds threads and a spool: a spawned process (ddp_spawn) gets the logger
            # without it, and as a rank above 0 never makes one.
            state = self.__dict__.copy()
            state["_run"] = None
            return state

        # -- Lightning's Logger API --------------------------------------------
        @property
        def experiment(self) -> "darkroom.Run":
            """The `darkroom.Run` (made at first use; a disabled run on ranks above 0)."""
            if self._run is None:
                if rank_zero_only.rank > 0:
                    from darkroom._run import Run
                    from darkroom.pipeline.settings import Settings

                    self._run = Run(self._project or "uncategorized", self._name, self._config, "disabled",
                                    None, Settings.from_env())
                    return self._run
                open_run = darkroom.run
                if open_run is not None:
                    open_run.config.update(self._config)
                    self._run = open_run
                else:
                    self._run = darkroom.init(project=self._project, name=self._name, config=self._config,
                                              **self._init_kwargs)
            return self._run

        @property
        def name(self) -> str | None:
            """The project's name."""
            return self._project or (self._run.project if self._run else None)

        @property
        def version(self) -> str:
            """The run's id (makes the run, as Lightning asks for it when it sets up checkpoints)."""
            return self.experiment.id

        @property
        def save_dir(self) -> str | None:
            """The ``dir=`` given (where the run's spool goes), else None: Lightning's own root is used."""
            given = self._init_kwargs.get("dir")
            return str(given) if given is not None else None

        @rank_zero_only
        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            """Add hyperparameters (a dict or Namespace; nested dicts flattened with "/") to the run's config."""
            self.experiment.config.update(_flat_params(params))

        @rank_zero_only
        def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
            """Log values at `step` (default: the last step Lightning gave); tensors become numbers."""
            if step is None:
                step = self._step
            self._step = max(self._step, int(step))
            data = {f"{self._prefix}{self.LOGGER_JOIN_CHAR}{k}" if self._prefix else k: v for k, v in metrics.items()}
            self.experiment.log(data, step=int(step))

        @rank_zero_only
        def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
            if self._log_model:
                self._record_checkpoint(checkpoint_callback)

        @rank_zero_only
        def finalize(self, status: str) -> None:
            """Record the status; the run stays open for what follows (``trainer.test``...)."""
            if self._run is not None:
                self._run.summary["lightning/status"] = status

        def _record_checkpoint(self, callback: Any) -> None:
            summary = self.experiment.summary
            path = getattr(callback, "best_model_path", "") or getattr(callback, "last_model_path", "")
            if path:
                summary["checkpoint/best_path"] = str(path)
            score = getattr(callback, "best_model_score", None)
            if score is not None:
                summary["checkpoint/best_score"] = float(score)
            if self._log_model == "all" and getattr(callback, "last_model_path", ""):
                summary["checkpoint/last_path"] = str(callback.last_model_path)

        # -- media, with the signatures of Lightning's WandbLogger ----------------
        @rank_zero_only
        def log_image(self, key: str, images: list[Any], step: int | None = None, **kwargs: Any) -> None:
            """Log images (arrays, tensors, PIL images or paths) as a list under `key`.

            Keyword arguments are lists, one value per image: ``caption``, ``masks``, ``boxes``
            and the other arguments of `darkroom.Image`.
            """
            items = [darkroom.Image(image, **kw) for image, kw in zip(images, _per_item("image", images, kwargs))]
            self.log_metrics({key: items}, step)

        @rank_zero_only
        def log_video(self, key: str, videos: list[Any], step: int | None = None, **kwargs: Any) -> None:
            """Log videos (arrays (T,C,H,W), tensors or paths); per-video lists of ``caption``, ``fps``, ``format``."""
            items = [darkroom.Video(video, **kw) for video, kw in zip(videos, _per_item("video", videos, kwargs))]
            self.log_metrics({key: items}, step)

        @rank_zero_only
        def log_audio(self, key: str, audios: list[Any], step: int | None = None, **kwargs: Any) -> None:
            """Log audio clips (arrays or paths); per-clip lists of ``sample_rate``, ``caption``."""
            items = [darkroom.Audio(audio, **kw) for audio, kw in zip(audios, _per_item("audio", audios, kwargs))]
            self.log_metrics({key: items}, step)

        @rank_zero_only
        def log_table(self, key: str, columns: list[str] | None = None, data: list[list[Any]] | None = None,
                      dataframe: Any = None, step: int | None = None) -> None:
            """Log a `darkroom.Table` from `columns` and `data`, or from a pandas `dataframe`."""
            self.log_metrics({key: darkroom.Table(columns=columns, data=data, dataframe=dataframe)}, step)

        @rank_zero_only
        def log_text(self, key: str, columns: list[str] | None = None, data: list[list[str]] | None = None,
                     dataframe: Any = None, step: int | None = None) -> None:
            """Log text as a table (as Lightning's WandbLogger does)."""
            self.log_table(key, columns, data, dataframe, step)

        def __repr__(self) -> str:
            return f"<darkroom.integration.{package}.DarkroomLogger run={self._run.path if self._run else None}>"

    DarkroomLogger.__module__ = f"darkroom.integration.{package}"
    DarkroomLogger.__qualname__ = "DarkroomLogger"
    return DarkroomLogger
