"""A run's compacted manifest index: read every manifest without listing them.

Each manifest still lives at its deterministic key (DESIGN.md, Storage layout);
the index is how a reader sees all of a run's manifests in a handful of reads.

- **Journal.** Whoever writes manifests (a worker after a request, the sender
  for an item it refused) also writes them as one new object under
  ``index/journal/``.  A manifest is therefore in the index the moment it is
  written, with no coordination between writers.
- **Segments.** A compaction folds the journal into one segment at level 0,
  and any ``FANOUT`` segments of a level into one of the level above (a
  log-structured merge), so a run of N manifests is read from
  O(FANOUT x log N) objects and each manifest is rewritten O(log N) times.
  Workers compact now and then (`append`'s ``compact_every``).

Compaction needs no lock.  A compactor deletes only objects it has read and
whose entries it has already written into a new segment, so two compactors
racing at worst leave duplicate entries, which every read merges away
(newest revision, then newest ``created_at``, wins).  A reader lists the
journal before the segments, and if an object it listed vanished while it
read, lists again and reads what is new: it never misses an entry that moved
from one to the other.

The format is lines of text, one entry a line: the fields a reader sorts and
counts by, tab-separated, then the manifest's compact JSON.  Listing and
status read the fields; the JSON is decoded only for the manifests a caller
asks for.  A mis-encoded line makes the run's index unreadable
(`IndexCorrupt`); `rebuild` makes it again from the manifests themselves.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import OrderedDict
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from darkroom.pipeline import manifest_listing, paths
from darkroom.pipeline.errors import DamagedObject, NotFound, StorageUnavailable
from darkroom.pipeline.manifest_listing import Ident
from darkroom.pipeline.storage import side_by_side

if TYPE_CHECKING:  # `import darkroom` loads this module and stays light (no pydantic)
    from darkroom.pipeline.manifest import Manifest
    from darkroom.pipeline.storage import Storage

log = logging.getLogger("darkroom.index")

INDEX_SCHEMA = "darkroom.index/1"
_HEADER = f"#{INDEX_SCHEMA}\n"
# Segments of one level merged into one of the next.
FANOUT = 8
# A reader lists again at most this many times while compactions move entries.
_READ_ATTEMPTS = 10



class IndexCorrupt(DamagedObject):
    """An index object that darkroom did not write (or that was damaged)."""


class Entry(NamedTuple):
    """One manifest in the index: the fields readers sort and count by, and the manifest.

    The manifest's JSON stays where it was read (``data[start:end]``) until
    a caller asks for it: listing and counting never copy or decode it.
    """

    ident: Ident
    revision: int
    status: str
    kind: str
    batch: str  # "" when not made by a reprocess batch
    created_at: str
    data: bytes
    start: int
    end: int

    @property
    def body(self) -> bytes:
        """The manifest's compact JSON."""
        return self.data[self.start:self.end] if self.start or self.end != len(self.data) else self.data

    def manifest(self) -> dict[str, Any]:
        return json.loads(self.body)

    def newer_than(self, other: "Entry") -> bool:
        return (self.revision, self.created_at) > (other.revision, other.created_at)


def entry(ident: Ident, revision: int, status: str, kind: str, batch: str, created_at: str, body: bytes) -> Entry:
    """An entry for a manifest read some other way (its JSON in `body`)."""
    return Entry(ident, revision, status, kind, batch, created_at, body, 0, len(body))


def encode(manifests: "Iterable[Manifest | dict[str, Any]]") -> bytes:
    """Index lines for `manifests` (objects or dicts in their JSON form)."""
    lines = [_HEADER]
    for m in manifests:
        data = m if isinstance(m, dict) else m.model_dump(mode="json", by_alias=True)
        lines.append(_line(data))
    return "".join(lines).encode()


def _line(m: dict[str, Any]) -> str:
    # json.dumps escapes tabs and newlines inside strings, so the body holds
    # neither; the fields before it are numbers, a path segment, and names
    # darkroom checks (kind, status, batch ids, timestamps).
    fields = (m["step"], paths.segment(m["key"]), m["index"], m.get("revision", 1), m["status"],
              m["kind"], m.get("batch") or "", m.get("created_at", ""))
    body = json.dumps(m, separators=(",", ":"), ensure_ascii=False)
    return "\t".join(str(f) for f in fields) + "\t" + body + "\n"


