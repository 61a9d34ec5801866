"""Fixtures for the analytics tests: real API and worker processes on the dev infrastructure.

Each pytest session uses a fresh database (``analytics_test_<run>``) and queues of its own
(``CRM_INSTANCE`` of the run; dead letters in ``<queue>.dlq``) in the session's private vhost, so
runs never share state or steal each other's messages.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from crm_common.amqp import EventPublisher, declare_consumer_queue
from crm_common.events import CloudEvent, iso, new_event
from crm_common.identity import mint_token
from crm_common.topology import ANALYTICS_EVENTS
from crmstack.processes import ManagedProcess
from support.infrastructure import Infrastructure
from support.polling import eventually

BIN = Path(sys.executable).parent
ROUTING_KEYS = ANALYTICS_EVENTS.routing_keys

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunConfig:
    run_id: str
    database: str
    instance: str
    jwt_secret: str
    api_port: int
    log_dir: Path

    @property
    def queue(self) -> str:
        return ANALYTICS_EVENTS.name(self.instance)

    @property
    def dlq(self) -> str:
        return f"{self.queue}.dlq"

    @property
    def heartbeat_path(self) -> Path:
        return self.log_dir / "analytics-worker.heartbeat"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "MONGODB_URL": os.environ["MONGODB_URL"],
                "AMQP_URL": os.environ["AMQP_URL"],
                "CRM_INSTANCE": self.instance,
                "JWT_SECRET": self.jwt_secret,
                "CRM_ENV": "test",
                "ANALYTICS_DATABASE": self.database,
                "ANALYTICS_HOST": "127.0.0.1",
                "ANALYTICS_PORT": str(self.api_port),
                "ANALYTICS_PREFETCH": "16",
                "ANALYTICS_MAX_ATTEMPTS": "3",
                "ANALYTICS_HEARTBEAT_PATH": str(self.heartbeat_path),
                "ANALYTICS_HEARTBEAT_SECONDS": "0.5",
                "LOG_LEVEL": "INFO",
            }
        )
        return env

    def token(self, roles: list[str], user_id: str = "manager-1") -> str:
        return mint_token(self.jwt_secret, user_id=user_id, roles=roles)


class ServiceProcess(ManagedProcess):
    """A service process started from its console script, logging to ``<name>.log``."""

    def __init__(self, name: str, script: str, config: RunConfig) -> None:
        super().__init__(name, [str(BIN / script)], config.env(), config.log_dir / f"{name}.log")
        self.config = config

    def start(self, timeout: float | None = None, **env: str) -> ServiceProcess:  # type: ignore[override]
        """Start the process; ``env`` adds or overrides environment variables for this run."""
        super().start(timeout, env)
        return self

    def ensure_running(self) -> None:
        if not self.running:
            self.start()


@pytest.fixture(scope="session")
def run_config(
    tmp_path_factory: pytest.TempPathFactory, infrastructure: Infrastructure
) -> RunConfig:
    run_id = uuid.uuid4().hex[:10]
    return RunConfig(
        run_id=run_id,
        database=f"analytics_test_{run_id}",
        instance=f"{infrastructure.instance}-analytics-{run_id}",
        jwt_secret=f"analytics-test-secret-{run_id}-0123456789abcdef",
        api_port=free_port(),
        log_dir=tmp_path_factory.mktemp("analytics-logs"),
    )


@pytest.fixture(scope="session")
async def amqp_connection(run_config: RunConfig) -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(os.environ["AMQP_URL"])
    channel = await connection.channel()
    # Declare the worker's queue (same arguments as the worker) before anything is published,
    # so no test event is lost while the worker is still starting or is down.
    await declare_consumer_queue(channel, run_config.queue, ROUTING_KEYS)
    try:
        yield connection
    finally:
        await channel.queue_delete(run_config.queue)
        await channel.queue_delete(run_config.dlq)
        await channel.close()
        await connection.close()


@pytest.fixture(scope="session")
async def mongo_db(run_config: RunConfig) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        os.environ["MONGODB_URL"], tz_aware=True
    )
    try:
        yield client[run_config.database]
    finally:
        try:
            await client.drop_database(run_config.database)
        except PyMongoError as exc:
            # Clean-up of a scratch database at the end of the session: the stand-in has
            # been seen to close the connection on a large drop; every test has already run.
            warnings.warn(f"could not drop {run_config.database}: {exc!r}", stacklevel=1)
        await client.close()


@pytest.fixture(scope="session")
async def publisher(
    amqp_connection: AbstractRobustConnection, run_config: RunConfig
) -> AsyncIterator[EventPublisher]:
    publisher = EventPublisher(amqp_connection, instance=run_config.instance)
    try:
        yield publisher
    finally:
        await publisher.close()


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Awaitable[Any]]:
    return eventually


async def wait_ready(url: str, process: ServiceProcess, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if not process.running:
                pytest.fail(f"{process.name} exited early:\n{process.log_tail()}")
            try:
                if (await client.get(f"{url}/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    pytest.fail(f"{process.name} not ready within {within}s:\n{process.log_tail()}")


@pytest.fixture(scope="session")
async def api(
    run_config: RunConfig, amqp_connection: AbstractRobustConnection, mongo_db: Any
) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess("analytics-api", "analytics-api", run_config)
    process.start()
    try:
        await wait_ready(run_config.api_url, process)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def worker_process(
    run_config: RunConfig, amqp_connection: AbstractRobustConnection, mongo_db: Any
) -> Iterator[ServiceProcess]:
    process = ServiceProcess("analytics-worker", "analytics-worker", run_config)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def worker(worker_process: ServiceProcess) -> ServiceProcess:
    """The worker, (re)started if an earlier test stopped or killed it."""
    worker_process.ensure_running()
    return worker_process


class GraphQLClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(
                f"{self.url}/graphql",
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {self.token}"},
            )

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        return response.json()

    async def funnel(self, pipeline_id: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(FUNNEL_QUERY, {"pipelineId": pipeline_id, **variables})
        assert "errors" not in body, body
        report: dict[str, Any] = body["data"]["funnel"]
        return report


FUNNEL_QUERY = """
query Funnel($pipelineId: ID!, $from: DateTime, $to: DateTime,
             $method: ConversionMethod, $ownerId: ID) {
  funnel(pipelineId: $pipelineId, from: $from, to: $to, method: $method, ownerId: $ownerId) {
    pipelineId method won lost
    steps { stageId stageName entered advanced conversionRate cumulativeRate }
  }
}
"""


@pytest.fixture
def graphql(api: ServiceProcess, run_config: RunConfig) -> GraphQLClient:
    return GraphQLClient(run_config.api_url, run_config.token(["admin"]))


def stage(stage_id: str, name: str, order: int, kind: str, probability: float) -> dict[str, Any]:
    return {"id": stage_id, "name": name, "order": order, "kind": kind, "probability": probability}


class PipelineScenario:
    """Builds ``pipeline.opportunity.*`` CloudEvents exactly as docs/CONVENTIONS.md defines them.

    Every scenario has its own pipeline id (the default B2B stages), so tests sharing the worker
    and the database never see each other's deals.
    """

    def __init__(self) -> None:
        self.pipeline_id = f"pipeline-{uuid.uuid4()}"
        prefix = self.pipeline_id[-8:]
        self.stages = [
            stage(f"{prefix}-initial", "Initial contact", 1, "OPEN", 0.1),
            stage(f"{prefix}-needs", "Needs analysis", 2, "OPEN", 0.25),
            stage(f"{prefix}-proposal", "Proposal", 3, "OPEN", 0.5),
            stage(f"{prefix}-negotiation", "Negotiation", 4, "OPEN", 0.75),
            stage(f"{prefix}-won", "Won", 5, "WON", 1.0),
            stage(f"{prefix}-lost", "Lost", 6, "LOST", 0.0),
        ]
        self._deals: dict[str, dict[str, Any]] = {}

    def stage(self, name: str) -> dict[str, Any]:
        return next(s for s in self.stages if s["name"] == name)

    def _event(self, opportunity_id: str, event_type: str, at: datetime) -> CloudEvent:
        deal = self._deals[opportunity_id]
        deal["sequence"] += 1
        data = {
            "opportunityId": opportunity_id,
            "customerId": deal["customerId"],
            "pipelineId": self.pipeline_id,
            "ownerId": deal["ownerId"],
            "title": deal["title"],
            "amount": {"amount": "1200.00", "currency": "EUR"},
            "status": deal["status"],
            "fromStage": deal["fromStage"],
            "toStage": deal["stage"],
            "stages": self.stages,
            "changedAt": iso(at),
        }
        return new_event(
            source="/crm/pipeline",
            type=event_type,
            subject=opportunity_id,
            sequence=deal["sequence"],
            data=data,
            actor_id=deal["ownerId"],
            at=at,
        )

    def create(
        self, *, stage: str = "Initial contact", owner: str = "rep-1", at: datetime | None = None
    ) -> tuple[str, CloudEvent]:
        opportunity_id = str(uuid.uuid4())
        to_stage = self.stage(stage)
        self._deals[opportunity_id] = {
            "customerId": str(uuid.uuid4()),
            "ownerId": owner,
            "title": f"Deal {opportunity_id[:8]}",
            "status": {"OPEN": "OPEN", "WON": "WON", "LOST": "LOST"}[to_stage["kind"]],
            "fromStage": None,
            "stage": to_stage,
            "sequence": 0,
        }
        return opportunity_id, self._event(
            opportunity_id, "pipeline.opportunity.created", at or datetime.now(UTC)
        )

    def move(self, opportunity_id: str, stage: str, at: datetime | None = None) -> CloudEvent:
        deal = self._deals[opportunity_id]
        to_stage = self.stage(stage)
        deal["fromStage"], deal["stage"] = deal["stage"], to_stage
        deal["status"] = to_stage["kind"]
        return self._event(
            opportunity_id, "pipeline.opportunity.stage_changed", at or datetime.now(UTC)
        )


@pytest.fixture
def scenario() -> PipelineScenario:
    return PipelineScenario()
