"""A worker's Prometheus metrics: items, conversion time, storage bytes, retries, crash marks, tasks in progress.

`darkroom worker --metrics-port P` calls `enable` before Celery starts; the
main process then serves ``/metrics`` (and ``/healthz``) once the worker is
ready.  A prefork worker converts in child processes, so the values live in
prometheus_client's multiprocess mode: each process writes its own files
under ``PROMETHEUS_MULTIPROC_DIR`` and the main process sums them at each
scrape (counters and histograms of ended children included, as the client's
docs prescribe).  Tasks in progress are read from Celery's own bookkeeping
in the main process (`celery.worker.state.active_requests`), which every pool
keeps, so a child killed mid-task leaves no stale gauge behind.

Without `enable` (metrics off, or the embedded workers) every recording is a
no-op and prometheus_client is not imported.

Names follow Prometheus's conventions: ``darkroom_`` prefix, base units
(seconds, bytes), ``_total`` for counters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from darkroom.pipeline.storage import Storage

if TYPE_CHECKING:
    from darkroom.pipeline.manifest import Manifest

# Conversion seconds: a 4x4 image takes ~1 ms, a 2048² noise PNG ~1 s, a long
# video minutes (docs/scaling.md); the top bucket is the default task time limit.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class NoMetrics:
    """Records nothing: the default, for metrics off and the embedded workers."""

    def outcomes(self, manifests: "list[Manifest]") -> None:
        """A request's manifests are written and indexed: count each item converted or failed (by code)."""

    def conversion_seconds(self, kind: str, seconds: float) -> None:
        """One item took `seconds` from its start to its manifest written, whatever its outcome."""

    def crash_mark_hit(self, kind: str) -> None:
        """An item started with a mark standing: a worker ended while converting it."""

    def read(self, n: int) -> None:
        """`n` bytes read from storage."""

    def written(self, n: int) -> None:
        """`n` bytes written to storage."""

    def retry(self, cause: str) -> None:
        """A task will be retried because of `cause` (`retry_cause`)."""

    def returned(self, n: int) -> None:
        """`n` reserved messages went back to their queue at shutdown."""


NO_METRICS = NoMetrics()


class WorkerMetrics(NoMetrics):
    """The metrics in prometheus_client objects.

    In the worker they live in multiprocess mode and need no registry (the
    main process's `registry` reads every process's files); `registry` is
    for reading them in one process (tests).
    """

    def __init__(self, registry: Any = None) -> None:
        import functools

        from prometheus_client import Counter as _Counter
        from prometheus_client import Histogram as _Histogram

        Counter = functools.partial(_Counter, registry=registry)
        Histogram = functools.partial(_Histogram, registry=registry)

        self.converted = Counter("darkroom_items_converted", "Items converted (ok manifests written).", ["kind"])
        self.failed = Counter("darkroom_items_failed", "Items failed (failed manifests written), by error code.",
                              ["kind", "code"])
        self.seconds = Histogram("darkroom_conversion_seconds", "Seconds to convert one item, storage included.",
                                 ["kind"], buckets=_BUCKETS)
        self.marks = Counter("darkroom_crash_marks_hit", "Items started again after a worker ended on them.",
                             ["kind"])
        self.bytes_read = Counter("darkroom_storage_read_bytes", "Bytes read from storage.")
        self.bytes_written = Counter("darkroom_storage_written_bytes", "Bytes written to storage.")
        self.retries = Counter("darkroom_task_retries", "Task retries scheduled, by cause.", ["cause"])
        self.returns = Counter("darkroom_shutdown_returned_messages",
                               "Reserved messages returned to their queue when the worker shut down.")

    def outcomes(self, manifests: "list[Manifest]") -> None:
        for m in manifests:
            if m.status == "ok":
                self.converted.labels(m.kind).inc()
            else:
                self.failed.labels(m.kind, m.error.code if m.error else "unknown").inc()

    def conversion_seconds(self, kind: str, seconds: float) -> None:
        self.seconds.labels(kind).observe(seconds)

    def crash_mark_hit(self, kind: str) -> None:
        self.marks.labels(kind).inc()

    def read(self, n: int) -> None:
        self.bytes_read.inc(n)

    def written(self, n: int) -> None:
        self.bytes_written.inc(n)

    def retry(self, cause: str) -> None:
        self.retries.labels(cause).inc()

    def returned(self, n: int) -> None:
        self.returns.inc(n)


def retry_cause(exc: BaseException | None) -> str:
    """A retry's cause as a label: its exception class in snake case.

    ``StorageUnavailable`` -> ``storage_unavailable``, ``SoftTimeLimitExceeded`` -> ``soft_time_limit``.
    """
    if exc is None:
        return "unknown"
    name = type(exc).__name__.removesuffix("Exceeded")  # SoftTimeLimitExceeded -> soft_time_limit
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class CountedStorage(Storage):
    """A storage that counts the bytes its callers read and write (the worker's storage with metrics on)."""

    def __init__(self, inner: Storage, metrics: NoMetrics):
        super().__init__(inner.url)
        self.inner, self.metrics = inner, metrics

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        self.inner._put(key, data, content_type)
        self.metrics.written(len(data))

    def _get(self, key: str, max_bytes: int | None) -> bytes:
        data = self.inner._get(key, max_bytes)
        self.metrics.read(len(data))
        return data

    def _stream(self, key: str, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        for chunk in self.inner._stream(key, start, end, chunk_size):
            self.metrics.read(len(chunk))
            yield chunk

    def _size(self, key: str) -> int | None:
        return self.inner._size(key)

    def _list(self, prefix: str) -> Iterator[str]:
        return self.inner._list(prefix)

    def _children(self, prefix: str) -> Iterator[str]:
        return self.inner._children(prefix)

    def _delete(self, key: str) -> None:
        self.inner._delete(key)

    def _delete_many(self, keys: list[str]) -> None:
        self.inner._delete_many(keys)

    def __repr__(self) -> str:
        return f"CountedStorage({self.inner!r})"


def prepare_folder(folder: str) -> None:
    """Empty (or make) the multiprocess folder: files of an earlier worker would be summed in.

    prometheus_client requires the folder wiped between runs of the process
    that serves it (its docs, "Multiprocess Mode").
    """
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.unlink(os.path.join(folder, name))


def registry(active: Any) -> Any:
    """A registry summing every process's files, plus tasks in progress read from `active()` (a count)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.multiprocess import MultiProcessCollector

    class InProgress:
        def collect(self) -> Iterator[Any]:
            yield GaugeMetricFamily("darkroom_tasks_in_progress", "Tasks this worker is executing now.",
                                    value=active())

    reg = CollectorRegistry()
    MultiProcessCollector(reg)
    reg.register(InProgress())
    return reg
