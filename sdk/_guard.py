"""The one guard between darkroom's failures and the training loop (STYLE.md, rule 10).

Anything that goes wrong after a media object is built (in `log`, the sender,
the spool, an upload) becomes a `DarkroomWarning` at the caller's line, unless
``DARKROOM_STRICT=1``, which makes it raise.  KeyboardInterrupt passes through.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class DarkroomWarning(UserWarning):
    """Something logged could not be kept as asked; the message says what and why."""


def strict() -> bool:
    return os.environ.get("DARKROOM_STRICT", "").strip().lower() in ("1", "true", "yes", "on")


def warn(message: str, stacklevel: int = 3) -> None:
    """Emit a DarkroomWarning (or raise it as an error in strict mode)."""
    if strict():
        raise DarkroomStrictError(message)
    warnings.warn(message, DarkroomWarning, stacklevel=stacklevel)


class DarkroomStrictError(RuntimeError):
    """Raised instead of a DarkroomWarning when DARKROOM_STRICT=1."""


def guarded(fn: F) -> F:
    """Turn an Exception escaping `fn` into a DarkroomWarning (strict mode: raise)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DarkroomStrictError:
            raise
        except Exception as e:
            if strict():
                raise
            warnings.warn(f"darkroom: {fn.__name__} failed: {type(e).__name__}: {e}", DarkroomWarning, stacklevel=2)
            return None

    return wrapper  # type: ignore[return-value]
