"""Fixtures for the viewer's tests: a real `darkroom ui` process over a storage folder.

`ui_server(storage, token=None, **env)` starts ``darkroom ui --port 0`` as a
subprocess on loopback over `storage` (a folder or a storage URL), waits until
it answers, and returns its base URL (``http://127.0.0.1:PORT``, no trailing
slash).  Every server a test started is stopped at its teardown.  With
`token`, the server requires it (open ``f"{url}/?token={token}"``).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest


class UiServer:
    """One `darkroom ui` subprocess; `url` is its base URL."""

    def __init__(self, storage: str | Path, workdir: Path, token: str | None = None, **env: str):
        url = storage if isinstance(storage, str) and "://" in storage else f"file://{Path(storage).resolve()}"
        argv = [sys.executable, "-m", "darkroom._cli", "ui", "--storage", url, "--host", "127.0.0.1", "--port", "0"]
        if token is not None:
            argv += ["--token", token]
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("DARKROOM_", "AWS_"))}
        environ.update(env)
        self.log_path = workdir / f"ui-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     cwd=workdir, start_new_session=True)
        self.token = token
        self.url = self._wait_for_url()

    def _wait_for_url(self, timeout: float = 30.0) -> str:
        """The URL the command prints once it listens (`--port 0`: the port it was given)."""
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None
        # A thread reads stdout (to its end), so a server that hangs cannot hang the test.
        threading.Thread(target=_pump, args=(stdout, lines), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if not line:
                raise RuntimeError(f"darkroom ui exited with {self.proc.wait()}:\n{self.log_path.read_text()}")
            if "open http://" in line:
                base = line.split("open ", 1)[1].strip().split("?", 1)[0].rstrip("/")
                self._wait_answering(base, deadline)
                return base
        raise TimeoutError(f"darkroom ui printed no URL after {timeout}s:\n{self.log_path.read_text()}")

    def _wait_answering(self, base: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/api/runs?token={self.token or ''}", timeout=5).read()
                return
            except urllib.error.HTTPError:
                return  # it answers (401 without the right token is an answer)
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"darkroom ui at {base} does not answer:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # uvicorn's graceful stop, as Ctrl+C
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def _pump(stream: IO[str], lines: "queue.Queue[str]") -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put("")  # the end: the process closed its stdout


@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """A function (storage, token=None, **env) -> base URL of a running `darkroom ui`."""
    servers: list[UiServer] = []

    def start(storage: str | Path, token: str | None = None, **env: str) -> str:
        server = UiServer(storage, tmp_path, token, **env)
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()
