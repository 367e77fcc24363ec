"""Storage behind one small interface, chosen by URL scheme.

`open_storage("file:///data")` or `open_storage("s3://bucket/prefix", settings)`.
Backends implement a handful of primitives on keys relative to their root;
checking keys and mapping URIs back to keys is done here, once, above them.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from darkroom.pipeline.errors import ConfigError, NotFound, UnsafeKey
from darkroom.pipeline.paths import check_storage_key, key_in_uri

if TYPE_CHECKING:
    from darkroom.pipeline.settings import Settings


class Storage(abc.ABC):
    """A flat key space of immutable-ish objects under one root URL.

    Keys are relative (``raw/ab12....npy``) and checked by `check_storage_key`
    before any backend sees them.  Errors are darkroom's: `NotFound`,
    `PermissionDenied`, `StorageUnavailable`.
    """

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    # -- primitives each backend implements --------------------------------
    @abc.abstractmethod
    def _put(self, key: str, data: bytes, content_type: str) -> None: ...

    @abc.abstractmethod
    def _get(self, key: str, max_bytes: int | None) -> bytes: ...

    @abc.abstractmethod
    def _size(self, key: str) -> int | None:
        """The object's size in bytes, or None if it does not exist."""

    @abc.abstractmethod
    def _list(self, prefix: str) -> Iterator[str]: ...

    @abc.abstractmethod
    def _delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def _children(self, prefix: str) -> Iterator[str]:
        """Names of the folders right under `prefix` (which ends in ``/``)."""

    def _stat(self, key: str) -> "ObjectInfo | None":
        # Backends that know an object's time override this; the fallback knows its size only.
        size = self._size(key)
        return None if size is None else ObjectInfo(key, size, None)

    def _list_info(self, prefix: str) -> Iterator["ObjectInfo"]:
        # Backends that list sizes and times in one pass override this; the fallback asks each key.
        for key in self._list(prefix):
            yield ObjectInfo(key, self._size(key) or 0, None)

    def _stream(self, key: str, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        # Backends that can read part of an object override this; the fallback reads it whole.
        data = self._get(key, None)[start:end]
        for i in range(0, len(data), chunk_size):
            yield data[i:i + chunk_size]

    # -- the interface the rest of darkroom uses ------------------------------
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Write `data` at `key` (replacing it); return the object's URI."""
        self._put(check_storage_key(key), data, content_type)
        return self.uri(key)

    def get(self, key: str, max_bytes: int | None = None) -> bytes:
        """Read the object at `key`.

        Raises
        ------
        NotFound: no object there.
        InvalidInput (code ``too_large``): it is bigger than `max_bytes`; nothing was read.
        """
        return self._get(check_storage_key(key), max_bytes)

    def size(self, key: str) -> int | None:
        return self._size(check_storage_key(key))

    def stream(self, key: str, start: int = 0, end: int | None = None,
               chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        """The bytes ``[start, end)`` of the object at `key`, in chunks of at most `chunk_size`.

        For serving media with HTTP ranges (a viewer seeking in a video) without
        holding the object in memory.  The key is checked now; the object is
        read as the chunks are taken.

        Raises
        ------
        NotFound: no object there (`end` not given), or, while iterating, it went away.
        ValueError: `start` and `end` are not a range of bytes.
        """
        if end is None:
            end = self.size(key)
            if end is None:
                raise NotFound(f"no object {key} in {self.url}")
        if start < 0 or end < start:
            raise ValueError(f"range [{start}, {end}) of {key} is not a range of bytes")
        return self._stream(check_storage_key(key), start, end, chunk_size)

    def stat(self, key: str) -> "ObjectInfo | None":
        """The object's size and last modification (one HEAD on S3), or None if it does not exist."""
        return self._stat(check_storage_key(key))

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under `prefix` (a folder ending in ``/`` or a key start), in no set order."""
        if prefix:
            check_storage_key(prefix.rstrip("/") or "x")
        return self._list(prefix)

    def list_info(self, prefix: str = "") -> Iterator["ObjectInfo"]:
        """`ObjectInfo` (key, size, last modified) of each object under `prefix`, in no set order.

        One listing on S3 and a stat per file in a folder (`darkroom gc` reads the ages of ``raw/``).
        """
        if prefix:
            check_storage_key(prefix.rstrip("/") or "x")
        return self._list_info(prefix)

    def children(self, prefix: str) -> list[str]:
        """The folder names one level under `prefix` (``"runs/"`` -> projects), sorted.

        One listing of that level, not of everything beneath it.
        """
        if not prefix.endswith("/"):
            prefix += "/"
        check_storage_key(prefix.rstrip("/") or "x")
        return sorted(set(self._children(prefix)))

    def delete(self, key: str) -> None:
        self._delete(check_storage_key(key))

    def delete_many(self, keys: list[str]) -> None:
        """Delete every key (missing ones are fine); a backend may do it in one request."""
        self._delete_many([check_storage_key(k) for k in keys])

    def _delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self._delete(key)

    def uri(self, key: str) -> str:
        return f"{self.url}/{key}"

    def key_of(self, uri: str) -> str:
        """The key of a URI inside this storage.

        Raises
        ------
        UnsafeKey: the URI names another bucket, another root, or escapes this one.
        """
        root = self.url + "/"
        if not isinstance(uri, str) or not uri.startswith(root):
            raise UnsafeKey(f"URI {uri!r} is outside this storage ({self.url})")
        return check_storage_key(uri[len(root):])

    def stored_key(self, uri: str) -> str:
        """The key in this storage of the object a manifest's URI names, wherever the manifest was written.

        A manifest keeps the absolute URI its payload and artifact were
        written at.  A storage folder copied or moved (another path, bucket
        or prefix) holds them at the same keys, so a URI of another root is
        read by the key at its end under darkroom's layout (``raw/...``,
        ``media/<kind>/...``; `paths.key_in_uri`).  Only readers of what
        this storage holds use this; a worker, which must not trust a
        message, uses `key_of`.

        Raises
        ------
        UnsafeKey: the URI is of another root and does not end in a layout key.
        """
        if isinstance(uri, str) and uri.startswith(self.url + "/"):
            return self.key_of(uri)
        key = key_in_uri(uri)
        if key is None:
            raise UnsafeKey(f"URI {uri!r} is outside this storage ({self.url})")
        return check_storage_key(key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """An object as a listing shows it: its key, size in bytes and last modification (Unix time; None: unknown)."""

    key: str
    size: int
    modified: float | None


T = TypeVar("T")
R = TypeVar("R")


def side_by_side(call: Callable[[T], R], items: Iterable[T], threads: int = 8) -> list[R]:
    """`[call(x) for x in items]`, with up to `threads` of the calls (storage round trips) in flight.

    At interpreter exit (a run finished by its atexit hook) no thread can
    start any more, and the calls run one after another instead.
    """
    items = list(items)
    if len(items) <= 2 or threads <= 1:
        return [call(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        try:
            futures = [pool.submit(call, x) for x in items]
        except RuntimeError:  # "cannot schedule new futures after interpreter shutdown"
            pool.shutdown(cancel_futures=True)
            return [call(x) for x in items]
        return [f.result() for f in futures]


def _open_file(url: str, settings: "Settings | None") -> Storage:
    from darkroom.pipeline.storage.file import FileStorage

    return FileStorage(url)


def _open_s3(url: str, settings: "Settings | None") -> Storage:
    from darkroom.pipeline.storage.s3 import S3Storage

    return S3Storage(url, settings)


# Every built-in backend, in one block (STYLE.md, rule 6).
_BACKENDS: dict[str, Callable[[str, "Settings | None"], Storage]] = {
    "file": _open_file,
    "s3": _open_s3,
}


def open_storage(url: str, settings: "Settings | None" = None) -> Storage:
    """Open the storage at `url`.

    Raises
    ------
    ConfigError: the scheme is not one of the registered ones (the message lists them).
    """
    scheme = url.split("://", 1)[0] if "://" in url else ""
    opener = _BACKENDS.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}://" for s in _BACKENDS)
        raise ConfigError(f"no storage backend for {url!r}; registered schemes: {known}")
    return opener(url, settings)


__all__ = ["Storage", "ObjectInfo", "open_storage", "NotFound", "UnsafeKey"]
