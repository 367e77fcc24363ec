"""docker-compose.yml and the Dockerfile, checked against the code (no Docker engine runs here)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from darkroom.pipeline.queue import queue_names
from darkroom.pipeline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


class _Recording(Mapping):
    """An empty environment that records which variables are asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key: str, default: object = None) -> object:
        self.asked.add(key)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_redis_with_persistence_minio_with_its_bucket_and_a_worker_per_queue_group():
    services = _compose()["services"]
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    assert services["minio"]["image"].startswith("minio/minio")
    assert "mc mb" in " ".join(services["minio-init"]["entrypoint"])
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}
    served = []
    for service in workers.values():
        command = service["command"]
        assert command[0] == "worker"
        served += queue_names(command[command.index("--queues") + 1].split(","))
    assert sorted(served) == sorted(queue_names(["image", "data", "video", "audio", "molecule", "object3d"]))
    for name in ("redis", "minio"):
        assert "healthcheck" in services[name]
    assert "--broker=redis://redis:6379/0" in services["flower"]["command"]


def test_every_variable_the_workers_get_is_one_the_settings_read_and_no_secret_is_written_down():
    recording = _Recording()
    Settings.from_env(recording)
    for name, service in _compose()["services"].items():
        if not name.startswith("worker-"):
            continue
        env = service["environment"]
        assert set(env) <= recording.asked, set(env) - recording.asked
        assert {"DARKROOM_BROKER_URL", "DARKROOM_STORAGE_URL", "DARKROOM_S3_ENDPOINT_URL"} <= set(env)
        for secret in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env[secret].startswith("${"), f"{secret} must come from the environment"
        settings = Settings.from_env({k: v for k, v in env.items() if not v.startswith("${")})
        assert settings.visibility_timeout > settings.task_time_limit


def test_the_viewer_reads_the_workers_storage_off_loopback_with_a_token_from_the_environment():
    services = _compose()["services"]
    ui, worker = services["ui"], services["worker-image"]
    command = ui["command"]
    assert command[0] == "ui" and command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert f"{port}:{port}" in ui["ports"]
    env = dict(ui["environment"])
    assert env.pop("DARKROOM_UI_TOKEN").startswith("${DARKROOM_UI_TOKEN:?")  # never written down, never empty
    assert env == worker["environment"]  # the same storage, endpoint and credentials as the workers


def test_the_worker_image_installs_darkroom_with_every_codec():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'pip install --no-cache-dir ".[all]"' in dockerfile
    assert 'ENTRYPOINT ["darkroom"]' in dockerfile
