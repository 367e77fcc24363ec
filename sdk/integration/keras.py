"""Keras 3 callbacks: `DarkroomMetricsLogger` (metrics) and `DarkroomEvalCallback` (a table of predictions each epoch).

Both log to the open darkroom run, or start one at ``on_train_begin``.  Their
step is the number of training batches done so far, one axis for both
callbacks and for batch and epoch logs: with 4 batches an epoch, batch logs
land at steps 1, 2, 3, 4, ... and epoch 0's logs at step 4.  Any backend
works (tested with ``KERAS_BACKEND=torch``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

import darkroom
from darkroom.integration import require

try:
    keras = require("keras", "keras", "keras")
except ImportError as e:
    if "tensorflow" not in str(e) or os.environ.get("KERAS_BACKEND"):
        raise
    # Keras 3 is installed, but with no backend chosen it imports TensorFlow.
    raise ImportError(f"{e}. Keras 3 uses TensorFlow unless told otherwise: set KERAS_BACKEND=torch "
                      "(or jax) before importing keras, or pip install tensorflow") from e

_FREQS = ("epoch", "batch")


def _open_run(init_kwargs: dict[str, Any]) -> darkroom.Run:
    return darkroom.run or darkroom.init(**init_kwargs)


class DarkroomMetricsLogger(keras.callbacks.Callback):
    """Logs the metrics Keras reports: ``epoch/<name>`` at each epoch's end, and ``batch/<name>`` as asked.

    Parameters
    ----------
    log_freq: "epoch" (default): epoch logs only; "batch": also every batch; an int n:
        also every n batches.
    init_kwargs: `darkroom.init` arguments, used when no run is open at ``on_train_begin``.

    Raises
    ------
    ValueError: a `log_freq` not accepted.
    """

    def __init__(self, log_freq: str | int = "epoch", **init_kwargs: Any):
        super().__init__()
        if isinstance(log_freq, bool) or not (log_freq in _FREQS or isinstance(log_freq, int) and log_freq > 0):
            raise ValueError(f"DarkroomMetricsLogger log_freq={log_freq!r}; accepted: 'epoch', 'batch' "
                             "or an int > 0 (every that many batches)")
        self.log_freq = 1 if log_freq == "batch" else log_freq
        self._init_kwargs = init_kwargs
        self._run: darkroom.Run | None = None
        self._batches = 0

    @property
    def run(self) -> darkroom.Run | None:
        return self._run

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._run = _open_run(self._init_kwargs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        if self.log_freq != "epoch" and self._batches % self.log_freq == 0 and self._run is not None:
            self._run.log({f"batch/{k}": v for k, v in (logs or {}).items()}, step=self._batches)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._run is None:
            return
        data = {f"epoch/{k}": v for k, v in (logs or {}).items()}
        data["epoch/epoch"] = epoch
        rate = _learning_rate(self.model)
        if rate is not None:
            data["epoch/learning_rate"] = rate
        self._run.log(data, step=self._batches)


def _learning_rate(model: Any) -> float | None:
    rate = getattr(getattr(model, "optimizer", None), "learning_rate", None)
    if rate is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(rate))
    except (TypeError, ValueError):  # a schedule object Keras itself cannot turn into a number
        return None


class DarkroomEvalCallback(keras.callbacks.Callback):
    """Logs a `darkroom.Table` of validation samples with the model's predictions at each epoch's end.

    Parameters
    ----------
    validation_data: ``(inputs, targets)``, arrays (or anything ``np.asarray`` reads) of equal length.
    data_table_columns: the names of the input and ground-truth columns (two names).
    pred_table_columns: the name of the prediction column (one name).
    num_samples: how many samples from the start of `validation_data` (default 100; at most its length).
    key: the table's key (default ``"eval/predictions"``).

    Rows are ``[epoch, input, target, prediction]``: an input that is an image
    ((H, W) or (H, W, C) with C in 1, 3, 4) becomes a `darkroom.Image`, other
    inputs a list of numbers; a prediction vector becomes its argmax (class
    index), a single value a float.  Override `input_cell`, `target_cell` or
    `prediction_cell` to change that.

    Raises
    ------
    ValueError, TypeError: columns not as described, inputs and targets of different lengths.
    """

    def __init__(self, validation_data: tuple[Any, Any], data_table_columns: Sequence[str] = ("input", "target"),
                 pred_table_columns: Sequence[str] = ("prediction",), num_samples: int = 100,
                 key: str = "eval/predictions", **init_kwargs: Any):
        super().__init__()
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("DarkroomEvalCallback validation_data must be (inputs, targets)")
        inputs, targets = (np.asarray(v) for v in validation_data)
        if len(inputs) != len(targets):
            raise ValueError(f"DarkroomEvalCallback validation_data has {len(inputs)} inputs and "
                             f"{len(targets)} targets; accepted: one target per input")
        if len(data_table_columns) != 2 or len(pred_table_columns) != 1:
            raise ValueError(f"DarkroomEvalCallback columns: data_table_columns={list(data_table_columns)!r}, "
                             f"pred_table_columns={list(pred_table_columns)!r}; accepted: two names (input, "
                             "ground truth) and one name (prediction)")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"DarkroomEvalCallback num_samples={num_samples!r}; accepted: an int >= 1")
        self.inputs, self.targets = inputs[:num_samples], targets[:num_samples]
        self.columns = ["epoch", *data_table_columns, *pred_table_columns]
        self.key = key
        self._init_kwargs = init_kwargs
        self._run: darkroom.Run | None = None
        self._batches = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._run = _open_run(self._init_kwargs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._run is None:
            return
        predictions = np.asarray(keras.ops.convert_to_numpy(self.model.predict(self.inputs, verbose=0)))
        rows = [[epoch, self.input_cell(x), self.target_cell(y), self.prediction_cell(p)]
                for x, y, p in zip(self.inputs, self.targets, predictions)]
        self._run.log({self.key: darkroom.Table(columns=self.columns, data=rows)}, step=self._batches)

    # -- cells: override to show them otherwise ----------------------------------
    def input_cell(self, x: np.ndarray) -> Any:
        is_image = x.ndim == 2 and min(x.shape) >= 2 or x.ndim == 3 and x.shape[-1] in (1, 3, 4)
        return darkroom.Image(x) if is_image else np.asarray(x).reshape(-1).tolist()

    def target_cell(self, y: np.ndarray) -> Any:
        return y.item() if y.size == 1 else y.reshape(-1).tolist()

    def prediction_cell(self, p: np.ndarray) -> Any:
        return float(p.reshape(-1)[0]) if p.size == 1 else int(np.argmax(p))


__all__ = ["DarkroomMetricsLogger", "DarkroomEvalCallback"]
