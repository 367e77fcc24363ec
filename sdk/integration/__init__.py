"""Framework integrations: ``darkroom.integration.<framework>``, each importing its framework only inside itself.

- ``darkroom.integration.lightning``: `DarkroomLogger` for ``lightning`` (``pytorch_lightning`` when
  only that is installed); ``darkroom.integration.pytorch_lightning``: the same for ``pytorch_lightning``.
- ``darkroom.integration.keras``: `DarkroomMetricsLogger`, `DarkroomEvalCallback` (Keras 3).
- ``darkroom.integration.transformers``: `DarkroomCallback` (Hugging Face ``Trainer``).
- ``darkroom.integration.ultralytics``: ``add_callbacks(model)`` (Ultralytics YOLO).
- ``darkroom.integration.tensorboard`` (also ``darkroom.tensorboard``): SummaryWriter capture.

Importing one of them where its framework is missing raises an ImportError
that names the package to install (STYLE.md, rule 5: optional parts fail
when used, with the install hint).
"""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, integration: str, install: str) -> ModuleType:
    """Import `module` for `integration`, or say what to install.

    Raises
    ------
    ImportError: `module` (or something it needs) cannot be imported; the
        message names the integration, the cause and the pip command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"darkroom.integration.{integration} needs {module!r}, which could not be imported "
                          f"({type(e).__name__}: {e}); install it with: pip install {install}") from e
