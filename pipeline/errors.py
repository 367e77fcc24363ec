"""Every error darkroom raises, under one base class.

Two kinds of failure matter to a task (STYLE.md, rule 8): `InvalidInput` is the
caller's data and becomes a failed manifest with no retry; `Transient` is the
world (storage or broker unreachable) and is retried with backoff.
"""

from __future__ import annotations

import reprlib

_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 4, 8, 8, 120, 120


class DarkroomError(Exception):
    """Base class of every darkroom error."""


class ConfigError(DarkroomError):
    """A setting is missing or malformed; the message names the variable."""


class InvalidInput(DarkroomError):
    """Logged data that cannot be converted.  Never retried.

    `code` is a short machine-readable tag (``invalid_shape``, ``too_large``, ...)
    that lands in the failed manifest beside the human message.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class MessageDecodeError(InvalidInput):
    """A queue message that is not a valid `ConvertRequest`.

    Keeps the raw text and the cause, as dramatiq's DecodeError does.
    """

    def __init__(self, raw: object, cause: Exception):
        # reprlib: a message nested 900 deep must not fail again in repr (RecursionError).
        text = raw[:301] if isinstance(raw, str) else _SHORT.repr(raw)
        shown = text if len(text) <= 300 else text[:300] + "..."
        # A lone surrogate (from JSON's \ud800) would fail every log and file write.
        message = f"malformed convert request ({cause}): {shown}".encode("utf-8", "backslashreplace").decode()
        super().__init__("malformed_message", message)
        self.raw = raw
        self.__cause__ = cause


class Transient(DarkroomError):
    """A fault of the environment that may pass: retry with backoff."""


class StorageError(DarkroomError):
    """Base class of storage failures."""


class NotFound(StorageError):
    """The object does not exist."""


class PermissionDenied(StorageError):
    """The credentials do not allow this operation."""


class StorageUnavailable(StorageError, Transient):
    """The storage endpoint did not answer, or answered with a server error."""


class BrokerUnavailable(Transient):
    """The message broker did not accept a message."""


class UnsafeKey(InvalidInput):
    """A storage key or URI that would escape its prefix or bucket."""

    def __init__(self, message: str):
        super().__init__("unsafe_key", message)


class DamagedObject(StorageError):
    """A stored object that does not read as darkroom wrote it (a torn line, bytes that are not JSON).

    `key` names the object and `line` its line (None: the whole object), so a
    listing can show the one damaged run and go on with the others.
    """

    def __init__(self, key: str, problem: str, line: int | None = None):
        where = key if line is None else f"{key}, line {line}"
        super().__init__(f"damaged object {where}: {problem}")
        self.key = key
        self.line = line
        self.problem = problem
