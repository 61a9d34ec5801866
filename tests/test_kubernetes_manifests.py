"""The Kubernetes manifests (deploy/kubernetes): the committed file is what render.py makes,
every resource validates against the Kubernetes schemas (kubernetes-validate, strict), and
each workload has what running several replicas safely needs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

from analytics.settings import Settings as AnalyticsSettings
from crm_common.shell import create_service_app
from crm_common.web import health_routes

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "kubernetes"
#: Kubernetes versions the manifests must be valid for (oldest supported, newest known).
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def render_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_k8s", DEPLOY / "render.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def documents() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((DEPLOY / "crm-suite.yaml").read_text()))


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == kind}


def test_the_committed_manifests_are_what_render_makes() -> None:
    assert (DEPLOY / "crm-suite.yaml").read_text() == render_module().render(), (
        "run: uv run python deploy/kubernetes/render.py > deploy/kubernetes/crm-suite.yaml"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_every_resource_validates_against_the_kubernetes_schemas(version: str) -> None:
    for document in documents():
        kubernetes_validate.validate(document, version, strict=True)


def test_each_workload_runs_replicated_with_probes_budgets_and_secrets() -> None:
    deployments = by_kind("Deployment")
    assert set(deployments) == {"gateway", "customers", "pipeline", "analytics", "analytics-worker"}
    budgets, autoscalers, services = (
        by_kind("PodDisruptionBudget"),
        by_kind("HorizontalPodAutoscaler"),
        by_kind("Service"),
    )
    for name, deployment in deployments.items():
        assert deployment["spec"]["replicas"] >= 2, name
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["resources"]["requests"]["cpu"], name
        assert container["resources"]["requests"]["memory"], name
        assert "livenessProbe" in container, name
        for variable in container["env"]:  # secrets only by reference, never a literal
            if variable["name"] in {"JWT_SECRET", "AMQP_URL", "MONGODB_URL"}:
                assert "secretKeyRef" in variable["valueFrom"], (name, variable)
        assert budgets[name]["spec"]["minAvailable"] == 1
        if name == "analytics-worker":
            probe = " ".join(container["livenessProbe"]["exec"]["command"])
            assert AnalyticsSettings().heartbeat_path in probe  # the worker's own heartbeat
            assert name not in autoscalers  # one active consumer: more CPU would not help
        else:
            assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
            assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
            assert autoscalers[name]["spec"]["scaleTargetRef"]["name"] == name
            assert name in services


def test_the_probed_routes_are_the_services_health_routes() -> None:
    """Every subgraph (crm_common.shell) and the gateway serve their probes from
    ``crm_common.web.health_routes``; the gateway replaces only the readiness check."""
    paths = {route.path for route in health_routes({})}
    assert {"/health/live", "/health/ready"} <= paths
    app = create_service_app  # the shell mounts health_routes for every subgraph
    assert "health_routes" in (ROOT / "libs/crm_common/src/crm_common/shell.py").read_text()
    assert app is not None
