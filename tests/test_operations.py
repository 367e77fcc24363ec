"""docker-compose.yml's operations side (healthchecks, grace periods, exporter, Prometheus), checked against
the code, and Prometheus's config and rules checked by promtool (no Docker engine runs here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
import yaml

from darkroom._cli import main as darkroom_cli
from darkroom.pipeline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"


def parse_darkroom(argv: list[str]) -> click.Context:
    """Parse a container's `darkroom ...` arguments with the real CLI (fails on an unknown command or option)."""
    command = darkroom_cli.commands.get(argv[0])
    assert command is not None, f"{argv[0]!r} is not a darkroom command; commands: {sorted(darkroom_cli.commands)}"
    return command.make_context(argv[0], list(argv[1:]))


def seconds(duration: str | int) -> float:
    """A compose / Kubernetes duration ("660s", "11m", "1m30s", 660) in seconds."""
    if isinstance(duration, int):
        return duration
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, f"not a duration: {duration!r}"
    h, m, s = (int(p or 0) for p in parts.groups())
    return 3600 * h + 60 * m + s


def promtool(*args: str) -> None:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is not installed; run the README's test command (bash .ci/test)")
    out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def _services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_every_worker_serves_metrics_has_a_healthcheck_on_that_port_and_a_grace_period_above_the_time_limit():
    services = _services()
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}
    assert workers
    for name, service in workers.items():
        ctx = parse_darkroom(service["command"])
        port = ctx.params["metrics_port"]
        assert port, f"{name} serves no metrics"
        check = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in check, check
        env = {k: v for k, v in service["environment"].items() if not str(v).startswith("${")}
        limit = Settings.from_env(env).task_time_limit
        assert seconds(service["stop_grace_period"]) > limit, f"{name}: SIGKILL would cut items short"


def test_the_exporter_and_every_other_darkroom_container_run_real_commands_and_check_their_own_port():
    services = _services()
    exporter = services["exporter"]
    ctx = parse_darkroom(exporter["command"])
    assert ctx.command.name == "exporter"
    assert f"{ctx.params['port']}:{ctx.params['port']}" in exporter["ports"]
    for name, service in services.items():
        if service.get("image") != "darkroom:latest":
            continue
        ctx = parse_darkroom(service["command"])
        check = " ".join(service.get("healthcheck", {}).get("test", []))
        ports = {str(v) for k, v in ctx.params.items() if k in ("port", "metrics_port") and v}
        assert not check or any(f"{p}/healthz" in check or f"', {p})" in check for p in ports), (name, check)


def test_prometheus_scrapes_the_exporter_and_every_worker_service_on_their_ports_and_promtool_accepts_it():
    services = _services()
    mounts = services["prometheus"]["volumes"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    assert "./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro" in mounts
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    exporter_port = parse_darkroom(services["exporter"]["command"]).params["port"]
    assert jobs["darkroom-exporter"]["static_configs"][0]["targets"] == [f"exporter:{exporter_port}"]
    (dns,) = jobs["darkroom-worker"]["dns_sd_configs"]
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}
    assert sorted(dns["names"]) == sorted(workers)
    assert {parse_darkroom(s["command"]).params["metrics_port"] for s in workers.values()} == {dns["port"]}
    promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    promtool("check", "rules", str(PROMETHEUS / "rules.yml"))


def test_the_rules_use_only_metrics_that_darkroom_exports():
    """Every darkroom_* name in a rule is one the worker or the exporter serves (tests/integration/test_metrics.py
    scrapes them); a renamed metric would leave a dashboard or an alert silently empty."""
    exported = set()
    for path in ("workers/metrics.py", "pipeline/exporter.py"):
        exported |= set(re.findall(r'"(darkroom_[a-z_]+)"', (ROOT / path).read_text()))
    suffixes = ("_total", "_bucket", "_count", "_sum")
    rules = (PROMETHEUS / "rules.yml").read_text()
    used = set(re.findall(r"\b(darkroom_[a-z_]+)", rules))
    assert used
    for name in used:
        base = next((name[: -len(s)] for s in suffixes if name.endswith(s) and name[: -len(s)] in exported), name)
        assert base in exported, f"{name} in rules.yml is not a metric darkroom exports"
