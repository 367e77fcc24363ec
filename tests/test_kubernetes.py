"""deploy/kubernetes rendered by `kubectl kustomize` (the base, the MinIO and RabbitMQ overlays), validated against
the Kubernetes schemas offline (the kubernetes-validate package) and checked against darkroom's code:
its queue table, CLI, settings and metric names.  No cluster runs here."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from darkroom.pipeline.queue import QUEUES, queue_names
from darkroom.pipeline.settings import Settings
from test_operations import parse_darkroom

ROOT = Path(__file__).resolve().parent.parent
KUSTOMIZATIONS = ("base", "overlays/minio", "overlays/rabbitmq")
# Custom resources of KEDA and the Prometheus operator: no schema in kubernetes-validate;
# the tests below check what darkroom relies on in each.
CUSTOM_KINDS = {"ScaledObject", "ServiceMonitor", "PodMonitor"}
SCHEMA_VERSIONS = ("1.30", "1.37")


def render(kustomization: str) -> list[dict]:
    exe = shutil.which("kubectl")
    if exe is None:
        pytest.fail("kubectl is not installed (it comes with this machine's image); it renders the kustomizations")
    out = subprocess.run([exe, "kustomize", str(ROOT / "deploy" / "kubernetes" / kustomization)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module", params=KUSTOMIZATIONS)
def objects(request: pytest.FixtureRequest) -> list[dict]:
    return render(request.param)


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_specs(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects
            if o["kind"] in ("Deployment", "StatefulSet", "Job")}


def darkroom_containers(objects: list[dict]) -> list[tuple[str, dict]]:
    return [(name, c) for name, spec in pod_specs(objects).items() for c in spec["containers"]
            if c["image"].split(":")[0] == "darkroom"]


def workers(objects: list[dict]) -> dict[str, dict]:
    """Worker Deployments: name -> the parsed `darkroom worker` command of their one container."""
    found = {}
    for name, deployment in of_kind(objects, "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        if container["args"][0] == "worker":
            found[name] = parse_darkroom(container["args"])
    return found


def config(objects: list[dict]) -> dict[str, str]:
    return of_kind(objects, "ConfigMap")["darkroom-config"]["data"]


def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(objects):
    import kubernetes_validate

    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"darkroom"}
    for obj in objects:
        for version in SCHEMA_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                assert obj["kind"] in CUSTOM_KINDS, f"no schema for {obj['kind']} in Kubernetes {version}"
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} (Kubernetes {version}): {e.message} "
                            f"at {'.'.join(map(str, e.path))}")


def test_each_queue_is_served_by_exactly_one_worker_group_and_every_container_runs_a_real_command(objects):
    served = []
    for ctx in workers(objects).values():
        served += queue_names(ctx.params["queues"].split(","))
    assert sorted(served) == sorted(QUEUES)
    for _, container in darkroom_containers(objects):
        parse_darkroom(container["args"])  # fails on an unknown command or option


def test_grace_periods_exceed_the_time_limit_and_one_visibility_timeout_holds_everywhere(objects):
    settings = Settings.from_env(config(objects))  # also what Settings.check refuses
    assert settings.visibility_timeout > settings.task_time_limit
    for name, container in darkroom_containers(objects):
        sources = [s.get("configMapRef", {}).get("name") for s in container.get("envFrom", [])]
        assert "darkroom-config" in sources, f"{name} does not read darkroom-config"
        overridden = {e["name"] for e in container.get("env", [])}
        assert not overridden & {"DARKROOM_VISIBILITY_TIMEOUT", "DARKROOM_TASK_TIME_LIMIT", "DARKROOM_BROKER_URL"}
    specs = pod_specs(objects)
    for name in workers(objects):
        assert specs[name]["terminationGracePeriodSeconds"] > settings.task_time_limit, name
    # The broker URL has one source for every container: the ConfigMap, or (it holds credentials) one Secret.
    secrets = {name: [s["secretRef"]["name"] for s in c.get("envFrom", []) if "secretRef" in s]
               for name, c in darkroom_containers(objects)}
    if "DARKROOM_BROKER_URL" in config(objects):
        assert not any("darkroom-broker" in refs for refs in secrets.values())
    else:
        assert all("darkroom-broker" in refs for refs in secrets.values()), secrets


def test_probes_and_monitors_point_at_the_ports_the_commands_serve(objects):
    specs = pod_specs(objects)
    for name, ctx in workers(objects).items():
        (container,) = specs[name]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        ready = container["readinessProbe"]["httpGet"]
        assert ready["path"] == "/healthz" and ports[ready["port"]] == ctx.params["metrics_port"]
        assert ports[container["livenessProbe"]["tcpSocket"]["port"]] == ctx.params["metrics_port"]
        labels = of_kind(objects, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        (monitor,) = of_kind(objects, "PodMonitor").values()
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} <= set(ports)
        budgets = [b for b in of_kind(objects, "PodDisruptionBudget").values()
                   if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(budgets) == 1, f"{name} needs one PodDisruptionBudget"
    (exporter,) = specs["exporter"]["containers"]
    port = parse_darkroom(exporter["args"]).params["port"]
    service = of_kind(objects, "Service")["exporter"]
    (service_port,) = service["spec"]["ports"]
    assert {p["name"]: p["containerPort"] for p in exporter["ports"]}[service_port["targetPort"]] == port
    (monitor,) = of_kind(objects, "ServiceMonitor").values()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [service_port["name"]]


def test_keda_scales_each_worker_group_on_its_own_queues_waiting_plus_unacknowledged(objects):
    exported = set(re.findall(r'"(darkroom_[a-z_]+)"', (ROOT / "pipeline" / "exporter.py").read_text()))
    groups = workers(objects)
    scaled = of_kind(objects, "ScaledObject")
    assert sorted(s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()) == sorted(groups)
    for obj in scaled.values():
        name = obj["spec"]["scaleTargetRef"]["name"]
        (trigger,) = obj["spec"]["triggers"]
        assert trigger["type"] == "prometheus"
        query = trigger["metadata"]["query"]
        selectors = re.findall(r'(darkroom_[a-z_]+)\{queue=~"([^"]+)"\}', query)
        assert {metric for metric, _ in selectors} == {"darkroom_queue_messages_waiting",
                                                      "darkroom_queue_messages_unacknowledged"} <= exported
        served = set(queue_names(groups[name].params["queues"].split(",")))
        for _, regex in selectors:  # Prometheus anchors label regexes
            assert {q for q in QUEUES if re.fullmatch(regex, q)} == served, (name, regex)
        # A group all busy holds replicas x concurrency messages: that keeps its count, never less.
        assert float(trigger["metadata"]["threshold"]) == groups[name].params["concurrency"], name
        assert trigger["metadata"]["ignoreNullValues"] == "false"
        assert 0 <= obj["spec"]["minReplicaCount"] <= obj["spec"]["maxReplicaCount"]


def test_every_container_requests_resources_and_nothing_secret_is_written(objects):
    for name, spec in pod_specs(objects).items():
        for container in spec["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
    assert not of_kind(objects, "Secret")
    (ui,) = pod_specs(objects)["ui"]["containers"]
    token = {e["name"]: e for e in ui["env"]}["DARKROOM_UI_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": "darkroom-ui", "key": "DARKROOM_UI_TOKEN"}
    brokers = {"redis", "rabbitmq"} & set(of_kind(objects, "StatefulSet"))
    assert len(brokers) == 1, brokers  # one broker, with its data on a volume
    (broker,) = brokers
    assert of_kind(objects, "StatefulSet")[broker]["spec"]["volumeClaimTemplates"]
    if broker == "redis":
        (redis,) = pod_specs(objects)["redis"]["containers"]
        assert "--appendonly" in redis["args"] and "noeviction" in redis["args"]


def test_the_minio_overlay_points_every_container_at_minio_and_creates_the_storage_bucket():
    objects = render("overlays/minio")
    data = config(objects)
    assert data["DARKROOM_S3_ENDPOINT_URL"] == "http://minio:9000"
    bucket = data["DARKROOM_STORAGE_URL"].removeprefix("s3://").split("/")[0]
    (job,) = pod_specs(objects)["minio-bucket"]["containers"]
    assert f"mc mb --ignore-existing local/{bucket}" in " ".join(job["args"])
    minio_port = of_kind(objects, "Service")["minio"]["spec"]["ports"][0]["port"]
    assert data["DARKROOM_S3_ENDPOINT_URL"].endswith(f":{minio_port}")
    assert config(render("base"))["DARKROOM_S3_ENDPOINT_URL"] != data["DARKROOM_S3_ENDPOINT_URL"]


def test_the_rabbitmq_overlay_replaces_redis_and_serves_what_the_exporter_reads():
    from darkroom.pipeline.backlog import MANAGEMENT_PORT

    objects = render("overlays/rabbitmq")
    assert "redis" not in of_kind(objects, "Service") and "redis" not in of_kind(objects, "StatefulSet")
    assert "DARKROOM_BROKER_URL" not in config(objects)
    ports = {p["name"]: p["port"] for p in of_kind(objects, "Service")["rabbitmq"]["spec"]["ports"]}
    # The exporter's default management URL is the broker's host on MANAGEMENT_PORT.
    assert ports == {"amqp": 5672, "management": MANAGEMENT_PORT}
    (exporter,) = pod_specs(objects)["exporter"]["containers"]
    assert parse_darkroom(exporter["args"]).params["rabbitmq_management_url"] is None
