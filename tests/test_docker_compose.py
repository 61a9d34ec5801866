"""docker-compose.yml cannot run here (no Docker engine), so its promises are checked by reading
it: every built service has its Dockerfile, ports and environment names match the settings the
processes really read, every service has a health check, and dependencies wait for health."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
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
STANDARD_NAMES = {
    "MONGODB_URL",
    "AMQP_URL",
    "JWT_SECRET",
    "JWT_JWKS_URL",
    "CRM_ENV",
    "CRM_INSTANCE",
    "LOG_LEVEL",
}


def test_the_suite_and_its_infrastructure_are_all_there() -> None:
    assert set(SERVICES) == {"mongodb", "rabbitmq", "hive-gateway", *PROCESSES}
    assert SERVICES["hive-gateway"]["profiles"] == ["hive"], "an opt-in alternative engine"
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
        if name == "gateway":
            assert SERVICES[name]["ports"] == ["${CRM_GATEWAY_PORT:-4000}:4000"]
        else:
            assert "ports" not in SERVICES[name], "only the gateway is published on the host"
        assert environment[f"{prefix}HOST"] == "0.0.0.0"
        assert str(default_port) in str(SERVICES[name]["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_dependencies_wait_until_healthy(name: str) -> None:
    depends = SERVICES[name]["depends_on"]
    assert depends, f"{name} depends on nothing"
    assert all(d["condition"] == "service_healthy" for d in depends.values())


def test_required_secrets_have_no_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    # Either token source may be used: both pass through empty when unset, and every process
    # refuses to start in production without one (tests/customers/test_customers_settings.py).
    assert "JWT_SECRET: ${JWT_SECRET:-}" in text
    assert "JWT_JWKS_URL: ${JWT_JWKS_URL:-}" in text
    assert "${RABBITMQ_PASSWORD:?" in text
    assert "guest" not in text


# --- rendered by a compose implementation ------------------------------------------------


def render(tmp_path: Path, **env: str) -> dict[str, Any]:
    """``podman-compose config``: interpolates variables and merges anchors as compose does.

    podman-compose asks ``podman version`` before any command; rendering needs no engine, so a
    stand-in answers that one question."""
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "podman").write_text('#!/bin/sh\necho "podman version 4.3.1"\n')
    (shim / "podman").chmod(0o755)
    environment = {
        "PATH": f"{shim}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "RABBITMQ_PASSWORD": "rabbit-secret",
        **env,
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "podman-compose"), "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rendered: dict[str, Any] = yaml.safe_load(done.stdout)
    return rendered


def test_rendered_only_the_gateway_is_published_on_a_port_of_choice(tmp_path: Path) -> None:
    services = render(tmp_path, JWT_SECRET="s" * 40)["services"]
    published = {name: spec["ports"] for name, spec in services.items() if spec.get("ports")}
    assert published == {"gateway": ["4000:4000"]}
    moved = render(tmp_path, JWT_SECRET="s" * 40, CRM_GATEWAY_PORT="8080")["services"]
    assert moved["gateway"]["ports"] == ["8080:4000"]


def test_rendered_jwks_works_without_editing_the_file(tmp_path: Path) -> None:
    services = render(tmp_path, JWT_JWKS_URL="https://idp.example/jwks")["services"]
    for name in PROCESSES:
        environment = services[name]["environment"]
        assert environment["JWT_JWKS_URL"] == "https://idp.example/jwks"
        assert environment["JWT_SECRET"] == "", "unset: the settings treat empty as unset"


def test_rendered_mongodb_is_healthy_only_as_primary(tmp_path: Path) -> None:
    check = " ".join(
        render(tmp_path, JWT_SECRET="s" * 40)["services"]["mongodb"]["healthcheck"]["test"]
    )
    assert "isWritablePrimary" in check
    assert "quit(" in check, "the check's exit status says whether this node is primary"


def test_hive_gateway_serves_the_registry_our_gateway_follows() -> None:
    hive = SERVICES["hive-gateway"]
    ours = SERVICES["gateway"]["environment"]
    assert ours["GATEWAY_REGISTRY_ENABLED"].endswith(":-true}")
    assert hive["environment"]["GATEWAY_REGISTRY_URL"] == ours["MONGODB_URL"]
    assert hive["depends_on"]["gateway"]["condition"] == "service_healthy"
    config = (ROOT / "tools" / "hive-gateway" / "gateway.config.mjs").read_text()
    for name in ("GATEWAY_REGISTRY_URL", "GATEWAY_REGISTRY_DATABASE", "GATEWAY_SUBGRAPH_URLS"):
        assert name in config
    dockerfile = (ROOT / hive["build"]["context"] / hive["build"]["dockerfile"]).read_text()
    assert "npm ci" in dockerfile
    assert "gateway.config.mjs" in dockerfile


def test_rendered_gateway_waits_for_the_worker(tmp_path: Path) -> None:
    depends = render(tmp_path, JWT_SECRET="s" * 40)["services"]["gateway"]["depends_on"]
    assert depends["analytics-worker"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_images_install_dependencies_in_a_cached_layer(name: str) -> None:
    build = SERVICES[name]["build"]
    text = (ROOT / build["context"] / build["dockerfile"]).read_text()
    dependencies = text.index("--no-install-workspace")
    sources = text.index("COPY libs/crm_common/ libs/crm_common/")
    assert dependencies < sources, "sources are copied after the dependency layer"
