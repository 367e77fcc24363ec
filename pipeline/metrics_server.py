"""Serving Prometheus metrics over HTTP: ``/metrics``, ``/healthz``, and 404 for any other path.

Both `darkroom worker --metrics-port` and `darkroom exporter` serve through
here.  prometheus_client's own ``start_http_server`` answers every path with
the metrics; an orchestrator also wants a health path whose status code says
whether to send work, so the two paths are routed here and the metrics are
rendered by the client's WSGI app (content negotiation, ``name[]`` filters,
gzip).  Requests are served on threads: a scrape that hangs, or a request
that is not HTTP at all, costs one thread and never the process
(`http.server` answers a malformed request line with 400 itself).

prometheus_client is an extra (``darkroom[metrics]``), imported when a
server starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from darkroom.pipeline.errors import ConfigError

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

# What /healthz answers: (healthy, a word or two saying why).
Health = Callable[[], "tuple[bool, str]"]
INSTALL_HINT = "metrics need prometheus_client: pip install 'darkroom[metrics]'"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a hung scrape never holds the process open at exit
    allow_reuse_address = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # one line per scrape is noise
        pass


def prometheus() -> Any:
    """The prometheus_client module, or ConfigError naming the extra to install."""
    try:
        import prometheus_client
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return prometheus_client


def app(registry: "Collector", health: Health) -> Callable[..., Any]:
    """The WSGI app: the registry's metrics at /metrics, `health` at /healthz, 404 elsewhere."""
    metrics = prometheus().make_wsgi_app(registry)

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthz":
            ok, why = health()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [why.encode() + b"\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found; this server answers /metrics and /healthz\n"]

    return route


def serve(registry: "Collector", port: int, host: str = "0.0.0.0",
          health: Health = lambda: (True, "ok")) -> WSGIServer:
    """Serve `registry` on `host`:`port` from a daemon thread; return the server (``shutdown()`` stops it).

    Raises
    ------
    ConfigError: the port cannot be bound (in use, or privileged), naming it.
    """
    try:
        server = make_server(host, port, app(registry, health), _Server, handler_class=_Quiet)
    except OSError as e:
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {e.strerror or e}") from None
    threading.Thread(target=server.serve_forever, name="darkroom-metrics", daemon=True).start()
    return server
