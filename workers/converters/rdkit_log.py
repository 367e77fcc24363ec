"""rdkit's Chem module, loaded on first use, with rdkit's log turned into the text of darkroom's errors.

rdkit says why a parse failed only in its log; the molecule converter
(workers/converters/molecule.py) collects those messages around each call
and puts them in its InvalidInput, instead of rdkit printing them to the
worker's stderr.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

from darkroom.pipeline.optional import optional_import


def chem() -> Any:
    """rdkit.Chem, its log routed to the "rdkit" Python logger (see `rdkit_log`).

    Raises
    ------
    InvalidInput (``missing_dependency``): rdkit is not installed here.
    """
    Chem = optional_import("rdkit.Chem", "molecules need rdkit", "molecule")
    from rdkit import rdBase

    logger = logging.getLogger("rdkit")
    if not getattr(logger, "_darkroom_routed", False):
        # rdkit prints each parse error to stderr itself; routed to Python logging,
        # the messages about a user's molecule go into its error text instead of
        # the worker's log.  LogToPythonLogger adds its own stderr handler: dropped.
        rdBase.LogToPythonLogger()
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
        logger._darkroom_routed = True  # type: ignore[attr-defined]
    return Chem


class _Collect(logging.Handler):
    def __init__(self, messages: list[str]):
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def rdkit_log() -> Iterator[list[str]]:
    """The messages rdkit logs inside the block (its only account of why a parse failed)."""
    messages: list[str] = []
    handler = _Collect(messages)
    logger = logging.getLogger("rdkit")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def ascii_text(text: str) -> str:
    """The text rdkit parses, non-ASCII as "?".  Molecule formats are ASCII (non-ASCII is
    only in titles and remarks), and rdkit quotes input in its log messages: a cut
    UTF-8 sequence there fails its bridge to Python logging with a SystemError
    (found by tests/workers/test_molecule_fuzz.py)."""
    return text if text.isascii() else text.encode("ascii", "replace").decode("ascii")


def reason(messages: list[str], default: str) -> str:
    # "[12:00:01] SMILES Parse Error: ..." -> "SMILES Parse Error: ..."
    lines = [re.sub(r"^\[[0-9:]+\]\s*", "", m).strip() for m in messages]
    text = "; ".join(line for line in lines[:3] if line)
    return (text[:500] + "...") if len(text) > 500 else (text or default)
