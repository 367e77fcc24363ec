"""workers/app.py: the Celery tasks run eagerly (`Task.apply`), against a file:// storage that fails on cue.

`apply()` runs a task in this process and applies its retry at once (no
broker, no countdown), so what a retry is sent with is what runs next.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from darkroom.pipeline import paths
from darkroom.pipeline.errors import StorageUnavailable
from darkroom.pipeline.manifest import Manifest
from darkroom.pipeline.storage.file import FileStorage
from darkroom.workers import app

PROJECT, RUN, KEY = "proj", "chunked", "samples"


class FlakyStorage(FileStorage):
    """A folder that refuses the first `failures` puts of one key with `error`, and counts every put."""

    def __init__(self, url: str, fail_key: str, failures: int = 1, error: type[Exception] = StorageUnavailable):
        super().__init__(url)
        self.fail_key, self.failures, self.error = fail_key, failures, error
        self.puts: Counter[str] = Counter()

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        if key == self.fail_key and self.failures:
            self.failures -= 1
            raise self.error(f"injected: {key} could not be written")
        self.puts[key] += 1
        super()._put(key, data, content_type)


def request_for(storage: FileStorage, step: int) -> dict:
    buf = io.BytesIO()
    np.save(buf, np.full((4, 4), step, np.uint8), allow_pickle=False)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    uri = storage.put(paths.raw_key(sha, "npy"), data, "application/x-npy")
    source = {"uri": uri, "sha256": sha, "bytes": len(data), "media_type": "application/x-npy", "ext": "npy"}
    return {"schema": "darkroom.convert/1", "project": PROJECT, "run": RUN, "step": step, "key": KEY,
            "kind": "image", "items": [{"index": 0, "source": source}]}


@pytest.fixture
def chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Three one-image requests and a storage that fails the second one's manifest once."""
    storage = FlakyStorage(f"file://{tmp_path / 'store'}", paths.manifest_key(PROJECT, RUN, 1, KEY, 0))
    monkeypatch.setattr(app, "_storage", [storage])
    requests = [request_for(storage, step) for step in range(3)]
    storage.puts.clear()  # count what the task writes, not the payloads set up here
    return storage, requests


def manifest_at(storage: FileStorage, step: int) -> Manifest:
    return Manifest.from_json_bytes(storage.get(paths.manifest_key(PROJECT, RUN, step, KEY, 0)))


def test_a_chunk_retried_after_a_storage_fault_resumes_at_the_request_that_failed(chunk) -> None:
    storage, requests = chunk
    result = app.convert_chunk.apply(args=[requests])
    assert result.successful(), result.traceback
    assert [manifest_at(storage, step).status for step in range(3)] == ["ok"] * 3
    # The first request is not converted again; the second is, once more, from its start.
    manifests = [k for k in storage.puts if "/manifests/" in k]
    assert {k: storage.puts[k] for k in manifests} == {
        paths.manifest_key(PROJECT, RUN, step, KEY, 0): 1 for step in range(3)}
    assert sum(n for k, n in storage.puts.items() if "/index/journal/" in k) == 3


def test_a_chunk_that_keeps_failing_gives_up_with_the_storage_error_after_its_retries(chunk, monkeypatch) -> None:
    storage, requests = chunk
    storage.failures = 10**6
    monkeypatch.setattr(app.convert_chunk, "max_retries", 2)
    result = app.convert_chunk.apply(args=[requests])
    assert result.failed() and isinstance(result.result, StorageUnavailable)
    assert manifest_at(storage, 0).status == "ok"  # done before the fault, kept
    assert not storage.exists(paths.manifest_key(PROJECT, RUN, 2, KEY, 0))  # never reached


def test_a_chunk_that_is_not_a_list_is_rejected_without_retrying(chunk) -> None:
    storage, _ = chunk
    result = app.convert_chunk.apply(args=[{"schema": "darkroom.convert/1"}])
    assert result.successful() and result.result is None
    assert not storage.puts


def test_the_soft_time_limit_during_a_storage_write_retries_the_task_and_loses_no_item(chunk) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    storage, requests = chunk
    storage.error = SoftTimeLimitExceeded  # the limit's signal arrives while a manifest is written
    result = app.convert.apply(args=[requests[1]])
    assert result.successful(), result.traceback
    assert manifest_at(storage, 1).status == "ok"
