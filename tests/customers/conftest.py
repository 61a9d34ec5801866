"""Fixtures of the customers tests: the real service as a uvicorn subprocess.

Infrastructure is the session's (``tests/conftest.py``: a private vhost, a stand-in or the
MongoDB at ``MONGODB_URL``). The service gets a database of its own per test session, dropped at
the end. Only this service runs: the whole suite is ``tests/conftest.py``'s.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from customers_client import JWT_SECRET, CustomersApi
from pymongo import MongoClient

from crmstack.processes import ManagedProcess
from support.infrastructure import Infrastructure

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def customers_api(infrastructure: Infrastructure) -> Iterator[CustomersApi]:
    database = f"test_customers_{uuid.uuid4().hex[:12]}"
    port = _free_port()
    env = {
        **os.environ,
        "MONGODB_URL": infrastructure.mongodb_url,
        "AMQP_URL": infrastructure.amqp_url,
        "JWT_SECRET": JWT_SECRET,
        "CRM_ENV": "test",
        "CUSTOMERS_HOST": "127.0.0.1",
        "CUSTOMERS_PORT": str(port),
        "CUSTOMERS_DATABASE": database,
        "CRM_INSTANCE": f"{infrastructure.instance}-customers",
        # No periodic sweep during the tests: a write's events go out through the relay's
        # fast path, which reads nothing, so that command counts are exact.
        "CUSTOMERS_RELAY_POLL_INTERVAL": "600",
        # Likewise the recovery passes (audit entries, unfinished merges): only the first.
        "CUSTOMERS_RECOVERY_INTERVAL": "600",
        # Likewise the look for follow-ups that came due (tests/workspace checks it).
        "CUSTOMERS_TASK_DUE_INTERVAL": "600",
    }
    log_path = infrastructure.log_dir / "customers-api.log"
    process = ManagedProcess(
        "customers-api",
        [sys.executable, "-m", "customers.entrypoints.main"],
        env,
        log_path,
        ready_url=f"http://127.0.0.1:{port}/health/ready",
    )
    mongo: MongoClient[dict[str, Any]] = MongoClient(infrastructure.mongodb_url, tz_aware=True)
    api = CustomersApi(
        url=f"http://127.0.0.1:{port}", database=database, mongo=mongo, log_path=log_path
    )
    try:
        process.start(timeout=60)
        yield api
    finally:
        process.stop(grace=15)
        mongo.drop_database(database)
        mongo.close()


@pytest.fixture
def unique_user() -> Callable[[], str]:
    """Fresh owner ids, so that tests filtering by owner see only their own customers."""
    return lambda: f"user-{uuid.uuid4().hex[:10]}"
