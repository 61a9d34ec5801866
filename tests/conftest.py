"""The test session's infrastructure and suite, both started lazily by the first test that asks.

Nothing starts when this module is imported: ``pytest --collect-only`` and the pure tests of
the domain and the planner run on a bare machine (``pytest -m "not infra"``). A test that needs
RabbitMQ or MongoDB asks for the ``infrastructure`` fixture (directly or through another
fixture); such tests are marked ``infra`` automatically. Infrastructure is found or started
exactly as ``make demo`` does (scripts/devstack.py), in a private RabbitMQ virtual host and
fresh databases, so a test run never meets a demo or another run on the same broker.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack import (
    DEFAULT_AMQP_URL,
    DEFAULT_MONGODB_URL,
    Suite,
    ensure_mongodb,
    ensure_rabbitmq,
    make_token,
    private_vhost,
    running_suite,
)
from support.infrastructure import Infrastructure

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
#: Log folders of earlier runs that are kept (the newest ones); older ones are removed.
KEPT_LOG_DIRS = 3

TokenFactory = Callable[..., str]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "infra: needs RabbitMQ and MongoDB (set automatically from the fixtures)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "infrastructure" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.infra)


def _session_log_dir() -> Path:
    RUN_DIR.mkdir(exist_ok=True)
    earlier = sorted(RUN_DIR.glob("test-logs-*"), key=lambda path: path.stat().st_mtime)
    for old in earlier[: max(0, len(earlier) - (KEPT_LOG_DIRS - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    log_dir = RUN_DIR / f"test-logs-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    """RabbitMQ (a private vhost, deleted at the end) and MongoDB, found or started once.

    ``MONGODB_URL`` and ``AMQP_URL`` are exported for the per-service test kits and the
    processes they start."""
    log_dir = _session_log_dir()
    instance = f"test-{uuid.uuid4().hex[:8]}"
    broker = private_vhost(
        ensure_rabbitmq(os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL), f"crm-{instance}"
    )
    saved = {name: os.environ.get(name) for name in ("MONGODB_URL", "AMQP_URL")}
    try:
        database = ensure_mongodb(
            os.environ.get("MONGODB_URL") or DEFAULT_MONGODB_URL, None, log_dir
        )
        try:
            os.environ["MONGODB_URL"] = database.url
            os.environ["AMQP_URL"] = broker.url
            yield Infrastructure(database.url, broker.url, log_dir, instance)
        finally:
            database.stop()
    finally:
        broker.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def mongodb_url(infrastructure: Infrastructure) -> str:
    return infrastructure.mongodb_url


@pytest.fixture(scope="session")
def amqp_url(infrastructure: Infrastructure) -> str:
    return infrastructure.amqp_url


@pytest.fixture(scope="session")
def suite(infrastructure: Infrastructure) -> Iterator[Suite]:
    """The whole suite (three subgraphs, the worker, the gateway), once per session."""
    with running_suite(
        mongodb_url=infrastructure.mongodb_url,
        amqp_url=infrastructure.amqp_url,
        log_dir=infrastructure.log_dir / "suite",
        instance=f"{infrastructure.instance}-suite",
    ) as running:
        yield running


@pytest.fixture(scope="session")
def token() -> TokenFactory:
    """``token("rep", user_id="rep-7", team="north")`` mints a development JWT."""

    def factory(
        role: str = "admin", user_id: str | None = None, team: str | None = "team-1"
    ) -> str:
        return make_token(role, user_id, team)

    return factory
