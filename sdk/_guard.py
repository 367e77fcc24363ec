"""The one guard between darkroom's failures and the training loop (STYLE.md, rule 10).

Anything that goes wrong after a media object is built (in `log`, the sender,
the spool, an upload) becomes a `DarkroomWarning` at the caller's line, unless
``DARKROOM_STRICT=1``, which makes it raise.  KeyboardInterrupt passes through.
Darkroom's own threads have no caller to raise to: they warn with
`background_warn`, and in strict mode the training thread's next `finish()`
raises what they said.
"""

from __future__ import annotations

import threading
import warnings

from darkroom.pipeline.settings import strict_mode


class DarkroomWarning(UserWarning):
    """Something logged could not be kept as asked; the message says what and why."""


class DarkroomStrictError(RuntimeError):
    """Raised instead of a DarkroomWarning when DARKROOM_STRICT=1."""


def strict() -> bool:
    return strict_mode()


def warn(message: str, stacklevel: int = 3) -> None:
    """Emit a DarkroomWarning (or raise it as an error in strict mode)."""
    if strict():
        raise DarkroomStrictError(message)
    warnings.warn(message, DarkroomWarning, stacklevel=stacklevel)


_said_in_background: list[str] = []
_lock = threading.Lock()


def background_warn(message: str) -> None:
    """A DarkroomWarning from one of darkroom's threads: never raises there (strict mode keeps it
    for `raise_background_warnings`)."""
    if strict():
        with _lock:
            _said_in_background.append(message)
    warnings.warn(message, DarkroomWarning, stacklevel=2)


def raise_background_warnings() -> None:
    """In strict mode, raise what darkroom's threads warned of since the last call."""
    with _lock:
        said = list(_said_in_background)
        _said_in_background.clear()
    if said and strict():
        raise DarkroomStrictError("; ".join(said))
