"""Fixtures of the customers tests: the real service as a uvicorn subprocess.

Infrastructure is found or started as ``scripts/devstack.py`` does: the MongoDB answering at
``MONGODB_URL`` (else the development SecantusDB on 27099, else a stand-in started here) and the
RabbitMQ at ``AMQP_URL`` in a private vhost. The service gets a database of its own per test
session, dropped at the end. Only this service runs: the whole suite is ``tests/conftest.py``'s.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from crm_common.identity import mint_token
from devstack import DEFAULT_AMQP_URL, ensure_mongodb, ensure_rabbitmq, isolated_vhost

ROOT = Path(__file__).resolve().parents[2]
DEV_MONGODB_URL = "mongodb://127.0.0.1:27099/?retryWrites=false"
JWT_SECRET = "customers-tests-secret-" + uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class CustomersApi:
    url: str
    database: str
    mongo: MongoClient[dict[str, Any]]
    log_path: Path

    def token(
        self, user_id: str = "rep-1", roles: tuple[str, ...] = ("rep",), team: str | None = None
    ) -> str:
        return mint_token(
            JWT_SECRET, user_id=user_id, roles=list(roles), name=f"User {user_id}", team=team
        )

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        user_id: str = "rep-1",
        roles: tuple[str, ...] = ("rep",),
    ) -> dict[str, Any]:
        """Posts a GraphQL document and returns the JSON body (asserting HTTP 200)."""
        bearer = token or self.token(user_id, roles)
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def command_count(self, command: str) -> float:
        """``crm_mongo_commands_total`` of the service for one command on its database."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (
                    sample.name == "crm_mongo_commands_total"
                    and sample.labels.get("command") == command
                    and sample.labels.get("database") == self.database
                ):
                    return float(sample.value)
        return 0.0

    @property
    def collection(self) -> Any:
        return self.mongo[self.database]["customers"]


@dataclass(frozen=True)
class Infrastructure:
    mongodb_url: str
    amqp_url: str
    log_dir: Path


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    log_dir = ROOT / ".run" / f"customers-test-logs-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    broker = isolated_vhost(ensure_rabbitmq(os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL))
    try:
        database = ensure_mongodb(os.environ.get("MONGODB_URL") or DEV_MONGODB_URL, None, log_dir)
        try:
            yield Infrastructure(database.url, broker.url, log_dir)
        finally:
            database.stop()
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def mongodb_url(infrastructure: Infrastructure) -> str:
    return infrastructure.mongodb_url


@pytest.fixture(scope="session")
def amqp_url(infrastructure: Infrastructure) -> str:
    return infrastructure.amqp_url


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
        # No periodic sweep during the tests: a write's events go out through the relay's
        # fast path, which reads nothing, so that command counts are exact.
        "CUSTOMERS_RELAY_POLL_INTERVAL": "600",
        # Likewise the recovery passes (audit entries, unfinished merges): only the first.
        "CUSTOMERS_RECOVERY_INTERVAL": "600",
    }
    log_path = infrastructure.log_dir / "customers-api.log"
    log_file = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "customers.entrypoints.main"],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    mongo: MongoClient[dict[str, Any]] = MongoClient(infrastructure.mongodb_url, tz_aware=True)
    api = CustomersApi(url=url, database=database, mongo=mongo, log_path=log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"customers-api exited early:\n{api.log_path.read_text()}")
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"customers-api not ready:\n{api.log_path.read_text()}")
            time.sleep(0.2)
        yield api
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()
        mongo.drop_database(database)
        mongo.close()


@pytest.fixture
def unique_user() -> Callable[[], str]:
    """Fresh owner ids, so that tests filtering by owner see only their own customers."""
    return lambda: f"user-{uuid.uuid4().hex[:10]}"
