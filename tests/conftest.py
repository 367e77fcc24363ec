"""Shared fixtures: real servers on free loopback ports, started and stopped by the tests.

- `redis_server`: Debian's redis-server (session-wide; flushed per test by `fleet`).
- `s3_server`: moto's S3 server in this process (`POST /moto-api/reset` per test).
- `fleet`: environment for the distributed deployment (Redis + S3) and a
  function that starts real `darkroom worker` subprocesses with it.
- `embedded_env`: environment for the embedded default, storage under tmp_path.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
DARKROOM_VARS = ("DARKROOM_", "AWS_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, f"a server listening on 127.0.0.1:{port}", timeout)


class RedisServer:
    """A redis-server process on a loopback port; `stop()` and `start()` for outage tests."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed; run the README's test command (bash .ci/test)")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--pidfile", str(self.workdir / "redis.pid"), "--logfile", str(self.workdir / "redis.log"),
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()


class RabbitServer:
    """Debian's rabbitmq-server on loopback ports of its own (AMQP, Erlang distribution, epmd),
    its data under `workdir`; `url` is the broker URL darkroom takes."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port, self.epmd_port, self.management_port = free_port(), free_port(), free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def management_url(self) -> str:
        """The management plugin's queues of the default vhost (what `darkroom exporter` reads)."""
        return f"http://guest:guest@127.0.0.1:{self.management_port}/api/queues/%2F"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.workdir), "ERL_EPMD_PORT": str(self.epmd_port),
                "RABBITMQ_NODENAME": f"darkroom{self.port}@localhost", "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(free_port()),
                "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"), "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.workdir / "advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.workdir / "rabbitmq.pid")}

    def start(self) -> None:
        exe = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        if not exe.exists():
            pytest.fail("rabbitmq-server is not installed; run the README's test command (bash .ci/test)")
        # The management plugin (the exporter's source), its counts refreshed every 0.5 s, not 5: the
        # statistics interval, and the tick at which quorum queues publish their counts (not in
        # rabbitmq.conf's schema in 3.10, hence advanced.config).
        (self.workdir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.workdir / "advanced.config").write_text("[{rabbit, [{quorum_tick_interval, 500}]}].\n")
        (self.workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nmanagement.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {self.management_port}\ncollect_statistics_interval = 500\n")
        self.proc = subprocess.Popen([str(exe)], env=self._env(), stdout=open(self.workdir / "out.log", "a"),
                                     stderr=subprocess.STDOUT, start_new_session=True, cwd=self.workdir)
        wait_for_port(self.port, timeout=120)  # its AMQP listener opens once the node has booted
        wait_for_port(self.management_port, timeout=60)

    def stop(self) -> None:
        if self.proc is not None:
            # SIGKILL: a graceful stop takes seconds, and its data is the test's, thrown away.
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)
            self.proc = None
        # The node started an epmd of its own on epmd_port; it outlives the node unless told, and it
        # refuses while it still lists the node (until it sees the killed node's connection close).
        def epmd_gone() -> bool:
            out = subprocess.run(["epmd", "-kill"], env=self._env(), capture_output=True, text=True, timeout=30)
            return "Killed" in out.stdout or "connect" in (out.stdout + out.stderr).lower()

        wait_for(epmd_gone, f"epmd on port {self.epmd_port} to stop", timeout=30, every=0.2)


class S3Server:
    """moto's S3 server in this process; `stop()` and `start()` keep its data (outage tests)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")).read()


@pytest.fixture(autouse=True)
def _no_run_outlives_its_test() -> Iterator[None]:
    """A test that fails before finish() must not leave its run current for the next test."""
    yield
    import darkroom._run as runs

    for run in list(runs._current):
        try:
            run.finish(wait=False, timeout=10, quiet=True)
        except Exception:  # the test already failed; its report says why
            pass
    runs._current.clear()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rabbit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitServer]:
    server = RabbitServer(tmp_path_factory.mktemp("rabbitmq"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DARKROOM_* / AWS_* from the outside; run folders under tmp_path."""
    for name in list(os.environ):
        if name.startswith(DARKROOM_VARS):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DARKROOM_DIR", str(tmp_path / "runs"))
    return tmp_path


@contextmanager
def _embedded_in(root: Path) -> Iterator[str]:
    url = f"file://{root / 'data'}"
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(DARKROOM_VARS):
                mp.delenv(name)
        mp.setenv("DARKROOM_STORAGE_URL", url)
        mp.setenv("DARKROOM_DIR", str(root / "runs"))
        yield url


@pytest.fixture(scope="session")
def embedded_in():
    """``with embedded_in(folder) as url:`` the embedded default with storage under `folder`,
    for module-scoped fixtures that log runs (`monkeypatch` lives one test only)."""
    return _embedded_in


