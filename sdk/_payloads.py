"""The payload builder: what the run hands over becomes spool records (bytes, sha256, a typed `ConvertRequest`).

Runs on the sender's spooling thread, never on the training thread, and never
touches the network: a media value's snapshot is serialised and hashed, and
its request is built and validated with the worker's own message model, so a
value the worker would refuse fails here, as its own failed manifest, instead
of vanishing on the queue.  One bad value costs only itself: a row keeps its
other keys, a list its other items.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from darkroom._guard import background_warn
from darkroom._histogram import resolve
from darkroom._media import EAGER_FILE_BYTES, ArraySnapshot, BytesSnapshot, FileSnapshot, Media
from darkroom._table import JsonSnapshot
from darkroom.pipeline import index as run_index
from darkroom.pipeline import paths
from darkroom.pipeline.errors import InvalidInput
from darkroom.pipeline.payload_types import NPY_MEDIA_TYPE, NPY_ZSTD_EXT, NPY_ZSTD_MEDIA_TYPE
from darkroom.pipeline.settings import Limits, Settings

if TYPE_CHECKING:  # pydantic loads with the first media value, not with `import darkroom`
    from darkroom.pipeline.messages import Source
    from darkroom.pipeline.storage import Storage


@dataclasses.dataclass(frozen=True)
class MediaWork:
    """Media logged under one key at one step (a list: several items)."""

    step: int
    key: str
    kind: str
    items: list[Media]
    indices: list[int] | None = None  # default: 0..n-1
    revision: int = 1  # > 1: the key was logged again in the same row, and the last value wins


@dataclasses.dataclass(frozen=True)
class RowWork:
    """A closed history row."""

    row: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class ObjectWork:
    """A small JSON object to put as it is (run.json, summary.json)."""

    key: str
    body: bytes


Work = MediaWork | RowWork | ObjectWork


@dataclasses.dataclass(frozen=True)
class Record:
    """One spool entry and the payload bytes it names."""

    entry: dict[str, Any]
    payloads: dict[str, bytes] = dataclasses.field(default_factory=dict)


class PayloadBuilder:
    """Turns handed-over work into spool records for one run."""

    def __init__(self, project: str, run: str, storage: "Storage", limits: Limits,
                 settings: "Settings | None" = None):
        self.project, self.run = project, run
        self.storage = storage  # only its URIs are used here: no request is made
        self.limits = limits
        # The run's defaults for what the caller left unset (an Image's file type),
        # filled here on the sender thread rather than in log().
        self.settings = settings if settings is not None else Settings()

    def build(self, batch: list[Work]) -> list[Record]:
        """Records for `batch`, in order; consecutive rows share one record."""
        records: list[Record] = []
        rows: list[dict[str, Any]] = []
        for work in batch:
            try:
                if isinstance(work, RowWork):
                    row = self.row(work.row)
                    if row is not None:
                        rows.append(row)
                    continue
                made = ([Record({"type": "object", "key": work.key, "body": work.body.decode()})]
                        if isinstance(work, ObjectWork) else self.media(work))
            except Exception as e:  # the guard: one value's bug costs only that value
                background_warn(f"darkroom: {_what(work)} not logged: {type(e).__name__}: {e}")
                continue
            if rows:
                records.append(Record({"type": "history", "rows": rows}))
                rows = []
            records.extend(made)
        if rows:
            records.append(Record({"type": "history", "rows": rows}))
        return records

    # -- rows ------------------------------------------------------------------
    def row(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The row as JSON data, histograms binned; a value that cannot be stored is dropped, and said."""
        out: dict[str, Any] = {}
        for key, value in row.items():
            try:
                value = resolve(value)
                json.dumps(value)
            except (TypeError, ValueError, OverflowError, RecursionError) as e:
                background_warn(f"darkroom: key {key!r} at step {row.get('_step')} not logged: "
                                f"{type(e).__name__}: {e}")
                continue
            out[key] = value
        return out if set(out) - {"_step", "_timestamp", "_runtime"} else None

    # -- media -----------------------------------------------------------------
    def media(self, work: MediaWork) -> list[Record]:
        """One convert record per options group of `work`, and a failed manifest for each item that
        cannot be sent (its file is gone, it is too large, the message model refuses it)."""
        from pydantic import ValidationError

        from darkroom.pipeline.messages import ConvertRequest, Item

        records: list[Record] = []
        groups: dict[str, list[tuple[Item, dict[str, tuple[bytes, str]]]]] = {}
        for position, media in enumerate(work.items):
            index = work.indices[position] if work.indices is not None else position
            media = media._with_settings(self.settings)
            found: dict[str, tuple[bytes, str]] = {}
            try:
                source = self._source(media._payload, found)
                related = {role: self._source(snap, found) for role, snap in media._related.items()}
                item = Item(index=index, caption=media.caption, source=source, related=related, extra=media._extra)
                options = json.dumps(media._options, sort_keys=True)
            except InvalidInput as e:
                records.extend(self.failed(work, index, media.caption, e))
                continue
            except (ValidationError, TypeError, ValueError, RecursionError) as e:
                records.extend(self.failed(work, index, media.caption, InvalidInput("invalid_item", _said(e))))
                continue
            groups.setdefault(options, []).append((item, found))
        # Items with the same options share a request; a list mixing options
        # (a PNG and a JPEG under one key) becomes one request per options.
        for options, members in groups.items():
            try:
                request = ConvertRequest(
                    project=self.project, run=self.run, step=work.step, key=work.key, kind=work.kind,
                    options=json.loads(options), items=[item for item, _ in members], revision=work.revision)
            except (ValidationError, ValueError) as e:
                error = InvalidInput("invalid_item", _said(e))
                for item, _ in members:
                    records.extend(self.failed(work, item.index, item.caption, error))
                continue
            files = {name: value for _, found in members for name, value in found.items()}
            names = [{"name": name, "media_type": media_type} for name, (_, media_type) in files.items()]
            records.append(Record({"type": "convert", "request": request.to_json(), "payloads": names},
                                  {name: data for name, (data, _) in files.items()}))
        return records

    def failed(self, work: MediaWork, index: int, caption: Any, error: InvalidInput) -> list[Record]:
        return failed_records(self.project, self.run, work.kind, work.step, work.key, index, work.revision,
                              caption, error)

    def _source(self, snap: Any, found: dict[str, tuple[bytes, str]]) -> "Source":
        """Serialise and hash one snapshot; add its bytes to `found`; return its source."""
        from darkroom.pipeline.messages import Source

        limit = self.limits.max_payload_bytes
        if isinstance(snap, ArraySnapshot):
            if snap.array.nbytes > limit:  # refused before serialising: .npy adds only a header
                raise InvalidInput("too_large", f"array of {snap.array.nbytes} bytes exceeds the bound of {limit} "
                                   "(DARKROOM_MAX_PAYLOAD_BYTES)")
            buf = io.BytesIO()
            np.save(buf, snap.array, allow_pickle=False)
            data, ext, media_type = compressed(buf.getvalue())
        elif isinstance(snap, FileSnapshot):
            data, ext, media_type = read_file(snap, limit), snap.ext, "application/octet-stream"
        elif isinstance(snap, BytesSnapshot):
            data, ext, media_type = snap.data, snap.ext, snap.media_type
        elif isinstance(snap, JsonSnapshot):
            data, ext, media_type = json.dumps(snap.value).encode(), "json", "application/json"
        else:
            raise InvalidInput("invalid_payload", f"nothing to send for {snap!r}")
        if len(data) > limit:
            raise InvalidInput("too_large", f"payload of {len(data)} bytes exceeds the bound of {limit} "
                               "(DARKROOM_MAX_PAYLOAD_BYTES)")
        sha = hashlib.sha256(data).hexdigest()
        found[f"{sha}.{ext}"] = (data, media_type)
        return Source(uri=self.storage.uri(paths.raw_key(sha, ext)), sha256=sha, bytes=len(data),
                      media_type=media_type, ext=ext)