def parse(data: bytes, into: dict[Ident, Entry], where: str = "index object") -> None:
    """Merge the entries of one index object into `into`, keeping each item's newest.

    Raises
    ------
    IndexCorrupt: not an index object, or a line that does not parse.
    """
    header = _HEADER.encode()
    if not data.startswith(header):
        raise IndexCorrupt(where, f"does not start with {_HEADER.strip()!r}")
    find, make, get = data.find, tuple.__new__, into.get
    pos, end, number = len(header), len(data), 1
    while pos < end:
        number += 1
        newline = find(b"\n", pos)
        if newline < 0:
            newline = end
        if newline == pos:
            pos += 1
            continue
        # The fields end where the JSON starts: no field holds a tab followed by "{".
        body = find(b"\t{", pos, newline) + 1
        fields = data[pos:body - 1].decode("utf-8", errors="replace").split("\t") if body else []
        if len(fields) != 8:
            raise IndexCorrupt(where, "not an index entry", number)
        try:
            e = make(Entry, ((int(fields[0]), fields[1], int(fields[2])), int(fields[3]), fields[4], fields[5],
                             fields[6], fields[7], data, body, newline))
        except ValueError:
            raise IndexCorrupt(where, "not an index entry", number) from None
        old = get(e.ident)
        if old is None or (e.revision, e.created_at) > (old.revision, old.created_at):
            into[e.ident] = e
        pos = newline + 1


def _name() -> str:
    # Time first so that listings come out oldest first; the random part keeps
    # two writers in the same nanosecond apart.
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"


def journal_object(project: str, run: str, manifests: "list[Manifest | dict[str, Any]]") -> tuple[str, bytes]:
    """The key and body of a journal object for `manifests` (for writers that put it themselves)."""
    return paths.index_journal_key(project, run, _name()), encode(manifests)


def append(storage: "Storage", project: str, run: str, manifests: "list[Manifest]", compact_every: int = 0) -> None:
    """Add `manifests` to the run's index; compact it about once in `compact_every` calls.

    Compaction is best effort: its failure is logged, never raised, since the
    entries are safe in the journal either way.
    """
    if not manifests:
        return
    key, body = journal_object(project, run, manifests)
    storage.put(key, body, "text/plain")
    _remember(storage, key, body)
    if compact_every > 0 and random.random() < 1.0 / compact_every:
        try:
            compact(storage, project, run)
        except Exception as e:  # the journal write above already made the entries durable
            log.warning("compacting the index of %s/%s failed (will be retried): %s", project, run, e)


def read(storage: "Storage", project: str, run: str) -> dict[Ident, Entry] | None:
    """Every item's newest entry, or None when the run has no index (or it stayed busy).

    None tells the caller to list the manifests instead.
    """
    journal_prefix, segment_prefix = _prefixes(project, run)
    found: dict[Ident, Entry] = {}
    done: set[str] = set()
    for _ in range(_READ_ATTEMPTS):
        # The journal is listed first: an entry compacted away after this
        # listing is in a segment the second listing sees.  What was read in
        # an earlier round stays: merging is idempotent, and the newest wins.
        journal = _listed(storage, journal_prefix)
        segments = _listed(storage, segment_prefix)
        if not journal and not segments and not done:
            return None
        moved = False
        for key, data in _get_all(storage, [k for k in segments + journal if k not in done]):
            if data is None:
                moved = True  # a compaction took it: its entries are in a segment the next round lists
                continue
            parse(data, found, key)
            done.add(key)
        if not moved:
            return found
    log.warning("the index of %s/%s kept moving under %d reads; listing manifests instead",
                project, run, _READ_ATTEMPTS)
    return None


