"""Helpers for the pipeline tests: run the real service as a subprocess, talk GraphQL to it,
tap the events it publishes on ``crm.events``, and validate them against contracts/."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import yaml
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from crm_common.amqp import EventPublisher
from crm_common.events import EXCHANGE, new_event
from crm_common.identity import mint_token
from crm_common.topology import PIPELINE_CUSTOMER_EVENTS
from crmstack.ports import free_port
from crmstack.processes import ManagedProcess

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"


def mongodb_url() -> str:
    """The session's MongoDB (exported by the ``infrastructure`` fixture of tests/conftest.py)."""
    return os.environ["MONGODB_URL"]


def amqp_url() -> str:
    """The session's private RabbitMQ virtual host (exported like ``mongodb_url``)."""
    return os.environ["AMQP_URL"]


def log_dir() -> Path:
    return Path(os.environ.get("PIPELINE_TEST_LOG_DIR", "/tmp/pipeline-test-logs"))


@dataclass
class RunConfig:
    """One test run's private names: database, queue, secret."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    jwt_secret: str = field(default_factory=lambda: "test-" + uuid.uuid4().hex * 2)

    @property
    def database(self) -> str:
        return f"test_pipeline_{self.run_id}"

    @property
    def instance(self) -> str:
        return f"test-pipeline-{self.run_id}"

    @property
    def customer_queue(self) -> str:
        return PIPELINE_CUSTOMER_EVENTS.name(self.instance)

    def env(self, **overrides: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "MONGODB_URL": mongodb_url(),
                "AMQP_URL": amqp_url(),
                "CRM_INSTANCE": self.instance,
                "JWT_SECRET": self.jwt_secret,
                "CRM_ENV": "test",
                "PIPELINE_HOST": "127.0.0.1",
                "PIPELINE_DATABASE": self.database,
            }
        )
        env.update(overrides)
        return env

    def token(
        self, user_id: str = "rep-1", roles: list[str] | None = None, team: str | None = None
    ) -> str:
        return mint_token(self.jwt_secret, user_id=user_id, roles=roles or ["rep"], team=team)


class ServiceProcess(ManagedProcess):
    """``python -m <module>`` with the run's environment, logs in ``log_dir()``."""

    def __init__(self, name: str, module: str, env: Mapping[str, str]) -> None:
        self.module = module
        super().__init__(
            name,
            [sys.executable, "-m", module],
            env,
            log_dir() / f"{name}-{uuid.uuid4().hex[:6]}.log",
            cwd=ROOT,
        )

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.process

    def start(self, timeout: float | None = None) -> ServiceProcess:
        super().start(timeout)
        return self

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM (the process's own clean shutdown), SIGKILL after ``timeout``."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


class PipelineApi(ServiceProcess):
    def __init__(self, config: RunConfig, name: str = "pipeline-api", **env: str) -> None:
        self.port = free_port()
        super().__init__(
            name,
            "pipeline.entrypoints.main",
            config.env(PIPELINE_PORT=str(self.port), **env),
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def start_and_wait(self, within: float = 40) -> None:
        self.start()
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.returncode is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"{self.url}/health/ready", timeout=2)
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {within}s:\n{self.log_tail()}")


class GraphQLClient:
    def __init__(
        self, url: str, token: str | None, headers: Mapping[str, str] | None = None
    ) -> None:
        self.url = url
        self.token = token
        self.headers = dict(headers or {})

    async def raw(
        self, query: str, variables: Mapping[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = dict(self.headers)
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(
                f"{self.url}/graphql",
                json={"query": query, "variables": dict(variables or {})},
                headers=headers,
            )

    async def __call__(
        self, query: str, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.raw(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        body = await self(query, variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def error_code(self, query: str, variables: Mapping[str, Any] | None = None) -> str:
        body = await self(query, variables)
        assert body.get("errors"), f"expected an error, got {body}"
        code: str = body["errors"][0]["extensions"]["code"]
        return code


class EventTap:
    """An exclusive queue bound to ``crm.events`` that records every message it receives."""

    def __init__(self, connection: AbstractRobustConnection, routing_key: str) -> None:
        self._connection = connection
        self._routing_key = routing_key
        self.events: list[dict[str, Any]] = []
        self.messages: list[AbstractIncomingMessage] = []
        self._arrived = asyncio.Condition()

    async def start(self) -> None:
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=self._routing_key)
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        async with self._arrived:
            self.messages.append(message)
            self.events.append(json.loads(message.body))
            self._arrived.notify_all()

    def about(self, subject: str, type_: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("subject") == subject and (type_ is None or e.get("type") == type_)
        ]

    async def wait_for(
        self, subject: str, type_: str, count: int = 1, within: float = 10
    ) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]]:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.about(subject, type_)) >= count)
            return self.about(subject, type_)

        try:
            return await asyncio.wait_for(enough(), within)
        except TimeoutError:
            raise AssertionError(
                f"no {count} {type_} event(s) for {subject} within {within}s; "
                f"got {[(e.get('type'), e.get('sequence')) for e in self.about(subject)]}"
            ) from None


async def publish_customer_created(
    connection: AbstractRobustConnection,
    customer_id: str | None = None,
    name: str = "ACME",
    *,
    owner_id: str = "rep-1",
    team: str | None = None,
) -> str:
    """What the customers service publishes when a customer is created (owned by
    ``owner_id``, of ``team``: who may open deals on it)."""
    customer_id = customer_id or str(uuid.uuid4())
    publisher = EventPublisher(connection)
    try:
        await publisher.publish(
            new_event(
                source="crm/customers",
                type="customers.customer.created",
                subject=customer_id,
                sequence=1,
                data={
                    "customerId": customer_id,
                    "name": name,
                    "kind": "COMPANY",
                    "ownerId": owner_id,
                    "lifecycle": "PROSPECT",
                    **({"team": team} if team else {}),
                },
                actor_id=owner_id,
            )
        )
    finally:
        await publisher.close()
    return customer_id


# -- contracts -----------------------------------------------------------------------------


def _load_contract(uri: str) -> Resource[Any]:
    path = CONTRACTS / uri.removeprefix("file://contracts/")
    return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7)


class Contracts:
    """Validates events against the message payload schemas of contracts/asyncapi.yaml
    (envelope + per-type ``data``, resolved through the $refs exactly as written)."""

    def __init__(self) -> None:
        self.asyncapi = yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text())
        registry: Registry[Any] = Registry(retrieve=_load_contract)  # type: ignore[call-arg]
        self.validators: dict[str, Draft7Validator] = {}
        for message in self.asyncapi["components"]["messages"].values():
            payload = message["payload"]
            assert payload["schemaFormat"].startswith("application/schema+json")
            schema = {"$id": "file://contracts/asyncapi.yaml", **payload["schema"]}
            self.validators[message["name"]] = Draft7Validator(
                schema, registry=registry, format_checker=FormatChecker()
            )

    def validate(self, event: Mapping[str, Any]) -> None:
        validator = self.validators.get(str(event.get("type")))
        assert validator is not None, f"no contract for event type {event.get('type')!r}"
        errors = sorted(validator.iter_errors(event), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