# Raw payload compression, decided by measurement (bench/raw_compression.py, CPU time of
# one process on this 2-core machine; ".npy + sha256" is what this thread did per payload before):
#
#   input (.npy size)            npy + sha256   zstd-1: bytes left, time   lz4        zlib-1
#   photo uint8 512x600 (900 K)      0.7 ms     81%, 2.0 ms                87%, 1.4   70%, 15.2 ms
#   photo float32 (3.5 M)            3.2 ms     36%, 9.6 ms                48%, 7.0   31%, 28.8 ms
#   mask uint8 (136 K)               0.1 ms     12%, 0.3 ms                28%, 0.1   15%,  0.7 ms
#   noise uint8 (768 K)              0.5 ms    100%, 0.1 ms               100%, 0.2  100%, 12.5 ms
#   video 32x128x128x3 (1.5 M)       1.1 ms      8%, 0.6 ms                43%, 0.7   91%, 29.3 ms
#
# Decision: compress payloads of 64 KiB or more with zstd level 1, and keep the result
# only when it saves at least a tenth (below 64 KiB a payload costs its round trips, not
# its bytes).  Every byte saved is saved three times over (the upload, S3, the worker's
# download: the fleet's first bottleneck, docs/scaling.md), and zstd-1 costs this
# thread about 2-3 ms per MB (it gives up on noise at once), off the training thread,
# while 1 Gbit/s moves a MB in 8 ms.  zlib is 5-10x slower for less; lz4 is a little
# faster and saves far less on photos and clips.  Decompressing costs a worker 0.1-3 ms.
_ZSTD_LEVEL = 1
_KEEP_BELOW = 0.9
_MIN_BYTES = 64 * 1024


