"""Media values and their snapshots: what the training thread keeps of a logged object.

A media object copies what the caller could mutate and checks what is cheap
(types, shape rank, that a path exists) at construction; decoding, encoding
and hashing happen elsewhere (MEDIA_TYPES.md, general rules).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np



@dataclasses.dataclass(frozen=True)
class ArraySnapshot:
    """A private copy of an array, serialised to .npy on the sender thread."""

    array: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


# A file up to this size is read when it is logged (a page-cache read: ~1 ms for
# 4 MiB), so a loop that rewrites one file each step logs each version.
# A larger one is read on the sender thread, and fails as `file_changed` if it
# changed in between.
EAGER_FILE_BYTES = 4 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class FileSnapshot:
    """A file named by the caller: its bytes when small, else its size and time, to read on the sender thread.

    Never read on a worker.  Compared by path and format only.
    """

    path: str
    ext: str
    data: bytes | None = dataclasses.field(default=None, compare=False, repr=False)
    # (size, st_mtime_ns, st_ino) when logged; None: not known (the file is not checked).
    stamp: tuple[int, int, int] | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def of(cls, path: Path, ext: str) -> "FileSnapshot":
        """Snapshot the file at `path` now (it exists: the caller checked)."""
        resolved = str(path.resolve())
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size <= EAGER_FILE_BYTES:
                data = f.read(EAGER_FILE_BYTES + 1)
                if len(data) <= EAGER_FILE_BYTES:
                    return cls(resolved, ext, data=data)
                st = os.fstat(f.fileno())  # it grew while read: a large file after all
        return cls(resolved, ext, stamp=(st.st_size, st.st_mtime_ns, st.st_ino))

    @property
    def nbytes(self) -> int:
        return len(self.data) if self.data is not None else 4096


@dataclasses.dataclass(frozen=True)
class BytesSnapshot:
    data: bytes
    ext: str
    media_type: str = "application/octet-stream"

    @property
    def nbytes(self) -> int:
        return len(self.data)


Snapshot = ArraySnapshot | FileSnapshot | BytesSnapshot


class Media:
    """Base class of every loggable media type."""

    kind: ClassVar[str]

    def __init__(self, caption: str | None = None):
        if caption is not None and not isinstance(caption, str):
            raise TypeError(f"caption must be a str; got {type(caption).__name__} {caption!r}")
        self.caption = caption
        self._payload: Snapshot | None = None
        self._related: dict[str, Snapshot] = {}
        self._extra: dict[str, Any] = {}
        self._options: dict[str, Any] = {}

    @property
    def nbytes(self) -> int:
        """Memory this object's snapshot holds (for the sender's bound)."""
        total = self._payload.nbytes if self._payload else 0
        return total + sum(s.nbytes for s in self._related.values())

    def _children(self, key: str, step: int) -> list[tuple[str, list["Media"], list[int]]]:
        """Media this one contains (a table's image cells), to send before it:
        (their key, the media, their indices).  Called when it is logged."""
        return []

    def _as_logged(self, key: str, step: int) -> "Media":
        """What a log of this object sends.  Its snapshot was taken when it was made; a Table,
        which the caller keeps changing and may log again, takes one at each log."""
        return self

    def _with_settings(self, settings: Any) -> "Media":
        """This object with the run's defaults for what the caller left unset (Image: the file type)."""
        return self

    def __eq__(self, other: object) -> bool:
        """Two media made from the same input (same content, caption, options), as W&B's compare."""
        from darkroom._media_attrs import same_snapshot

        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Media)
        return (self.caption == other.caption and self._options == other._options and self._extra == other._extra
                and same_snapshot(self._payload, other._payload) and self._related.keys() == other._related.keys()
                and all(same_snapshot(v, other._related[k]) for k, v in self._related.items()))

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.caption))

    def __repr__(self) -> str:
        return f"<darkroom.{type(self).__name__} caption={self.caption!r}>"


# -- snapshot helpers used by the media types ---------------------------------


def array_from(data: Any, what: str) -> np.ndarray | None:
    """A private numeric copy of array-like `data`, or None if it is not array-like.

    torch tensors are read through ``.detach().cpu().numpy()`` without importing
    torch; anything else with ``__array__`` or a nested list goes through numpy.
    A tensor on a GPU (any device but "cpu") is copied once, by ``.cpu()``,
    whose result nobody else holds; a CPU tensor shares memory with the
    caller's and is copied here.
    """
    if isinstance(data, np.ndarray):
        array = np.array(data, copy=True)
    elif all(hasattr(data, name) for name in ("detach", "cpu", "numpy")):
        host = data.detach().cpu().numpy()
        on_device = getattr(getattr(data, "device", None), "type", "cpu") != "cpu"
        array = host if on_device and isinstance(host, np.ndarray) else np.array(host, copy=True)
    elif hasattr(data, "__array__") or isinstance(data, (list, tuple)):
        try:
            array = np.array(data)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{what}: could not read {type(data).__name__} as an array ({e})") from None
    else:
        return None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{what}: array dtype {array.dtype} is not accepted; accepted: bool, integer or float"
        )
    return array


