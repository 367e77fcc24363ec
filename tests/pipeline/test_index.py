"""Tests of darkroom.pipeline.index: the journal, compaction and reads, on file and S3."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from darkroom.pipeline import index, paths
from darkroom.pipeline.manifest import Manifest
from darkroom.pipeline.reader import RunReader
from darkroom.pipeline.storage import Storage, open_storage

PROJECT, RUN = "demo", "3k2j9x"


@pytest.fixture(params=["file", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "s3":
        return request.getfixturevalue("s3_storage")
    return open_storage(f"file://{tmp_path}")


def manifest(step: int, index_: int = 0, key: str = "val/examples", revision: int = 1,
             status: str = "ok", batch: str | None = None, created_at: str = "2026-11-23T00:00:00.000000Z",
             ) -> Manifest:
    return Manifest.model_validate(dict(
        project=PROJECT, run=RUN, step=step, key=key, index=index_, kind="image", revision=revision,
        status=status, error=None if status == "ok" else {"code": "invalid_shape", "message": "bad\tshape\nhere"},
        artifact={"uri": "file:///x/media/image/a.png", "sha256": "a" * 64, "bytes": 1, "format": "png",
                  "media_type": "image/png"} if status == "ok" else None,
        converter={"name": "image", "version": "1"}, batch=batch, created_at=created_at,
    ))


def write(storage: Storage, *manifests: Manifest, compact_every: int = 0) -> None:
    """As a worker does: each manifest at its key, then one journal object."""
    for m in manifests:
        storage.put(paths.manifest_key(PROJECT, RUN, m.step, m.key, m.index, m.revision), m.to_json_bytes())
    index.append(storage, PROJECT, RUN, list(manifests), compact_every)


def contents(found: dict[Any, index.Entry]) -> dict[Any, tuple[Any, ...]]:
    """What an index read says, apart from where each manifest's bytes happen to sit."""
    return {ident: (*e[:6], e.body) for ident, e in found.items()}


def objects(storage: Storage, part: str) -> list[str]:
    return sorted(storage.list(paths.index_prefix(PROJECT, RUN) + part + "/"))


def test_a_run_without_an_index_reads_none_and_the_reader_lists_its_manifests(storage: Storage) -> None:
    assert index.read(storage, PROJECT, RUN) is None
    m = manifest(1)
    storage.put(paths.manifest_key(PROJECT, RUN, 1, m.key, 0), m.to_json_bytes())
    assert [e["step"] for e in RunReader(storage, PROJECT, RUN).manifests()] == [1]


def test_entries_carry_the_fields_readers_count_by_and_the_whole_manifest(storage: Storage) -> None:
    write(storage, manifest(3, 0), manifest(3, 1, status="failed", batch="rp-1"))
    found = index.read(storage, PROJECT, RUN)
    assert found is not None and set(found) == {(3, "val%2Fexamples", 0), (3, "val%2Fexamples", 1)}
    failed = found[(3, "val%2Fexamples", 1)]
    assert (failed.status, failed.kind, failed.batch, failed.revision) == ("failed", "image", "rp-1", 1)
    # Tabs and newlines inside the manifest's strings survive the line format.
    assert failed.manifest()["error"]["message"] == "bad\tshape\nhere"
    assert found[(3, "val%2Fexamples", 0)].batch == ""


def test_the_newest_revision_wins_and_then_the_newest_write(storage: Storage) -> None:
    write(storage, manifest(1, revision=2, created_at="2026-01-01T00:00:00.000000Z"))
    write(storage, manifest(1, revision=1, created_at="2026-12-01T00:00:00.000000Z"))
    write(storage, manifest(2, status="failed", created_at="2026-01-01T00:00:00.000000Z"))
    write(storage, manifest(2, status="ok", created_at="2026-01-02T00:00:00.000000Z"))
    found = index.read(storage, PROJECT, RUN)
    assert found[(1, "val%2Fexamples", 0)].revision == 2
    assert found[(2, "val%2Fexamples", 0)].status == "ok"


