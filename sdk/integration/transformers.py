"""`DarkroomCallback` for Hugging Face Transformers' ``Trainer``; importing it also registers ``report_to="darkroom"``.

``Trainer(..., callbacks=[DarkroomCallback()])`` always works.  Transformers
has no public registry of reporting integrations: its ``report_to`` names are
looked up in ``transformers.integrations.integration_utils.INTEGRATION_TO_CALLBACK``
when the Trainer is built, so this module adds ``"darkroom"`` there, and
``TrainingArguments(report_to="darkroom")`` works once this module is
imported (an older or newer Transformers without that table gets the
callbacks= form only; `REPORT_TO_REGISTERED` says which).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import darkroom
from darkroom.integration import require

_callbacks = require("transformers.trainer_callback", "transformers", "transformers")


def _split_logs(logs: Mapping[str, Any]) -> dict[str, Any]:
    """The Trainer's log keys as darkroom keys: ``eval_loss`` -> ``eval/loss``, ``loss`` -> ``train/loss``."""
    data = {}
    for key, value in logs.items():
        if isinstance(value, (bool, str)) or not isinstance(value, (int, float)) and not hasattr(value, "item"):
            continue  # the Trainer's logs also carry strings and None; only numbers are metrics
        for prefix in ("eval", "test"):
            if key.startswith(prefix + "_"):
                data[f"{prefix}/{key[len(prefix) + 1:]}"] = value
                break
        else:
            data[f"train/{key}"] = value
    return data


class DarkroomCallback(_callbacks.TrainerCallback):
    """Logs a Trainer's run to darkroom, from the world's process zero only.

    Parameters
    ----------
    project, name: as `darkroom.init` (default name: ``TrainingArguments.run_name``).
        A run already open in this process is used as it is.
    predictions: ``fn(model) -> {key: media or list of media}``, called at each
        evaluation; what it returns is logged at that step (generated images,
        audio from a pipeline...).  Errors in it warn and training goes on.
    init_kwargs: more `darkroom.init` arguments (``dir``, ``mode``, ``storage_url``...).

    Scalars from ``on_log`` are logged at ``state.global_step``, passed as the
    step; TrainingArguments and the model's config go to the run's config at
    ``on_train_begin``; eval metrics at ``on_evaluate``.  The run stays open
    after training (evaluation may follow): ``darkroom.finish()``, or darkroom
    finishes it at exit.
    """

    def __init__(self, project: str | None = None, name: str | None = None,
                 predictions: Callable[[Any], Mapping[str, Any]] | None = None, **init_kwargs: Any):
        if predictions is not None and not callable(predictions):
            raise TypeError(f"DarkroomCallback predictions= must be a function fn(model) -> {{key: media}}; "
                            f"got {type(predictions).__name__}")
        self._project = project
        self._name = name
        self._predictions = predictions
        self._init_kwargs = init_kwargs
        self._run: darkroom.Run | None = None
        self._step = 0

    @property
    def run(self) -> darkroom.Run | None:
        """The darkroom run (None before training begins, and on processes other than zero)."""
        return self._run

    def _setup(self, args: Any, state: Any, model: Any) -> None:
        if not state.is_world_process_zero:
            return
        config: dict[str, Any] = {}
        model_config = getattr(model, "config", None)
        if model_config is not None and hasattr(model_config, "to_dict"):
            config.update(model_config.to_dict())
        config.update(args.to_dict())
        if self._run is None:
            self._run = darkroom.run or darkroom.init(project=self._project, name=self._name or args.run_name,
                                                      **self._init_kwargs)
        self._run.config.update(config)

    # -- the Trainer's hooks ---------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._setup(args, state, model)

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None,
               model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        if self._run is None:  # trainer.evaluate() alone: no on_train_begin came
            self._setup(args, state, model)
        data = _split_logs({k: v for k, v in (logs or {}).items() if not k.startswith("eval_")})
        if data:
            self._log(data, state.global_step)

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Mapping[str, Any] | None = None,
                    model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        if self._run is None:
            self._setup(args, state, model)
        data = _split_logs({k: v for k, v in (metrics or {}).items() if k.startswith("eval_")})
        if data:
            self._log(data, state.global_step)
        if self._predictions is not None and model is not None:
            try:
                samples = self._predictions(model)
            except Exception as e:  # the user's hook: the guard's rule, it never ends training
                from darkroom._guard import warn

                warn(f"darkroom: DarkroomCallback predictions() at step {state.global_step} failed: "
                     f"{type(e).__name__}: {e}; nothing of it logged")
                return
            self.log_predictions(samples, step=state.global_step)

    # -- media -----------------------------------------------------------------
    def log_predictions(self, samples: Mapping[str, Any], step: int | None = None) -> None:
        """Log media (``{key: darkroom.Image(...) or a list of media}``) at `step` (default: the last global step).

        Raises
        ------
        TypeError: `samples` is not a dict of ``{key: value}``.
        """
        if not isinstance(samples, Mapping):
            raise TypeError(f"log_predictions takes a dict {{key: media}}; got {type(samples).__name__}")
        if self._run is None:
            return  # not process zero, or training has not begun: nothing to log to
        self._log(dict(samples), self._step if step is None else step)

    def _log(self, data: dict[str, Any], step: int) -> None:
        assert self._run is not None
        self._step = max(self._step, int(step))
        self._run.log(data, step=int(step))


def _register_report_to() -> bool:
    try:
        from transformers.integrations import integration_utils
    except ImportError:
        return False
    table = getattr(integration_utils, "INTEGRATION_TO_CALLBACK", None)
    if not isinstance(table, dict):
        return False
    table.setdefault("darkroom", DarkroomCallback)
    return True


REPORT_TO_REGISTERED = _register_report_to()

__all__ = ["DarkroomCallback", "REPORT_TO_REGISTERED"]
