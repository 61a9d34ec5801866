"""docker-compose.yml cannot run here (no Docker engine), so its promises are checked by reading
it: every built service has its Dockerfile, ports and environment names match the settings the
processes really read, every service has a health check, and dependencies wait for health."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]

# compose service -> (settings module, env prefix, default port or None for a worker)
PROCESSES = {
    "customers": ("customers.settings", "CUSTOMERS_", 4001),
    "pipeline": ("pipeline.settings", "PIPELINE_", 4002),
    "analytics": ("analytics.settings", "ANALYTICS_", 4003),
    "analytics-worker": ("analytics.settings", "ANALYTICS_", None),
    "gateway": ("gateway.settings", "GATEWAY_", 4000),
}
STANDARD_NAMES = {"MONGODB_URL", "AMQP_URL", "JWT_SECRET", "JWT_JWKS_URL", "CRM_ENV", "LOG_LEVEL"}


def test_the_suite_and_its_infrastructure_are_all_there() -> None:
    assert set(SERVICES) == {"mongodb", "rabbitmq", *PROCESSES}
    assert "--replSet" in SERVICES["mongodb"]["command"]
    assert SERVICES["mongodb"]["image"].startswith("mongo:8")
    assert SERVICES["rabbitmq"]["image"].startswith("rabbitmq:3")
    assert "management" in SERVICES["rabbitmq"]["image"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check(name: str) -> None:
    check = SERVICES[name].get("healthcheck")
    assert check, f"{name} has no health check"
    assert check.get("test"), f"{name} has an empty health check"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_every_built_service_has_its_dockerfile(name: str) -> None:
    build = SERVICES[name]["build"]
    dockerfile = ROOT / build["context"] / build["dockerfile"]
    assert dockerfile.is_file(), f"{dockerfile} is missing"
    text = dockerfile.read_text()
    assert "uv sync --frozen" in text, "images must install the locked dependencies"
    port = PROCESSES[name][2]
    if port is not None:
        assert re.search(rf"EXPOSE\s+{port}\b", text), f"{dockerfile} does not expose {port}"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_environment_names_and_ports_match_the_settings(name: str) -> None:
    module, prefix, default_port = PROCESSES[name]
    settings_class = importlib.import_module(module).Settings
    fields = {f"{prefix}{field.upper()}" for field in settings_class.model_fields}
    environment: dict[str, str] = SERVICES[name]["environment"]
    for key in environment:
        assert key in STANDARD_NAMES or key in fields, f"{name}: {key} is read by nobody"
    if default_port is not None:
        assert settings_class.model_fields["port"].default == default_port
        assert environment[f"{prefix}PORT"] == str(default_port)
        assert f"{default_port}:{default_port}" in SERVICES[name]["ports"]
        assert environment[f"{prefix}HOST"] == "0.0.0.0"
        assert str(default_port) in str(SERVICES[name]["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_dependencies_wait_until_healthy(name: str) -> None:
    depends = SERVICES[name]["depends_on"]
    assert depends, f"{name} depends on nothing"
    assert all(d["condition"] == "service_healthy" for d in depends.values())


def test_required_secrets_have_no_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"JWT_SECRET: \$\{JWT_SECRET:\?", text)
    assert "${RABBITMQ_PASSWORD:?" in text
    assert "guest" not in text
