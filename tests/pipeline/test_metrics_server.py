"""pipeline/metrics_server.py: the HTTP server both the worker and the exporter serve metrics from."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from darkroom.pipeline.errors import ConfigError
from darkroom.pipeline.metrics_server import serve


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_metrics_health_and_other_paths_are_routed_and_the_metrics_can_be_filtered_by_name():
    registry = CollectorRegistry()
    Counter("darkroom_demo_things", "Things.", registry=registry).inc(3)
    Counter("darkroom_demo_other", "Others.", registry=registry).inc()
    health = {"now": (False, "starting: not yet consuming")}
    server = serve(registry, 0, "127.0.0.1", lambda: health["now"])
    port = server.server_address[1]
    try:
        status, body = _get(port, "/metrics")
        assert status == 200 and b"darkroom_demo_things_total 3.0" in body and b"darkroom_demo_other" in body
        status, body = _get(port, "/metrics?name[]=darkroom_demo_things_total")
        assert b"darkroom_demo_things_total 3.0" in body and b"darkroom_demo_other" not in body
        assert _get(port, "/healthz") == (503, b"starting: not yet consuming\n")
        health["now"] = (True, "ok: consuming")
        assert _get(port, "/healthz") == (200, b"ok: consuming\n")
        status, body = _get(port, "/metrics/../../etc/passwd")
        assert status == 404 and b"/metrics and /healthz" in body
    finally:
        server.shutdown()


def test_a_port_in_use_is_a_config_error_naming_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve metrics on 127.0.0.1:{port}: Address already in use"):
            serve(CollectorRegistry(), port, "127.0.0.1")