def compressed(npy: bytes) -> tuple[bytes, str, str]:
    """(bytes, ext, media type) of an .npy payload: zstd-compressed when that saves a tenth, else as it is."""
    if len(npy) < _MIN_BYTES:
        return npy, "npy", NPY_MEDIA_TYPE
    try:
        import zstandard
    except ImportError:  # an install without it sends .npy, which every worker reads
        return npy, "npy", NPY_MEDIA_TYPE
    packed = zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_content_size=True).compress(npy)
    if len(packed) < _KEEP_BELOW * len(npy):
        return packed, NPY_ZSTD_EXT, NPY_ZSTD_MEDIA_TYPE
    return npy, "npy", NPY_MEDIA_TYPE


def failed_records(project: str, run: str, kind: str, step: int, key: str, index: int, revision: int,
                   caption: Any, error: InvalidInput) -> list[Record]:
    """The records of an item failed before any worker saw it: its manifest, then the index entry
    that names it (sent in that order, as a worker writes them)."""
    from darkroom.pipeline.manifest import failed_manifest

    # A caption the message model refused must not make the manifest unwritable too.
    caption = caption if isinstance(caption, str) and len(caption) <= 10_000 and _encodable(caption) else None
    manifest = failed_manifest(project, run, step, key, index, kind, error, caption=caption, revision=revision)
    manifest_key = paths.manifest_key(project, run, step, key, index, revision)
    journal_key, body = run_index.journal_object(project, run, [manifest])
    return [Record({"type": "object", "key": manifest_key, "body": manifest.to_json_bytes().decode()}),
            Record({"type": "object", "key": journal_key, "body": body.decode()})]


def given_up_records(project: str, run: str, entry: dict[str, Any], error: Exception) -> tuple[list[Record], str]:
    """The failed manifests of a spool entry that cannot be sent (a payload gone, a crafted or
    poisoned entry), and what to say of it; no records when the entry names no items of this run."""
    from darkroom.pipeline.errors import MessageDecodeError
    from darkroom.pipeline.messages import decode_request

    said = error.message if isinstance(error, InvalidInput) else f"{type(error).__name__}: {error}"
    code = error.code if isinstance(error, InvalidInput) and not isinstance(error, MessageDecodeError) \
        else "internal_error"
    try:
        parsed = decode_request(entry["request"]) if entry.get("type") == "convert" else None
    except (MessageDecodeError, KeyError):
        parsed = None
    if parsed is None or (parsed.project, parsed.run) != (project, run):
        return [], f"spool entry {entry.get('seq')} of run {project}/{run} was dropped: {said}"
    records = [record for item in parsed.items
               for record in failed_records(project, run, parsed.kind, parsed.step, parsed.key, item.index,
                                            parsed.revision, item.caption, InvalidInput(code, said))]
    return records, f"{len(parsed.items)} item(s) of {parsed.key!r} at step {parsed.step} failed: {said}"


def read_file(snap: FileSnapshot, limit: int) -> bytes:
    """The bytes of a logged file: taken when it was logged, or read now if it has not changed since.

    Raises
    ------
    InvalidInput: ``file_changed``, ``too_large``, ``missing_file`` or ``unreadable_file``.
    """
    if snap.data is not None:
        return snap.data
    path = snap.path
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if snap.stamp is not None and snap.stamp != (st.st_size, st.st_mtime_ns, st.st_ino):
                raise InvalidInput(
                    "file_changed",
                    f"file {path} changed after its media object was made ({snap.stamp[0]} bytes then, {st.st_size} now); "
                    f"a file over {EAGER_FILE_BYTES} bytes is read on darkroom's sender thread, after log() "
                    "returns: write each step's file under a new name, or log its bytes (io.BytesIO)")
            if st.st_size > limit:
                raise InvalidInput("too_large", f"file {path} is {st.st_size} bytes; the bound is {limit} "
                                   "(DARKROOM_MAX_PAYLOAD_BYTES)")
            return f.read(limit + 1)
    except FileNotFoundError:
        raise InvalidInput("missing_file", f"file {path} was removed before it could be sent") from None
    except OSError as e:
        raise InvalidInput("unreadable_file", f"file {path} could not be read: {e}") from None


def _what(work: Work) -> str:
    if isinstance(work, MediaWork):
        return f"key {work.key!r} at step {work.step}"
    if isinstance(work, RowWork):
        return f"the row of step {work.row.get('_step')}"
    return f"object {work.key}"


def _said(error: Exception) -> str:
    """What a refused item was told: the message model's own words, one line per problem."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'item'}: {err['msg']}"
                             for err in error.errors())
        return f"the item cannot be sent to a worker: {problems}"
    return f"the item cannot be sent to a worker: {type(error).__name__}: {error}"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