def file_from(data: Any, what: str, accepted: str) -> FileSnapshot | None:
    """A snapshot of a path argument (checked to exist), or None if `data` is not a path."""
    if not isinstance(data, (str, os.PathLike)):
        return None
    path = Path(data)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: no file at {str(path)!r}; accepted: {accepted}")
    ext = path.suffix.lower().lstrip(".")
    return FileSnapshot.of(path, ext if ext.isalnum() and len(ext) <= 10 else "bin")


def format_file_snapshot(data: Any, file_type: Any, accepted: tuple[str, ...], where: str,
                         media_types: dict[str, str] | None = None,
                         by_name_only: bool = False) -> tuple[FileSnapshot | BytesSnapshot, str]:
    """A snapshot of a path or an open file in one of the `accepted` formats, and its format.

    The format is `file_type` (any case) or its file name's ending
    ("scene.pts.json" is pts.json): a path's, or an open file's ``.name``, as W&B reads it.  The snapshot's extension is the
    format's last word (a raw payload's extension is one word).

    Parameters
    ----------
    media_types: the media type an open file's bytes are stored with, by format.
    by_name_only: the caller takes no `file_type` (Molecule.from_rdkit), so no error suggests one.

    Raises
    ------
    ValueError: a `file_type` not accepted, an open file without one, a name that does not tell.
    TypeError: `data` is neither a path nor an open file.
    FileNotFoundError: no file at the path.
    """
    listed = ", ".join(accepted)
    if file_type is not None and (not isinstance(file_type, str) or file_type.lower() not in accepted):
        raise ValueError(f"{where} file_type={file_type!r}; accepted: {listed}")
    fmt = file_type.lower() if file_type else None
    if hasattr(data, "read"):
        name = getattr(data, "name", None)
        fmt = fmt or (_format_of(Path(name).name.lower(), accepted) if isinstance(name, (str, os.PathLike)) else None)
        if fmt is None:
            told = f" (its name {str(name)!r} does not tell)" if isinstance(name, (str, os.PathLike)) else ""
            raise ValueError(f"{where}: an open file needs file_type={told}; accepted: {listed}")
        ext = fmt.rsplit(".", 1)[-1]
        media_type = (media_types or {}).get(fmt, "application/octet-stream")
        return BytesSnapshot(read_open_file(data, where), ext, media_type), fmt
    if not isinstance(data, (str, os.PathLike)):
        raise TypeError(f"{where} got {type(data).__name__}; accepted: a path to a {listed} file, "
                        "or an open file with file_type=")
    path = Path(data)
    if fmt is None:
        fmt = _format_of(path.name.lower(), accepted) or path.suffix.lower().lstrip(".")
        if fmt not in accepted:
            raise ValueError(f"{where}: cannot tell the format of {str(path)!r} from its extension "
                             f"{path.suffix!r}; accepted: {listed}" + ("" if by_name_only else " (or pass file_type=)"))
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no file at {str(path)!r}; accepted: a path to a {listed} file")
    return FileSnapshot.of(path, fmt.rsplit(".", 1)[-1]), fmt


def _format_of(name: str, accepted: tuple[str, ...]) -> str | None:
    """The accepted format a file name ends in ("scene.pts.json": pts.json), or None."""
    dotted = next((f for f in accepted if "." in f and name.endswith("." + f)), None)
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return dotted or (suffix if suffix in accepted else None)


def read_open_file(data: Any, what: str) -> bytes:
    """The whole content of an open file object, as bytes (text is UTF-8 encoded).

    Read now: the caller may close the file after the call returns.

    Raises
    ------
    TypeError: `read()` gave something other than str or bytes.
    """
    content = data.read()
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not isinstance(content, bytes):
        raise TypeError(f"{what}: the open file gave {type(content).__name__}; accepted: text or bytes")
    return content


def binary_file_object(data: Any, fmt: str | None, media_types: dict[str, str], what: str) -> BytesSnapshot:
    """A snapshot of a binary file object's whole content (all of a BytesIO), stored as format `fmt`.

    The bytes are copied now (the caller may reuse the buffer) and parsed only by the worker.

    Raises
    ------
    TypeError: the object gave text (opened without 'b').
    """
    raw = data.getvalue() if isinstance(data, io.BytesIO) else data.read()
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} file object returned {type(raw).__name__} from read(); "
                        "accepted: a binary file object (opened with 'rb', or io.BytesIO)")
    ext = fmt or "bin"
    return BytesSnapshot(bytes(raw), ext, media_types.get(ext, "application/octet-stream"))


def json_copy(value: Any, what: str) -> Any:
    """A JSON-safe deep copy (numpy numbers become Python numbers).

    Raises
    ------
    TypeError: a value JSON cannot hold, naming it.
    """

    def default(obj: Any) -> Any:
        if all(hasattr(obj, n) for n in ("detach", "cpu", "numpy")):  # a tensor (torch), not imported here
            obj = obj.detach().cpu().numpy()
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(f"{what}: {type(obj).__name__} {obj!r} is not JSON data")

    return json.loads(json.dumps(value, default=default))
