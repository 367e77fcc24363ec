"""Storage in a local folder: the embedded default (``file://./darkroom-data``)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from darkroom.pipeline.errors import InvalidInput, NotFound, PermissionDenied, StorageError
from darkroom.pipeline.storage import ObjectInfo, Storage


class FileStorage(Storage):
    """Objects are files under a root folder; writes are atomic (temp file + rename)."""

    def __init__(self, url: str):
        path = Path(url[len("file://"):]).expanduser().resolve()
        super().__init__("file://" + str(path))
        self.root = path  # made on the first put: opening storage has no side effects

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
        except PermissionError as e:
            raise PermissionDenied(f"cannot write {path}: {e}") from e
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as e:
            raise StorageError(f"cannot write {key} in {self.url}: a folder and an object share a name ({e})") from e

    def _get(self, key: str, max_bytes: int | None) -> bytes:
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if max_bytes is not None and size > max_bytes:
                    raise InvalidInput(
                        "too_large",
                        f"{key} is {size} bytes; the bound is {max_bytes} (DARKROOM_MAX_PAYLOAD_BYTES)",
                    )
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no object {key} in {self.url}") from None
        except PermissionError as e:
            raise PermissionDenied(f"cannot read {path}: {e}") from e

    def _stream(self, key: str, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        path = self._path(key)
        try:
            f = open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no object {key} in {self.url}") from None
        except PermissionError as e:
            raise PermissionDenied(f"cannot read {path}: {e}") from e
        with f:
            f.seek(start)
            left = end - start
            while left > 0:
                chunk = f.read(min(chunk_size, left))
                if not chunk:  # the object is shorter than asked: replaced meanwhile
                    return
                left -= len(chunk)
                yield chunk

    def _size(self, key: str) -> int | None:
        try:
            stat = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return stat.st_size if not os.path.isdir(self._path(key)) else None

    def _list(self, prefix: str) -> Iterator[str]:
        # Walk only the deepest folder the prefix names, then filter by the rest.
        folder, _, _ = prefix.rpartition("/")
        base = self._path(folder) if folder else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            rel = os.path.relpath(dirpath, self.root)
            rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            for name in filenames:
                if name.startswith(".tmp-"):
                    continue
                key = rel + name
                if key.startswith(prefix):
                    yield key

    def _stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return None if os.path.isdir(path) else ObjectInfo(key, stat.st_size, stat.st_mtime)

    def _list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        for key in self._list(prefix):
            try:
                stat = self._path(key).stat()
            except FileNotFoundError:  # deleted since it was listed
                continue
            yield ObjectInfo(key, stat.st_size, stat.st_mtime)

    def _children(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix.rstrip("/"))
        if base.is_dir():
            for entry in os.scandir(base):
                if entry.is_dir() and not entry.name.startswith(".tmp-"):
                    yield entry.name

    def _delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` at `path` whole or not at all: a temporary file beside it, then a rename.

    The file gets the mode any new file gets (0666 less the umask), as
    `open()` gives: `tempfile.mkstemp` would make every stored object 0600,
    unreadable to the group a shared storage folder is meant for.
    """
    tmp = path.parent / f".tmp-{secrets.token_hex(12)}"
    # O_EXCL: 96 random bits never meet an existing name by chance, and never follow a planted link.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
