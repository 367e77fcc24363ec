"""`DarkroomLogger` for the ``pytorch_lightning`` package: ``pytorch_lightning.Trainer(logger=DarkroomLogger())``.

The same logger as `darkroom.integration.lightning`, over ``pytorch_lightning``'s
own Logger class.  See docs/integrations/lightning.md.
"""

from __future__ import annotations

from darkroom.integration import require
from darkroom.integration._lightning_logger import logger_class

_loggers = require("pytorch_lightning.loggers", "pytorch_lightning", "pytorch-lightning")
_rank = require("pytorch_lightning.utilities.rank_zero", "pytorch_lightning", "pytorch-lightning")

DarkroomLogger = logger_class(_loggers.Logger, _rank.rank_zero_only, "pytorch_lightning")

__all__ = ["DarkroomLogger"]
