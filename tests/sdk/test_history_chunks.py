"""The history-chunk writer: one object per thousand rows, rewritten whole, sealed when full."""

from __future__ import annotations

import json

import pytest

from darkroom._history import HistoryChunks
from darkroom.pipeline import paths
from darkroom.pipeline.errors import StorageUnavailable
from darkroom.pipeline.storage import open_storage


def rows(start: int, stop: int) -> list[dict]:
    return [{"_step": s, "x": s} for s in range(start, stop)]


def chunks(storage) -> dict[str, list[int]]:
    prefix = paths.history_prefix("p", "r")
    return {key.rsplit("/", 1)[-1]: [json.loads(line)["_step"] for line in storage.get(key).decode().splitlines()]
            for key in sorted(storage.list(prefix))}


def test_rows_written_in_several_calls_land_in_one_open_chunk(tmp_path):
    storage = open_storage(f"file://{tmp_path}")
    writer = HistoryChunks("p", "r")
    writer.write(storage, rows(0, 3))
    assert not writer.due(now=0.0)  # an open chunk was just written: more rows wait
    writer.write(storage, rows(3, 5))
    assert chunks(storage) == {"0000000000.jsonl": [0, 1, 2, 3, 4]}


def test_a_full_chunk_is_sealed_and_the_next_rows_open_another_named_by_their_first_step(tmp_path):
    storage = open_storage(f"file://{tmp_path}")
    writer = HistoryChunks("p", "r", chunk_rows=4)
    writer.write(storage, rows(0, 10))
    assert chunks(storage) == {"0000000000.jsonl": [0, 1, 2, 3], "0000000004.jsonl": [4, 5, 6, 7],
                               "0000000008.jsonl": [8, 9]}
    assert not writer.due()  # rows 8-9 are the open chunk, just written
    writer.write(storage, rows(10, 11))
    assert chunks(storage)["0000000008.jsonl"] == [8, 9, 10]


def test_a_chunk_is_sealed_past_its_byte_bound(tmp_path):
    storage = open_storage(f"file://{tmp_path}")
    writer = HistoryChunks("p", "r", chunk_bytes=40)
    writer.write(storage, [{"_step": s, "pad": "y" * 30} for s in range(3)])
    assert list(chunks(storage)) == ["0000000000.jsonl", "0000000001.jsonl", "0000000002.jsonl"]


class FailingOnce:
    """A storage whose next put fails as an outage would."""

    def __init__(self, storage):
        self.storage, self.fail = storage, True

    def put(self, key, data, content_type="application/octet-stream"):
        if self.fail:
            self.fail = False
            raise StorageUnavailable("endpoint unreachable (a test's outage)")
        return self.storage.put(key, data, content_type)


def test_a_failed_put_leaves_the_open_chunk_as_it_was(tmp_path):
    storage = open_storage(f"file://{tmp_path}")
    writer = HistoryChunks("p", "r")
    writer.write(storage, rows(0, 2))
    failing = FailingOnce(storage)
    with pytest.raises(StorageUnavailable):
        writer.write(failing, rows(2, 4))
    writer.write(failing, rows(2, 4))  # sent again, as the spool does
    assert chunks(storage) == {"0000000000.jsonl": [0, 1, 2, 3]}
