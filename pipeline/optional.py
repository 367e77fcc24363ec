"""Optional libraries (codecs, plotting) imported where they are first used, with the extra to install.

A worker without PyAV, soundfile, rdkit, trimesh or matplotlib still starts
and converts every other kind; the item that needs the missing library fails
with ``missing_dependency`` and the pip extra that brings it (STYLE.md, rule 5,
after trimesh's ``ExceptionWrapper``).  The import is attempted at each call:
Python caches a successful import in ``sys.modules``, so a call costs a dict
lookup, and a library installed while a process runs is found without a
restart.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from darkroom.pipeline.errors import InvalidInput


def optional_import(module: str, needed_by: str, extra: str, where: str = "on the worker") -> ModuleType:
    """Import `module` (a dotted name) now, or explain how to install it.

    Parameters
    ----------
    module: what to import, as ``import`` spells it (``"av"``, ``"rdkit.Chem"``).
    needed_by: the start of the error text, naming who needs what:
        ``"video needs PyAV"``, ``"plots need matplotlib"``.
    extra: the ``darkroom[...]`` extra that installs it (pyproject.toml).
    where: the machine that lacks it, as the user should read it.

    Returns
    -------
    The imported module.

    Raises
    ------
    InvalidInput (``missing_dependency``): "<needed_by> <where>: pip install 'darkroom[<extra>]'".
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InvalidInput("missing_dependency", f"{needed_by} {where}: pip install 'darkroom[{extra}]'") from None
