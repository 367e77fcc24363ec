"""The bounds of one logged item (key, caption, related payloads, extra data), checked at log() and in the message.

The SDK calls `check_item` when a media value is logged and the convert
message's model (`darkroom.pipeline.messages`) calls the same functions when a
worker decodes it, so nothing the SDK accepts is refused by the worker, where
it could only become a failed manifest (issue 16, items 5 and 10).  Standard
library only: the SDK imports this on the training thread.

Every walk here is iterative: a value nested 100,000 deep is refused, not
a `RecursionError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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


def check_item(key: object, caption: object = None, related: int = 0,
               extra: Mapping[str, Any] | None = None) -> None:
    """Check one logged media item against the bounds its convert message must keep.

    Parameters
    ----------
    key: the log key the item is logged under.
    caption: its caption, or None.
    related: how many payloads the item has besides its own (an Image's masks).
    extra: its per-item JSON data (an Image's boxes and mask labels), or None.

    Raises
    ------
    InvalidInput: ``invalid_key`` (see `check_key`), ``invalid_caption`` (not text, over
        MAX_CAPTION_CHARS characters, or a lone surrogate), ``too_large`` (more than
        MAX_RELATED related payloads, or extra data over MAX_EXTRA_CHARS as JSON),
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


def check_content(caption: object = None, related: int = 0, extra: Mapping[str, Any] | None = None) -> None:
    """`check_item` without the key: what the message model checks on each item."""
    if caption is not None:
        if not isinstance(caption, str):
            raise InvalidInput("invalid_caption", f"caption must be a str or None; got {type(caption).__name__}")
        if len(caption) > MAX_CAPTION_CHARS:
            raise InvalidInput("invalid_caption", f"caption of {len(caption)} characters; at most "
                               f"{MAX_CAPTION_CHARS} are accepted ({_WHERE})")
        check_text("caption", caption, "invalid_caption")
    if related > MAX_RELATED:
        raise InvalidInput("too_large", f"{related} related payloads (masks) in one item; at most {MAX_RELATED} "
                           f"are accepted ({_WHERE})")
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
    """Check a JSON value's nesting, size and text without recursion; stop at the first bound passed.

    The size is counted as compact JSON's characters (close to ``json.dumps``,
    without building the text), so a huge value costs at most `max_chars` of work.

    Raises
    ------
    InvalidInput: ``too_deep``, ``too_large``, ``invalid_text`` or ``invalid_extra``;
        the text names `what` and the path of the offending value.
    """
    chars = 0
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            if depth > max_depth:
                raise InvalidInput("too_deep", f"{what} nests deeper than {max_depth} levels (at "
                                   f"{_path(path)}); at most {max_depth} are accepted ({_WHERE})")
            chars += 2 + max(len(node) - 1, 0)
            if isinstance(node, dict):
                for name, child in node.items():
                    if not isinstance(name, str):
                        raise InvalidInput("invalid_extra", f"{what} has a key {name!r} at {_path(path)}; "
                                           "accepted: str keys (JSON objects)")
                    check_text(f"{what} key at {_path(path)}", name)
                    chars += len(name) + 3
                    stack.append((child, depth + 1, (*path, name)))
            else:
                stack.extend((child, depth + 1, (*path, i)) for i, child in enumerate(node))
        elif isinstance(node, str):
            check_text(f"{what} at {_path(path)}", node)
            chars += len(node) + 2
        elif isinstance(node, bool) or node is None:
            chars += 5
        elif isinstance(node, int):
            chars += node.bit_length() // 3 + 2  # about its decimal digits, without str() (bounded at 4,300 digits)
        elif isinstance(node, float):
            chars += len(repr(node))
        else:
            raise InvalidInput("invalid_extra", f"{what} at {_path(path)} is a {type(node).__name__}; "
                               "accepted: JSON values (dict, list, str, int, float, bool, None)")
        if chars > max_chars:
            raise InvalidInput("too_large", f"{what} of more than {max_chars} characters as JSON; at most "
                               f"{max_chars} are accepted ({_WHERE})")


def _path(path: tuple[Any, ...]) -> str:
    shown = "".join(f"[{p!r}]" for p in path[:8])
    return (shown + ("..." if len(path) > 8 else "")) or "the top"
