"""The test session's suite: started once (lazily, by the first test that asks for it), shared
by every test, stopped at the end. Infrastructure is found or started exactly as ``make demo``
does (scripts/devstack.py), in a private RabbitMQ vhost and fresh databases."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack import Suite, make_token, running_suite

ROOT = Path(__file__).resolve().parent.parent

TokenFactory = Callable[..., str]


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
