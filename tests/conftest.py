"""The test session's suite: started once (lazily, by the first test that asks for it), shared
by every test, stopped at the end. Infrastructure is found or started exactly as ``make demo``
does (scripts/devstack.py), in a private RabbitMQ vhost and fresh databases."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack import (
    DEFAULT_AMQP_URL,
    DEFAULT_MONGODB_URL,
    Database,
    Suite,
    ensure_mongodb,
    ensure_rabbitmq,
    make_token,
    running_suite,
)

ROOT = Path(__file__).resolve().parent.parent

TokenFactory = Callable[..., str]

_STAND_IN: list[Database] = []


def _find_infrastructure() -> None:
    """The same discovery as ``make demo``, once, before any test kit is imported: the
    per-service test kits read ``MONGODB_URL`` and ``AMQP_URL`` at import time, so a fresh
    machine (no MongoDB, maybe no broker running) gets them here.

    It runs when this module is imported, not in ``pytest_configure``: for
    ``pytest tests/pipeline`` pytest imports ``tests/pipeline/conftest.py`` (and its test kit)
    before any ``pytest_configure`` hook runs, but always after this parent conftest."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    ensure_rabbitmq(os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL)
    log_dir = ROOT / ".run" / f"test-logs-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    database = ensure_mongodb(os.environ.get("MONGODB_URL") or DEFAULT_MONGODB_URL, None, log_dir)
    if database.process is not None:
        _STAND_IN.append(database)
    os.environ["MONGODB_URL"] = database.url


_find_infrastructure()


def pytest_unconfigure(config: pytest.Config) -> None:
    while _STAND_IN:
        _STAND_IN.pop().stop()


@pytest.fixture(scope="session")
def suite() -> Iterator[Suite]:
    log_dir = ROOT / ".run" / f"test-logs-{os.getpid()}"
    with running_suite(for_tests=True, log_dir=log_dir) as running:
        yield running


@pytest.fixture(scope="session")
def token() -> TokenFactory:
    """``token("rep", user_id="rep-7", team="north")`` mints a development JWT."""

    def factory(
        role: str = "admin", user_id: str | None = None, team: str | None = "team-1"
    ) -> str:
        return make_token(role, user_id, team)

    return factory
