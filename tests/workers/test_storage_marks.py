"""workers/crash_marks.py's StorageMarks (a RabbitMQ fleet's crash marks), on file:// and moto's S3."""

from __future__ import annotations

import numpy as np
import pytest
from converter_harness import npy_bytes, put_raw

from darkroom.pipeline.messages import decode_request
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import open_storage
from darkroom.workers.conversion import WorkerContext, process_request
from darkroom.workers.crash_marks import CRASHES_ALLOWED, StorageMarks


@pytest.fixture(params=["file", "s3"])
def storage(request, tmp_path):
    if request.param == "file":
        return open_storage(f"file://{tmp_path / 'store'}")
    return request.getfixturevalue("s3_storage")


def test_a_storage_mark_counts_starts_apart_per_item_and_is_removed_at_the_end(storage):
    marks = StorageMarks(storage)
    assert [marks.start("p/r/0/k/0/r1") for _ in range(3)] == [1, 2, 3]
    assert marks.start("p/r/0/k/1/r1") == 1
    assert storage.get(StorageMarks.key("p/r/0/k/0/r1")) == b"3"
    marks.end("p/r/0/k/0/r1")
    marks.end("p/r/0/k/0/r1")  # ending twice is fine
    assert not storage.exists(StorageMarks.key("p/r/0/k/0/r1"))
    storage.put(StorageMarks.key("p/r/0/k/2/r1"), b"not a count")
    assert marks.start("p/r/0/k/2/r1") == 1  # an object there that is no mark: a first start


def test_an_item_whose_storage_mark_shows_two_ended_workers_fails_and_the_others_convert(storage):
    items = [{"index": i, "source": put_raw(storage, npy_bytes(np.full((2, 2), i, np.uint8)))} for i in range(3)]
    request = decode_request({"schema": "darkroom.convert/1", "project": "p", "run": "r", "step": 0, "key": "k",
                              "kind": "image", "items": items})
    marks = StorageMarks(storage)
    for _ in range(CRASHES_ALLOWED):  # two workers ended while converting item 1
        marks.start("p/r/0/k/1/r1")
    manifests = process_request(request, WorkerContext(storage, Limits(), marks=marks), redelivered=True)
    assert [m.status for m in manifests] == ["ok", "failed", "ok"]
    assert manifests[1].error.code == "worker_crashed"
    assert not any(storage.list("converting/"))  # every mark removed once its item ended