def test_compaction_folds_the_journal_and_reads_the_same(storage: Storage) -> None:
    for step in range(10):
        write(storage, manifest(step, 0), manifest(step, 1))
    before = contents(index.read(storage, PROJECT, RUN))
    assert len(objects(storage, "journal")) == 10
    assert index.compact(storage, PROJECT, RUN) == 10
    assert objects(storage, "journal") == [] and len(objects(storage, "segments")) == 1
    assert contents(index.read(storage, PROJECT, RUN)) == before
    # Written after the compaction: seen at once, from the journal.
    write(storage, manifest(99))
    assert (99, "val%2Fexamples", 0) in index.read(storage, PROJECT, RUN)


def test_full_levels_merge_upward_so_objects_stay_few(tmp_path: Path) -> None:
    storage = open_storage(f"file://{tmp_path}")
    for step in range(200):
        write(storage, manifest(step))
        index.compact(storage, PROJECT, RUN, fanout=4)
    segments = objects(storage, "segments")
    levels = sorted(int(k.rsplit("/", 1)[1].split("-")[0]) for k in segments)
    # 200 level-0 segments in base 4: no level may hold 4 or more.
    assert all(levels.count(level) < 4 for level in set(levels)), levels
    assert len(segments) <= 3 * 4
    found = index.read(storage, PROJECT, RUN)
    assert sorted(step for step, _, _ in found) == list(range(200))


def test_racing_writers_and_compactors_lose_nothing_a_reader_saw_or_was_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As if every writer were its own process: nothing comes from this process's copies.
    monkeypatch.setattr(index, "_WRITTEN_MAX", 0)
    storage = open_storage(f"file://{tmp_path}")
    written: list[set[tuple[int, str, int]]] = [set() for _ in range(4)]
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(w: int) -> None:
        try:
            for i in range(60):
                m = manifest(w * 1000 + i)
                # Compacting on every write makes compactions overlap all the time.
                write(storage, m, compact_every=1)
                written[w].add((m.step, "val%2Fexamples", 0))
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    def reader() -> None:
        try:
            while not done.is_set():
                before = set().union(*written)
                found = index.read(storage, PROJECT, RUN)
                if found is not None:
                    missing = before - set(found)
                    assert not missing, f"a read missed {len(missing)} entries written before it began"
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert not errors, errors[0]
    index.compact(storage, PROJECT, RUN)
    assert set(index.read(storage, PROJECT, RUN)) == set().union(*written)


def test_an_object_darkroom_did_not_write_is_reported_and_rebuild_repairs_it(storage: Storage) -> None:
    write(storage, manifest(1), manifest(2))
    storage.put(paths.index_journal_key(PROJECT, RUN, "foreign"), b"not an index\n")
    with pytest.raises(index.IndexCorrupt, match="foreign"):
        index.read(storage, PROJECT, RUN)
    assert index.rebuild(storage, PROJECT, RUN) == 2
    assert objects(storage, "journal") == []
    assert {step for step, _, _ in index.read(storage, PROJECT, RUN)} == {1, 2}


def test_a_line_that_does_not_parse_names_its_object_and_line() -> None:
    found: dict[Any, Any] = {}
    with pytest.raises(index.IndexCorrupt, match="x.idx, line 3"):
        index.parse(index.encode([manifest(1)]) + b"1\t2\n", found, "x.idx")


def test_a_compaction_does_not_fetch_the_journal_objects_this_process_wrote(storage: Storage,
                                                                            monkeypatch) -> None:
    for step in range(5):
        write(storage, manifest(step))
    fetched: list[str] = []
    real_get = type(storage).get
    monkeypatch.setattr(type(storage), "get", lambda self, key, *a, **k: fetched.append(key) or real_get(self, key, *a, **k))
    assert index.compact(storage, PROJECT, RUN) == 5
    assert not [k for k in fetched if "/journal/" in k]
    monkeypatch.undo()
    assert sorted(step for step, _, _ in index.read(storage, PROJECT, RUN)) == list(range(5))


def test_a_corrupt_index_object_is_a_damaged_object_naming_its_key_and_line() -> None:
    from darkroom.pipeline.errors import DamagedObject

    with pytest.raises(DamagedObject) as info:
        index.parse(index.encode([manifest(1)]) + b"1\t2\n", {}, "x.idx")
    assert isinstance(info.value, index.IndexCorrupt)
    assert (info.value.key, info.value.line) == ("x.idx", 3)
