"""workers/crash_marks.py: an item that ended its worker twice fails; the others in its request convert.

The marks are counted against a real folder and a real redis-server; the
crash itself (a worker killed while converting) is in
tests/sdk/test_worker_crash.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from converter_harness import npy_bytes, put_raw

from darkroom.pipeline.messages import decode_request
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import Storage, open_storage
from darkroom.workers import conversion
from darkroom.workers.crash_marks import CRASHES_ALLOWED, FileMarks, RedisMarks
from darkroom.workers.conversion import WorkerContext, process_request

PROJECT, RUN, STEP, KEY = "proj", "marks", 2, "samples"


def ident(index: int, revision: int = 1) -> str:
    return f"{PROJECT}/{RUN}/{STEP}/{KEY}/{index}/r{revision}"


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return open_storage(f"file://{tmp_path / 'store'}")


def three_images(storage: Storage) -> dict:
    items = [{"index": i, "source": put_raw(storage, npy_bytes(np.full((2, 2), i, np.uint8)))} for i in range(3)]
    return {"schema": "darkroom.convert/1", "project": PROJECT, "run": RUN, "step": STEP, "key": KEY,
            "kind": "image", "items": items}


def test_a_file_mark_counts_starts_until_its_item_ends(tmp_path: Path) -> None:
    marks = FileMarks(tmp_path)
    assert [marks.start("p/r/0/k/0/r1") for _ in range(3)] == [1, 2, 3]
    assert marks.start("p/r/0/k/1/r1") == 1  # items are counted apart
    marks.end("p/r/0/k/0/r1")
    marks.end("p/r/0/k/0/r1")  # ending twice is fine
    assert marks.start("p/r/0/k/0/r1") == 1
    assert {p.name for p in tmp_path.iterdir()} == {hashlib.sha256(f"p/r/0/k/{i}/r1".encode()).hexdigest()
                                                    for i in (0, 1)}


def test_a_redis_mark_counts_starts_expires_and_is_removed_at_the_end(redis_server) -> None:
    import redis

    marks, client = RedisMarks(redis_server.url), redis.Redis.from_url(redis_server.url)
    assert [marks.start(ident(0)) for _ in range(2)] == [1, 2]
    key = f"darkroom:converting:{ident(0)}"
    assert 0 < client.ttl(key) <= 7 * 24 * 3600
    marks.end(ident(0))
    assert client.exists(key) == 0


def test_with_redis_gone_a_mark_is_skipped_and_the_item_still_converts(storage) -> None:
    marks = RedisMarks("redis://127.0.0.1:1/0")  # nothing listens on port 1
    manifests = process_request(decode_request(three_images(storage)), WorkerContext(storage, Limits(), marks=marks))
    assert [m.status for m in manifests] == ["ok"] * 3


def test_an_item_that_ended_its_worker_twice_fails_and_the_rest_of_its_request_converts(
        tmp_path: Path, storage: Storage) -> None:
    marks = FileMarks(tmp_path / "marks")
    (tmp_path / "marks").mkdir()
    for _ in range(CRASHES_ALLOWED):  # two starts that never ended: two workers gone
        marks.start(ident(1))
    manifests = process_request(decode_request(three_images(storage)), WorkerContext(storage, Limits(), marks=marks))
    assert [m.status for m in manifests] == ["ok", "failed", "ok"]
    error = manifests[1].error
    assert error.code == "worker_crashed"
    assert "ended 2 times while converting this item" in error.message and "image converter" in error.message
    assert list((tmp_path / "marks").iterdir()) == []  # every mark removed, the failed one's too


def test_one_ended_worker_is_forgiven_and_the_item_converts(tmp_path: Path, storage: Storage) -> None:
    (tmp_path / "marks").mkdir()
    marks = FileMarks(tmp_path / "marks")
    marks.start(ident(0))
    manifests = process_request(decode_request(three_images(storage)), WorkerContext(storage, Limits(), marks=marks))
    assert [m.status for m in manifests] == ["ok"] * 3


def test_a_converter_that_raises_leaves_no_mark(tmp_path: Path, storage: Storage, monkeypatch) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(conversion.Conversion, "convert", broken)
    (tmp_path / "marks").mkdir()
    marks = FileMarks(tmp_path / "marks")
    manifests = process_request(decode_request(three_images(storage)), WorkerContext(storage, Limits(), marks=marks))
    assert [m.error.code for m in manifests] == ["internal_error"] * 3
    assert list((tmp_path / "marks").iterdir()) == []
