"""darkroom: log media from training jobs; a worker fleet develops it.

This module is the whole public surface.  It imports numpy and the standard
library only: Pillow, codecs, Celery and the S3 client load where they are
first needed.
"""

from __future__ import annotations

from typing import Any

from darkroom import plot as plot
from darkroom import plots as plots
from darkroom import sklearn as sklearn
from darkroom._api import Api as Api
from darkroom._chart import plot_table as plot_table
from darkroom._classes import Classes as Classes
from darkroom._audio import Audio as Audio
from darkroom._guard import DarkroomWarning as DarkroomWarning
from darkroom._histogram import Histogram as Histogram
from darkroom._html import Html as Html
from darkroom._image import Image as Image
from darkroom._molecule import Molecule as Molecule
from darkroom._object3d import Object3D as Object3D
from darkroom._plotly import Plotly as Plotly
from darkroom._report import Failure as Failure
from darkroom._report import FinishReport as FinishReport
from darkroom._run import Run as Run
from darkroom._run import Summary as Summary
from darkroom._session import define_metric as define_metric
from darkroom._session import finish as finish
from darkroom._session import init as init
from darkroom._session import log as log
from darkroom._session import login as login
from darkroom._table import Table as Table
from darkroom._video import Video as Video

__version__ = "0.1.0"

__all__ = [
    "Api",
    "Audio",
    "Classes",
    "DarkroomWarning",
    "Failure",
    "FinishReport",
    "Histogram",
    "Html",
    "Image",
    "Molecule",
    "Object3D",
    "Plotly",
    "Run",
    "Summary",
    "Table",
    "Video",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "login",
    "plot",
    "plot_table",
    "plots",
    "run",
    "sklearn",
    "summary",
]


def __getattr__(name: str) -> Any:
    # `darkroom.run`, `.summary` and `.config` mirror the current run: `run` is None before init, and
    # `config`/`summary` a stand-in whose every use says to call init() first (as W&B's do).
    if name in ("run", "summary", "config"):
        from darkroom._session import BeforeInit, current

        run = current()
        if name == "run":
            return run
        return getattr(run, name) if run else BeforeInit(name)
    if name == "tensorboard":  # `darkroom.tensorboard.patch()` with no import of it first; loads no framework
        import importlib

        return importlib.import_module("darkroom.tensorboard")
    raise AttributeError(f"module 'darkroom' has no attribute {name!r}")