@pytest.fixture
def embedded_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The embedded default with storage in tmp_path; returns the variables set."""
    env = {"DARKROOM_STORAGE_URL": f"file://{clean_env / 'data'}", "DARKROOM_DIR": str(clean_env / "runs")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


class Fleet:
    """The distributed deployment: env for Redis + S3, and worker subprocesses."""

    def __init__(self, redis: RedisServer, s3: S3Server, tmp_path: Path):
        self.redis, self.s3, self.tmp_path = redis, s3, tmp_path
        self.bucket = f"darkroom-{uuid.uuid4().hex[:12]}"
        self.env = {
            "DARKROOM_BROKER_URL": redis.url,
            "DARKROOM_STORAGE_URL": f"s3://{self.bucket}/test",
            "DARKROOM_S3_ENDPOINT_URL": s3.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "DARKROOM_DIR": str(tmp_path / "runs"),
        }
        self.workers: list[subprocess.Popen] = []

    def subprocess_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(DARKROOM_VARS)}
        env.update(self.env)
        env.update(extra)
        return env

    def start_worker(self, queues: str = "image", concurrency: int = 1, wait: bool = True,
                     pool: str | None = None, args: tuple[str, ...] = (), **extra_env: str) -> subprocess.Popen:
        """A real `darkroom worker` process (more options in `args`); returns once it is ready (if `wait`)."""
        name = f"w{len(self.workers)}-{uuid.uuid4().hex[:6]}"
        log = open(self.tmp_path / f"worker-{name}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "darkroom._cli", "worker", "-Q", queues, "-c", str(concurrency),
             "-n", f"{name}@%h", "-l", "info", *(["-P", pool] if pool else []), *args],
            env=self.subprocess_env(**extra_env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=self.tmp_path,
        )
        proc.log_path = self.tmp_path / f"worker-{name}.log"  # type: ignore[attr-defined]
        self.workers.append(proc)
        if wait:
            self.wait_ready(proc)
        return proc

    def wait_ready(self, proc: subprocess.Popen, timeout: float = 60.0) -> None:
        log_path: Path = proc.log_path  # type: ignore[attr-defined]

        def ready() -> bool:
            text = log_path.read_text()
            if " ready." in text:  # Celery's own line once the worker consumes
                return True
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}:\n{text}")
            return False

        wait_for(ready, f"the ready line in {log_path.name}", timeout, every=0.1, context=log_path.read_text)

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.workers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.workers.clear()


@pytest.fixture
def fleet(redis_server: RedisServer, s3_server: S3Server, clean_env: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """Distributed env set in this process too (for the SDK); workers stopped at teardown."""
    if redis_server.proc is None:
        redis_server.start()
    if s3_server.server is None:
        s3_server.start()
    redis_server.flush()
    f = Fleet(redis_server, s3_server, clean_env)
    for k, v in f.env.items():
        monkeypatch.setenv(k, v)
    yield f
    f.stop_workers()


@pytest.fixture
def rabbit_fleet(rabbit_server: RabbitServer, s3_server: S3Server, clean_env: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """`fleet` with RabbitMQ as its broker (`Fleet` takes any broker with a `url`), darkroom's queues emptied."""
    from darkroom.pipeline.queue import QUEUES, make_celery
    from darkroom.pipeline.settings import Settings

    if s3_server.server is None:
        s3_server.start()
    f = Fleet(rabbit_server, s3_server, clean_env)
    for k, v in f.env.items():
        monkeypatch.setenv(k, v)
    with make_celery(Settings.from_env()).connection_for_write() as connection:
        channel = connection.default_channel
        for queue in QUEUES:
            try:
                channel.queue_purge(queue)
            except Exception:  # not declared yet: nothing to purge (and the channel is closed)
                channel = connection.channel()
    yield f
    f.stop_workers()


@pytest.fixture(params=["redis", "rabbitmq"])
def any_fleet(request: pytest.FixtureRequest) -> Fleet:
    """`fleet` on each broker darkroom supports: for the fleet tests that must hold on both."""
    return request.getfixturevalue("fleet" if request.param == "redis" else "rabbit_fleet")


@pytest.fixture
def s3_storage(s3_server: S3Server, clean_env: Path):
    """An S3Storage on a fresh bucket of the moto server."""
    from darkroom.pipeline.settings import Settings
    from darkroom.pipeline.storage import open_storage

    if s3_server.server is None:
        s3_server.start()
    settings = Settings(storage_url=f"s3://darkroom-{uuid.uuid4().hex[:12]}/pre",
                        s3_endpoint_url=s3_server.endpoint, s3_access_key="testing", s3_secret_key="testing")
    return open_storage(settings.storage_url, settings)
