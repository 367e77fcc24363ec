"""`DarkroomLogger` for PyTorch Lightning: ``Trainer(logger=DarkroomLogger(project=...))``.

Built over ``lightning.pytorch``'s Logger, or ``pytorch_lightning``'s where
only that package is installed; `darkroom.integration.pytorch_lightning`
always uses ``pytorch_lightning``'s.  See docs/integrations/lightning.md.
"""

from __future__ import annotations

import importlib.util

from darkroom.integration import require
from darkroom.integration._lightning_logger import logger_class

if importlib.util.find_spec("lightning") is not None:
    _loggers = require("lightning.pytorch.loggers", "lightning", "lightning")
    _rank = require("lightning.pytorch.utilities.rank_zero", "lightning", "lightning")
else:
    _loggers = require("pytorch_lightning.loggers", "lightning", "lightning (or pytorch-lightning)")
    _rank = require("pytorch_lightning.utilities.rank_zero", "lightning", "lightning (or pytorch-lightning)")

DarkroomLogger = logger_class(_loggers.Logger, _rank.rank_zero_only, "lightning")

__all__ = ["DarkroomLogger"]
