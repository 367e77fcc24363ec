"""The bounds of one logged item (key, caption, related payloads, extra data), checked at log() and in the message.

The SDK calls `check_item` when a media value is logged and the convert
message's model (`darkroom.pipeline.messages`) calls the same functions when a
worker decodes it, so nothing the SDK accepts is refused by the worker, where
it could only become a failed manifest (issue 16, items 5 and 10).  Standard
library only: the SDK imports this on the training thread.

Nothing here recurses in Python: a value nested 100,000 deep is refused as
too deep, not with a `RecursionError`.  (pydantic refuses a lone surrogate in
the message's other text fields itself: each has a length or pattern bound.)
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.paths import check_user_key

# The bounds below are fixed by the convert message, not settings: a worker
# must decode what any SDK of this message version sends.
MAX_CAPTION_CHARS = 10_000
# Payloads of one item besides its own (an Image's masks).
MAX_RELATED = 64
# Nesting of an item's extra data (boxes, mask labels) and of a request's
# options.  Boxes need 7 levels (extra > boxes > group > box_data > box >
# position > middle); deeper nesting is refused before anything walks it
# recursively (pickle in Celery's prefork pool, pydantic, json).
MAX_EXTRA_DEPTH = 16
# Characters of an item's extra data as JSON: 10,000 boxes of ~150 characters
# (DARKROOM_MAX_BOXES's default) fit.
MAX_EXTRA_CHARS = 2_000_000
# A lone surrogate is a Python str that no UTF-8 encoder accepts (a storage
# key, a JSON file written as UTF-8, a pipe to a worker).
_SURROGATE = re.compile("[\ud800-\udfff]")
_WHERE = "a fixed bound of the convert message"


def check_item(key: object, caption: object = None, related: Collection[str] = (),
               extra: Mapping[str, Any] | None = None) -> None:
    """Check one logged media item against the bounds its convert message must keep.

    Parameters
    ----------
    key: the log key the item is logged under.
    caption: its caption, or None.
    related: the roles of the payloads the item has besides its own, as the message names
        them (an Image's masks: ``"mask:<name>"``); a dict keyed by role will do.
    extra: its per-item JSON data (an Image's boxes and mask labels), or None.

    Raises
    ------
    InvalidInput: ``invalid_key`` (see `check_key`), ``invalid_caption`` (not text, over
        MAX_CAPTION_CHARS characters, or a lone surrogate), ``too_large`` (more than
        MAX_RELATED related payloads, or extra data over MAX_EXTRA_CHARS as JSON),
        ``invalid_related`` (a role that is not text UTF-8 can encode),
        ``too_deep`` (extra data nested deeper than MAX_EXTRA_DEPTH), ``invalid_text``
        (a lone surrogate in the extra data), ``invalid_extra`` (a value JSON cannot hold).
    """
    check_key(key)
    check_content(caption, related, extra)


def check_key(key: object) -> str:
    """Check a log key: `darkroom.pipeline.paths.check_user_key`, and text UTF-8 can encode; return it.

    Raises
    ------
    InvalidInput (``invalid_key``).
    """
    key = check_user_key(key)
    bad = _SURROGATE.search(key)
    if bad:
        raise InvalidInput("invalid_key", f"log key {key!r} has a lone surrogate ({bad.group()!r} at {bad.start()}), "
                           "which no UTF-8 text can hold; accepted: text that encodes as UTF-8")
    return key


def check_content(caption: object = None, related: Collection[str] = (),
                  extra: Mapping[str, Any] | None = None) -> None:
    """`check_item` without the key: what the message model checks on each item."""
    if caption is not None:
        if not isinstance(caption, str):
            raise InvalidInput("invalid_caption", f"caption must be a str or None; got {type(caption).__name__}")
        if len(caption) > MAX_CAPTION_CHARS:
            raise InvalidInput("invalid_caption", f"caption of {len(caption)} characters; at most "
                               f"{MAX_CAPTION_CHARS} are accepted ({_WHERE})")
        check_text("caption", caption, "invalid_caption")
    if len(related) > MAX_RELATED:
        raise InvalidInput("too_large", f"{len(related)} related payloads (masks) in one item; at most {MAX_RELATED} "
                           f"are accepted ({_WHERE})")
    for role in related:
        if not isinstance(role, str):
            raise InvalidInput("invalid_related", f"related payload role {role!r} is not a str")
        check_text(f"related payload role {role!r}", role, "invalid_related")
    if extra:
        check_json("extra data", extra, MAX_EXTRA_DEPTH, MAX_EXTRA_CHARS)


def check_text(what: str, text: str, code: str = "invalid_text") -> str:
    """Refuse a str with a lone surrogate (UTF-8 cannot encode it); return it."""
    bad = _SURROGATE.search(text)
    if bad:
        raise InvalidInput(code, f"{what} has a lone surrogate ({bad.group()!r} at {bad.start()}), which no "
                           "UTF-8 text can hold; accepted: text that encodes as UTF-8")
    return text


def check_json(what: str, value: Any, max_depth: int, max_chars: int) -> None:
    """Check a JSON value's nesting, size and text, as the compact JSON the message carries.

    Raises
    ------
    InvalidInput: ``too_deep``, ``too_large``, ``invalid_text`` or ``invalid_extra``;
        the text names `what` (and, for nesting and text, the path of the offending value).
    """
    if max_depth >= 1 and max_chars >= _FLAT_MAX_CHARS and _small_flat(value):
        return  # the usual options dict: within every bound, proven without encoding it
    _check_encoded(what, value, max_depth, max_chars)


def _check_encoded(what: str, value: Any, max_depth: int, max_chars: int) -> None:
    """`check_json` the whole way: encode `value`, then measure the text."""
    # json's encoder (C) is the fast walk; it stops at the interpreter's
    # recursion limit with a RecursionError, not a crash.
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        text = None
    except (TypeError, ValueError) as e:  # a set, an object; an int past 4,300 digits
        raise InvalidInput("invalid_extra", f"{what} is not JSON ({e}); accepted: JSON values (dict, list, "
                           "str, int, float, bool, None)") from None
    if text is None or _depth(text) > max_depth:
        raise InvalidInput("too_deep", f"{what} nests deeper than {max_depth} levels (at "
                           f"{_path(_deep_path(value, max_depth))}); at most {max_depth} are accepted ({_WHERE})")
    if len(text) > max_chars:
        raise InvalidInput("too_large", f"{what} of {len(text)} characters as JSON; at most {max_chars} are "
                           f"accepted ({_WHERE})")
    if _SURROGATE.search(text):
        raise InvalidInput("invalid_text", f"{what} has a lone surrogate ({_surrogate_at(value)}), which no "
                           "UTF-8 text can hold; accepted: text that encodes as UTF-8")


# A dict of at most _FLAT_ITEMS plain scalars and strings of at most _FLAT_TEXT
# characters is one level deep and, even with every character escaped as
# \uXXXX, at most _FLAT_MAX_CHARS long.  `run.log` checks every item's options
# this way: json.dumps on the training thread cost more than the rest of the
# check (bench/log_overhead.py).
_FLAT_ITEMS, _FLAT_TEXT = 64, 1000
_FLAT_MAX_CHARS = _FLAT_ITEMS * (2 * 6 * _FLAT_TEXT + 40)
_FLAT_TYPES = (bool, float, type(None))


def _small_flat(value: Any) -> bool:
    """True for a dict `check_json` would accept whatever its bounds (>= 1 level, >= _FLAT_MAX_CHARS)."""
    if type(value) is not dict or len(value) > _FLAT_ITEMS:
        return False
    for k, v in value.items():
        if type(k) is not str or len(k) > _FLAT_TEXT or _SURROGATE.search(k):
            return False
        if type(v) is str:
            if len(v) > _FLAT_TEXT or _SURROGATE.search(v):
                return False
        elif type(v) is int:
            if not -(2 ** 63) <= v < 2 ** 63:
                return False
        elif type(v) not in _FLAT_TYPES:
            return False
    return True


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: one regex step per run of plain text
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _depth(text: str) -> int:
    """The nesting of compact JSON `text`: its brackets outside strings, counted."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _deep_path(value: Any, max_depth: int) -> tuple[Any, ...]:
    """The path to a container deeper than `max_depth`, found without recursion (for the error text)."""
    stack: list[tuple[Any, int, Any]] = [(value, 1, None)]
    while stack:
        node, depth, link = stack.pop()
        if depth > max_depth:
            return _unlink(link)
        children = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((child, depth + 1, (link, name)) for name, child in children
                     if isinstance(child, (dict, list, tuple)))
    return ()


def _unlink(link: Any) -> tuple[Any, ...]:
    path = []
    while link is not None:
        link, name = link
        path.append(name)
    return tuple(reversed(path))


def _surrogate_at(value: Any) -> str:
    """Where in `value` (already checked shallow) the first lone surrogate is, for the error text."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str) and _SURROGATE.search(node):
            return f"in a string at {_path(path)}"
        if isinstance(node, dict):
            for name, child in node.items():
                if _SURROGATE.search(name):
                    return f"in a key at {_path(path)}"
                stack.append((child, (*path, name)))
        elif isinstance(node, (list, tuple)):
            stack.extend((child, (*path, i)) for i, child in enumerate(node))
    return "somewhere"


def _path(path: tuple[Any, ...]) -> str:
    shown = "".join(f"[{p!r}]" for p in path[:8])
    return (shown + ("..." if len(path) > 8 else "")) or "the top"
