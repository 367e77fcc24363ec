"""``darkroom worker --metrics-port``: the worker's metrics and health, served from its main process.

`enable_metrics` runs before Celery starts the pool: it points
prometheus_client at a multiprocess folder (``PROMETHEUS_MULTIPROC_DIR``,
or a fresh temporary one), puts a `WorkerMetrics` where the tasks record,
and binds the port at once, so a port in use fails the start with a clear
error instead of a worker running unobserved.  ``/healthz`` answers 503
until Celery's ``worker_ready`` and again from its ``worker_shutting_down``:
an orchestrator stops sending work to a worker that is leaving.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from typing import Any

from celery.signals import worker_ready, worker_shutting_down

_state = {"health": (False, "starting: not yet consuming")}


@worker_ready.connect
def _ready(**_: Any) -> None:
    _state["health"] = (True, "ok: consuming")


@worker_shutting_down.connect
def _leaving(**_: Any) -> None:
    _state["health"] = (False, "shutting down: finishing the tasks it holds")


def health() -> tuple[bool, str]:
    """What ``/healthz`` answers: consuming, or starting, or shutting down."""
    return _state["health"]


def enable_metrics(port: int, host: str = "0.0.0.0") -> Any:
    """Record metrics in every process of this worker and serve them on `host`:`port`; return the server.

    Call in the worker's main process before ``app.worker_main``.

    Raises
    ------
    ConfigError: prometheus_client is missing, or the port cannot be bound.
    """
    from darkroom.pipeline.metrics_server import prometheus, serve
    from darkroom.workers import app as worker_app
    from darkroom.workers.metrics import WorkerMetrics, prepare_folder, registry

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not folder:
        folder = tempfile.mkdtemp(prefix="darkroom-metrics-")
        atexit.register(shutil.rmtree, folder, True)
    prepare_folder(folder)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # inherited by the pool's children
    client = prometheus()
    if "prometheus_client.values" in sys.modules:  # imported before the folder was set: switch its values
        client.values.ValueClass = client.values.get_value_class()

    def active() -> int:
        from celery.worker import state

        return len(state.active_requests)

    server = serve(registry(active), port, host, health)
    worker_app.metrics[0] = WorkerMetrics()
    return server
