"""workers/metrics.py: what a worker counts, read back from a registry of its own (no worker process)."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry

from darkroom.pipeline.errors import StorageUnavailable
from darkroom.pipeline.messages import decode_request
from darkroom.pipeline.settings import Limits
from darkroom.pipeline.storage import open_storage
from darkroom.workers.conversion import WorkerContext, process_request
from darkroom.workers.crash_marks import FileMarks
from darkroom.workers.metrics import CountedStorage, WorkerMetrics, retry_cause

from converter_harness import npy_bytes, put_raw


def test_a_counted_storage_counts_the_bytes_read_and_written_and_changes_nothing_else(tmp_path):
    registry = CollectorRegistry()
    inner = open_storage(f"file://{tmp_path}")
    storage = CountedStorage(inner, WorkerMetrics(registry))
    storage.put("raw/a.bin", b"x" * 1000)
    storage.put("raw/b.bin", b"y" * 24)
    assert storage.get("raw/a.bin") == b"x" * 1000
    assert b"".join(storage.stream("raw/b.bin", 4, 20)) == b"y" * 16
    assert sorted(storage.list("raw/")) == ["raw/a.bin", "raw/b.bin"] and storage.size("raw/a.bin") == 1000
    assert storage.uri("raw/a.bin") == inner.uri("raw/a.bin")
    assert registry.get_sample_value("darkroom_storage_written_bytes_total") == 1024
    assert registry.get_sample_value("darkroom_storage_read_bytes_total") == 1016


def test_items_are_counted_by_kind_and_error_code_each_timed_and_a_standing_crash_mark_is_a_hit(tmp_path):
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    storage = open_storage(f"file://{tmp_path / 'store'}")
    good = put_raw(storage, npy_bytes(np.zeros((4, 4), np.uint8)))
    big = put_raw(storage, npy_bytes(np.zeros((16, 16), np.uint8)))
    request = decode_request({"schema": "darkroom.convert/1", "project": "p", "run": "r", "step": 0, "key": "k",
                              "kind": "image", "items": [{"index": 0, "source": good},
                                                         {"index": 1, "source": big}]})
    marks = FileMarks(tmp_path)
    marks.start("p/r/0/k/0/r1")  # a worker ended while converting item 0: its mark still stands
    process_request(request, WorkerContext(storage, Limits(max_pixels=100), marks=marks, metrics=metrics))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("darkroom_items_converted_total", kind="image") == 1
    assert value("darkroom_items_failed_total", kind="image", code="too_large") == 1
    assert value("darkroom_conversion_seconds_count", kind="image") == 2
    assert value("darkroom_crash_marks_hit_total", kind="image") == 1


def test_a_retry_cause_is_the_exception_class_in_snake_case():
    from celery.exceptions import SoftTimeLimitExceeded

    assert retry_cause(StorageUnavailable("down")) == "storage_unavailable"
    assert retry_cause(SoftTimeLimitExceeded()) == "soft_time_limit"
    assert retry_cause(None) == "unknown"
