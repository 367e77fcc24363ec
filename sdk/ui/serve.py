"""Running the viewer: choosing its token, printing its URL, and serving it with uvicorn."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Mapping

from darkroom.pipeline.settings import ui_token_from_env
from darkroom.ui.auth import check_token, is_loopback


def choose_token(host: str, token: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The token the server will require: `token`, else ``DARKROOM_UI_TOKEN``, else a new one
    when `host` is not loopback; None (no token) on loopback with neither given.

    Raises
    ------
    ValueError: a given token that cannot be one (`check_token`).
    """
    chosen = token or ui_token_from_env(environ)
    if chosen is not None:
        return check_token(chosen)
    return None if is_loopback(host) else secrets.token_urlsafe(32)


def viewer_url(host: str, port: int, token: str | None) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(storage_url: str | None, host: str, port: int, token: str | None,
          announce: Callable[[str], None] = print) -> None:
    """Serve the viewer until interrupted; `announce` gets the URL (with its token) once it listens.

    Raises
    ------
    ImportError: the ``ui`` extra (starlette, uvicorn) is not installed.
    OSError: `host`:`port` cannot be bound (in use, not an address of this machine).
    """
    import uvicorn

    from darkroom.ui.app import make_app

    app = make_app(storage_url, token=token)
    sock = _bind(host, port)
    # Announced once the socket is bound (port 0 gets its real number): a caller
    # that waits for the URL can connect at once; uvicorn queues the connection.
    announce(viewer_url(host, sock.getsockname()[1], token))
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(2048)  # uvicorn's backlog; connections made before it serves wait here
    return sock
