"""The storage layout (DESIGN.md, Storage layout) and the encoding of user names into it.

Every key darkroom writes is built here, and every key read from a message is
checked here: no user key, project or run name can escape its prefix.
"""

from __future__ import annotations

import hashlib
import re

from darkroom.pipeline.errors import InvalidInput, UnsafeKey

# A segment keeps these characters as they are; every other byte is %XX.
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
# Encoded segments longer than this are shortened with a hash: file systems
# allow 255 bytes a name, and S3 keys 1024 in all.
_MAX_SEGMENT = 160
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_KEY_CHARS = 256


def check_user_key(key: object) -> str:
    """Check a `run.log` key cheaply; return it.

    Raises
    ------
    InvalidInput: not a str, empty, too long, or with control characters.
        ``/``, spaces and ``..`` are legal: `segment` stores them safely.
    """
    if not isinstance(key, str):
        raise InvalidInput(
            "invalid_key", f"log keys must be str; got {type(key).__name__} {key!r}"
        )
    if not key:
        raise InvalidInput("invalid_key", "log keys must not be empty")
    if len(key) > MAX_KEY_CHARS:
        raise InvalidInput(
            "invalid_key", f"log key of {len(key)} characters; at most {MAX_KEY_CHARS} are accepted"
        )
    bad = _CONTROL.search(key)
    if bad:
        raise InvalidInput(
            "invalid_key",
            f"log key {key!r} has a control character ({bad.group()!r} at {bad.start()}); "
            "accepted: printable text (/, spaces and .. are fine)",
        )
    return key


def check_name(what: str, name: object) -> str:
    """Check a project or run name: letters, digits, ``_``, ``.``, ``-``; 1-128 chars."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            "invalid_name",
            f"{what} name {name!r} is not accepted; use 1-128 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'",
        )
    return name


def segment(text: str) -> str:
    """Encode any text into one path segment that cannot be ``.``, ``..`` or contain ``/``."""
    out = []
    for i, byte in enumerate(text.encode("utf-8")):
        char = chr(byte)
        if char in _PLAIN and not (char == "." and i == 0):
            out.append(char)
        else:
            out.append(f"%{byte:02X}")
    encoded = "".join(out)
    if len(encoded) > _MAX_SEGMENT:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        encoded = encoded[: _MAX_SEGMENT - 17] + "~" + digest
    return encoded


def check_storage_key(key: str) -> str:
    """Check a key relative to the storage root; raise UnsafeKey if it could escape it."""
    if (
        not isinstance(key, str)
        or not key
        or key.startswith("/")
        or "\\" in key
        or _CONTROL.search(key)
        or any(part in ("", ".", "..") for part in key.split("/"))
    ):
        raise UnsafeKey(f"storage key {key!r} is not a clean relative path")
    return key


def raw_key(sha256: str, ext: str) -> str:
    return f"raw/{_hex(sha256)}.{_ext(ext)}"


def media_key(kind: str, digest: str, ext: str) -> str:
    return f"media/{segment(kind)}/{_hex(digest)}.{_ext(ext)}"


# The end of a URI darkroom wrote for a payload or an artifact: its key under
# the layout, whatever root (folder, bucket, prefix) the URI names before it.
_LAYOUT_TAIL = re.compile(
    r"(?:^|/)((?:raw|media/(?!raw/)[A-Za-z0-9_.%~-]+)/[0-9a-f]{64}\.[a-z0-9]{1,10}(?:\.[a-z0-9]{1,10})?)$"
)


def key_in_uri(uri: object) -> str | None:
    """The storage key (``raw/...``, ``media/<kind>/...``) at the end of a payload or artifact URI, or None.

    Manifests keep the absolute URI an object was written at; a storage folder
    copied or moved elsewhere holds it at the same key (DESIGN.md, Storage layout).
    """
    if not isinstance(uri, str) or "://" not in uri:
        return None
    match = _LAYOUT_TAIL.search(uri.split("://", 1)[1])
    return match.group(1) if match else None


def run_prefix(project: str, run: str) -> str:
    return f"runs/{segment(project)}/{segment(run)}"


def run_json_key(project: str, run: str) -> str:
    return f"{run_prefix(project, run)}/run.json"


def summary_key(project: str, run: str) -> str:
    return f"{run_prefix(project, run)}/summary.json"


def summary_array_key(project: str, run: str, key: str) -> str:
    """Where a numpy array put in the run's summary is kept whole (sdk/_summary_array.py)."""
    return f"{run_prefix(project, run)}/summary/{segment(key)}.npy.json"


def history_prefix(project: str, run: str) -> str:
    return f"{run_prefix(project, run)}/history/"


def history_chunk_key(project: str, run: str, first_seq: int) -> str:
    return f"{history_prefix(project, run)}{first_seq:010d}.jsonl"


def manifests_prefix(project: str, run: str) -> str:
    return f"{run_prefix(project, run)}/manifests/"


def manifest_key(project: str, run: str, step: int, key: str, index: int, revision: int = 1) -> str:
    """Deterministic: the same item always lands on the same object (DESIGN.md, point 4)."""
    name = f"{index}.json" if revision == 1 else f"{index}.r{revision}.json"
    return f"{manifests_prefix(project, run)}{step}/{segment(key)}/{name}"


def index_prefix(project: str, run: str) -> str:
    """The run's compacted manifest index: ``journal/`` entries and ``segments/``."""
    return f"{run_prefix(project, run)}/index/"


def index_journal_key(project: str, run: str, name: str) -> str:
    return f"{index_prefix(project, run)}journal/{segment(name)}.idx"


def index_segment_key(project: str, run: str, level: int, name: str) -> str:
    return f"{index_prefix(project, run)}segments/{int(level)}-{segment(name)}.idx"


def batch_key(project: str, run: str, batch: str) -> str:
    """A reprocess batch's plan for one run (what `darkroom status` counts against)."""
    return f"{run_prefix(project, run)}/batches/{segment(batch)}.json"


def _hex(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise UnsafeKey(f"{value!r} is not a sha256 hex digest")
    return value


def _ext(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10})?", value):
        raise UnsafeKey(f"{value!r} is not a file extension")
    return value
