"""`darkroom.tensorboard`: TensorBoard's SummaryWriter captured into the current run (`patch`, `unpatch`).

The same as ``darkroom.integration.tensorboard``; see its docstring and
docs/integrations/tensorboard.md.  ``darkroom.init(..., sync_tensorboard=True)``
calls `patch` for you.
"""

from __future__ import annotations

from darkroom.integration.tensorboard import patch as patch
from darkroom.integration.tensorboard import unpatch as unpatch

__all__ = ["patch", "unpatch"]
