"""Loopback servers for the benchmarks: redis-server and moto's S3, started and stopped here."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def fleet_env(s3_log: Path | None = None) -> Iterator[dict[str, str]]:
    """Start redis-server and a moto S3 server (its own process); yield the darkroom env for them.

    `s3_log`: a file that receives the S3 server's access log, one line per
    request (werkzeug's: ``"PUT /bucket/key HTTP/1.1" 200``), to count requests.
    """
    work = Path(tempfile.mkdtemp(prefix="darkroom-bench-"))
    redis_port, s3_port = free_port(), free_port()
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server is not installed (bash .ci/install --test installs it)")
    redis = subprocess.Popen([exe, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--pidfile", str(work / "redis.pid"),
                              "--logfile", str(work / "redis.log"), "--dir", str(work)])
    log = open(s3_log, "w") if s3_log is not None else None
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
                            stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
    try:
        wait_for_port(redis_port)
        wait_for_port(s3_port, 30)
        yield {
            "DARKROOM_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DARKROOM_STORAGE_URL": "s3://darkroom-bench/b",
            "DARKROOM_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "DARKROOM_DIR": str(work / "runs"),
        }
    finally:
        for proc in (redis, moto):
            proc.terminate()
            proc.wait(timeout=10)
        if log is not None:
            log.close()
        shutil.rmtree(work, ignore_errors=True)


def reset_s3(env: dict[str, str]) -> None:
    """Empty the moto server (every bucket), so each measurement starts from the same store."""
    import urllib.request

    url = env["DARKROOM_S3_ENDPOINT_URL"] + "/moto-api/reset"
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30).read()


def use_env(env: dict[str, str]) -> None:
    for name in [n for n in os.environ if n.startswith(("DARKROOM_", "AWS_"))]:
        del os.environ[name]
    os.environ.update(env)