def compact(storage: "Storage", project: str, run: str, fanout: int = FANOUT) -> int:
    """Fold the journal into a level-0 segment, then merge full levels upward.

    Returns the number of index objects merged away.
    """
    journal_prefix, segment_prefix = _prefixes(project, run)
    merged = _merge(storage, project, run, sorted(storage.list(journal_prefix)), level=0)
    level = 0
    while True:
        by_level: dict[int, list[str]] = {}
        for key in storage.list(segment_prefix):
            by_level.setdefault(_level_of(key), []).append(key)
        if not by_level or level > max(by_level):
            return merged
        keys = sorted(by_level.get(level, []))
        if len(keys) >= fanout:
            merged += _merge(storage, project, run, keys, level + 1)
        level += 1


def rebuild(storage: "Storage", project: str, run: str) -> int:
    """Make the run's index again from its manifest objects; return the items indexed.

    For runs written before the index existed, or an index reported corrupt.
    """
    journal_prefix, segment_prefix = _prefixes(project, run)
    # Listed before the manifests: a journal object written after this listing
    # is kept, and one listed here names manifests the listing below finds
    # (writers put manifests before their journal object).
    old = sorted(storage.list(journal_prefix)) + sorted(storage.list(segment_prefix))
    manifests = [manifest_listing.load(storage, k) for k in manifest_listing.newest(storage, project, run).values()]
    # The new segment goes at the top level, so no merge rewrites it soon.
    storage.put(paths.index_segment_key(project, run, 9, _name()), encode(manifests), "text/plain")
    storage.delete_many(old)
    return len(manifests)


def _merge(storage: "Storage", project: str, run: str, keys: list[str], level: int) -> int:
    if not keys:
        return 0
    found: dict[Ident, Entry] = {}
    for key, data in _get_all(storage, keys):
        if data is None:
            return 0  # another compactor took these; its segment holds them
        parse(data, found, key)
    body = _HEADER.encode() + b"".join(_entry_line(e) for e in found.values())
    storage.put(paths.index_segment_key(project, run, level, _name()), body, "text/plain")
    # Only now, with every entry in the new segment, may what it merged go.
    storage.delete_many(keys)
    with _written_lock:
        for key in keys:
            _WRITTEN.pop((storage.url, key), None)
    return len(keys)


def _listed(storage: "Storage", prefix: str) -> list[str]:
    """The sorted keys under `prefix`, asking again on a server error.

    A reader has no queue to retry it, and S3 answers a listing with a 500
    now and then under load (InternalError: "retry"); so does moto's server
    while keys change under it.
    """
    for attempt in range(2):
        try:
            return sorted(storage.list(prefix))
        except StorageUnavailable:
            time.sleep(0.1 * 3**attempt)
    return sorted(storage.list(prefix))


# Journal objects this process wrote, by (storage, key): a worker's compaction
# folds mostly what the same process wrote, and needs no round trip for it.
# Journal objects never change once written, so a copy is never stale.
_WRITTEN: "OrderedDict[tuple[str, str], bytes]" = OrderedDict()
_WRITTEN_MAX = 256
_written_lock = threading.Lock()


def _remember(storage: "Storage", key: str, body: bytes) -> None:
    with _written_lock:
        _WRITTEN[(storage.url, key)] = body
        while len(_WRITTEN) > _WRITTEN_MAX:
            _WRITTEN.popitem(last=False)


def _get_all(storage: "Storage", keys: list[str]) -> Iterator[tuple[str, bytes | None]]:
    """(key, bytes, or None if it is gone) of each object, in order; fetched side by side,
    since each get is a round trip.  A journal object this process wrote is not fetched."""
    def get(key: str) -> bytes | None:
        with _written_lock:
            known = _WRITTEN.get((storage.url, key))
        if known is not None:
            return known
        try:
            return storage.get(key)
        except NotFound:
            return None

    yield from zip(keys, side_by_side(get, keys))


def _entry_line(e: Entry) -> bytes:
    step, seg, index = e.ident
    fields = f"{step}\t{seg}\t{index}\t{e.revision}\t{e.status}\t{e.kind}\t{e.batch}\t{e.created_at}\t"
    return fields.encode() + e.body + b"\n"


def _level_of(key: str) -> int:
    name = key.rsplit("/", 1)[-1]
    try:
        return int(name.split("-", 1)[0])
    except ValueError:
        return 0


def _prefixes(project: str, run: str) -> tuple[str, str]:
    base = paths.index_prefix(project, run)
    return base + "journal/", base + "segments/"
