"""Deployment files agree with the code: settings names, metric names, ports, grace periods."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from storage_jobs.metrics import METRIC_NAMES
from storage_jobs.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
OPS = ROOT / "ops"
K8S = OPS / "k8s"
ENV_PREFIX = "STORAGE_JOBS_"
SETTINGS_VARS = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
METRIC_RE = re.compile(r"storage_jobs_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def load_yaml(path: Path) -> list[Any]:
    """Every document of a (multi-document) YAML file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict[str, Any]:
    (doc,) = load_yaml(ROOT / "docker-compose.yml")
    assert isinstance(doc, dict)
    return doc


def k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_yaml(path)]


def k8s_doc(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d
        for d in k8s_docs()
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def worker_container() -> dict[str, Any]:
    deployment = k8s_doc("Deployment", "storage-jobs-worker")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def env_mapping(environment: Any) -> dict[str, str]:
    """A compose ``environment`` (mapping or ``KEY=value`` list) as a dict."""
    if isinstance(environment, dict):
        return {str(k): str(v) for k, v in environment.items()}
    return dict(str(item).split("=", 1) for item in environment or [])


def strings(node: Any) -> Iterator[str]:
    """Every string (keys and values) anywhere in a parsed YAML/JSON tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def metric_names_in(node: Any) -> set[str]:
    names = set()
    for text in strings(node):
        for found in METRIC_RE.findall(text):
            for suffix in HISTOGRAM_SUFFIXES:
                if found.endswith(suffix) and found[: -len(suffix)] in METRIC_NAMES:
                    found = found[: -len(suffix)]
            names.add(found)
    return names


# -- docker-compose -------------------------------------------------------------------------------


def test_compose_services_and_images() -> None:
    """redis, s3, s3-bootstrap, worker and prometheus exist, each with an image or a build."""
    services = compose()["services"]
    assert {"redis", "s3", "s3-bootstrap", "worker", "prometheus"} <= set(services)
    for name, service in services.items():
        assert service.get("image") or service.get("build"), f"{name} has no image"
    assert services["redis"]["image"].startswith("redis:7")
    assert services["prometheus"]["image"].startswith("prom/prometheus")
    assert services["worker"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_compose_redis_keeps_an_append_only_file_on_a_volume() -> None:
    """Redis runs with --appendonly yes and keeps /data on a named volume."""
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"]) if isinstance(redis["command"], list) else redis["command"]
    assert "--appendonly yes" in command
    volumes = [str(v) for v in redis["volumes"]]
    assert any(v.endswith(":/data") and v.split(":")[0] in compose()["volumes"] for v in volumes)


def test_compose_worker_replicas_health_and_grace() -> None:
    """Three worker replicas, health from `storage-jobs health`, stop grace above the job grace."""
    worker = compose()["services"]["worker"]
    assert worker["deploy"]["replicas"] == 3
    test = worker["healthcheck"]["test"]
    assert test[:1] == ["CMD"] and test[1:3] == ["storage-jobs", "health"]
    assert "--local" in test
    env = env_mapping(worker["environment"])
    grace = float(env["STORAGE_JOBS_SHUTDOWN_GRACE"])
    stop_grace = worker["stop_grace_period"]
    assert stop_grace.endswith("s") and float(stop_grace[:-1]) > grace
    assert "container_name" not in worker  # replicas need their own names
    assert env["STORAGE_JOBS_S3_ENDPOINT_URL"] == "http://s3:9000"
    assert env["STORAGE_JOBS_REDIS_URL"].startswith("redis://redis:")


def test_compose_env_vars_are_settings() -> None:
    """Every STORAGE_JOBS_* variable in docker-compose.yml is a field of Settings."""
    for name, service in compose()["services"].items():
        env = env_mapping(service.get("environment"))
        unknown = {k for k in env if k.startswith(ENV_PREFIX)} - SETTINGS_VARS
        assert not unknown, f"{name}: not settings: {sorted(unknown)}"
    assert "STORAGE_JOBS_METRICS_PORT" in env_mapping(
        compose()["services"]["worker"]["environment"]
    )


def test_prometheus_scrapes_the_workers_metrics_port() -> None:
    """ops/prometheus.yml is mounted by compose and scrapes the port the workers serve."""
    services = compose()["services"]
    port = int(env_mapping(services["worker"]["environment"])["STORAGE_JOBS_METRICS_PORT"])
    assert str(port) in [str(p) for p in services["worker"].get("expose", [])]
    mounts = [str(v) for v in services["prometheus"]["volumes"]]
    assert any(m.startswith("./ops/prometheus.yml:") for m in mounts)
    (config,) = load_yaml(OPS / "prometheus.yml")
    targets = [
        (sd["names"], sd["port"])
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
    ]
    assert targets, "no dns_sd_configs"
    for names, scrape_port in targets:
        assert scrape_port == port
        assert set(names) & {"worker", "tasks.worker"}


# -- kubernetes -----------------------------------------------------------------------------------


def test_k8s_manifests_parse_with_kinds() -> None:
    """Every manifest under ops/k8s parses and every document has apiVersion, kind and a name."""
    docs = k8s_docs()
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "ConfigMap", "Secret", "Service", "ScaledObject"} <= kinds
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"]


def test_k8s_env_vars_are_settings() -> None:
    """Every STORAGE_JOBS_* key in the ConfigMap, Secret and Deployment is a field of Settings."""
    keys = set(k8s_doc("ConfigMap")["data"]) | set(k8s_doc("Secret")["stringData"])
    keys |= {e["name"] for e in worker_container().get("env", [])}
    for text in strings(k8s_docs()):  # also variables only mentioned, e.g. in queries
        keys |= set(re.findall(r"STORAGE_JOBS_[A-Z0-9_]+", text))
    assert keys
    assert not {k for k in keys if k.startswith(ENV_PREFIX)} - SETTINGS_VARS
    assert not {k for k in k8s_doc("ConfigMap")["data"] if not k.startswith(ENV_PREFIX)}
    secret = k8s_doc("Secret")["stringData"]
    assert {"STORAGE_JOBS_REDIS_URL", "STORAGE_JOBS_S3_SECRET_ACCESS_KEY"} <= set(secret)


def test_k8s_deployment_grace_probes_and_env_sources() -> None:
    """The pod outlives the job grace, probes run `storage-jobs health --local`, env is sourced."""
    deployment = k8s_doc("Deployment", "storage-jobs-worker")
    container = worker_container()
    env = {e["name"]: e.get("value") for e in container["env"]}
    grace = float(env["STORAGE_JOBS_SHUTDOWN_GRACE"])
    termination = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert termination > grace
    assert termination == grace + 5
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["exec"]["command"] == ["storage-jobs", "health", "--local"]
    sources = {next(iter(s)): next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources == {
        "configMapRef": k8s_doc("ConfigMap")["metadata"]["name"],
        "secretRef": k8s_doc("Secret")["metadata"]["name"],
    }
    assert container["resources"]["requests"] and container["resources"]["limits"]


def test_k8s_metrics_ports_agree() -> None:
    """The ConfigMap's metrics port is the container port, the Service port and the annotation."""
    port = int(k8s_doc("ConfigMap")["data"]["STORAGE_JOBS_METRICS_PORT"])
    container = worker_container()
    assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container["ports"]
    service = k8s_doc("Service", "storage-jobs-worker-metrics")
    assert [p["port"] for p in service["spec"]["ports"]] == [port]
    annotations = k8s_doc("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    selector = service["spec"]["selector"]
    labels = k8s_doc("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_keda_scales_on_the_queue_depth_metric() -> None:
    """KEDA uses the prometheus trigger on storage_jobs_queue_depth, targeting the Deployment."""
    scaled = k8s_doc("ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "storage-jobs-worker"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert "storage_jobs_queue_depth" in trigger["metadata"]["query"]
    assert scaled["spec"]["minReplicaCount"] >= 1  # the gauge needs a live worker


# -- metric names ---------------------------------------------------------------------------------


def ops_documents() -> list[tuple[str, Any]]:
    docs: list[tuple[str, Any]] = [
        (str(path.relative_to(ROOT)), doc)
        for path in sorted(OPS.rglob("*.y*ml"))
        for doc in load_yaml(path)
    ]
    docs += [
        (str(path.relative_to(ROOT)), json.loads(path.read_text()))
        for path in sorted(OPS.rglob("*.json"))
    ]
    return docs


def test_every_metric_used_in_ops_exists() -> None:
    """Every storage_jobs_* name in ops/ manifests and dashboards is one the workers export."""
    docs = ops_documents()
    assert any(path.endswith(".json") for path, _ in docs)
    used_anywhere: set[str] = set()
    for path, doc in docs:
        used = metric_names_in(doc)
        assert not used - set(METRIC_NAMES), (
            f"{path}: unknown metrics {sorted(used - set(METRIC_NAMES))}"
        )
        used_anywhere |= used
    assert "storage_jobs_queue_depth" in used_anywhere


def test_metric_name_extraction_strips_histogram_suffixes() -> None:
    """The extractor maps _bucket/_sum/_count of histograms back and keeps unknown names."""
    doc = {
        "expr": "rate(storage_jobs_job_duration_seconds_bucket[5m]) / storage_jobs_jobs_total",
        "x": ["storage_jobs_pickup_latency_seconds_count", "storage_jobs_made_up_total"],
    }
    assert metric_names_in(doc) == {
        "storage_jobs_job_duration_seconds",
        "storage_jobs_jobs_total",
        "storage_jobs_pickup_latency_seconds",
        "storage_jobs_made_up_total",
    }


@pytest.mark.parametrize(
    "panel_metric",
    [
        "storage_jobs_jobs_total",
        "storage_jobs_job_retries_total",
        "storage_jobs_dead_letters_total",
        "storage_jobs_keys_deleted_total",
        "storage_jobs_keys_failed_total",
        "storage_jobs_bytes_uploaded_total",
        "storage_jobs_job_duration_seconds",
        "storage_jobs_queue_depth",
        "storage_jobs_pickup_latency_seconds",
        "storage_jobs_worker_info",
    ],
)
def test_dashboard_has_a_panel_for(panel_metric: str) -> None:
    """The Grafana dashboard queries each headline metric in some panel."""
    dashboard = json.loads((OPS / "grafana" / "storage-jobs-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert any(panel_metric in metric_names_in(e) for e in exprs)
