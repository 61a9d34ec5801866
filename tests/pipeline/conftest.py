"""Fixtures of the pipeline tests: the real pipeline API as a uvicorn subprocess against the
dev MongoDB (SecantusDB) and RabbitMQ, with a fresh database and queue per run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from pipeline_testkit import (
    Contracts,
    EventTap,
    GraphQLClient,
    PipelineApi,
    RunConfig,
    amqp_url,
    mongodb_url,
)
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from support.infrastructure import Infrastructure


@pytest.fixture(scope="session")
def contracts() -> Contracts:
    return Contracts()


@pytest.fixture(scope="session")
async def amqp(infrastructure: Infrastructure) -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(amqp_url())
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
async def mongo(infrastructure: Infrastructure) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url(), tz_aware=True)
    yield client
    await client.close()


@pytest.fixture(scope="session")
async def tap(amqp: AbstractRobustConnection) -> EventTap:
    """Every pipeline.opportunity.* event published while the tests run."""
    event_tap = EventTap(amqp, "pipeline.opportunity.#")
    await event_tap.start()
    return event_tap


async def _cleanup(
    config: RunConfig, mongo: AsyncMongoClient[dict[str, Any]], amqp: AbstractRobustConnection
) -> None:
    await mongo.drop_database(config.database)
    # After a broker restart the robust connection takes a few seconds to come back.
    await asyncio.wait_for(amqp.connected.wait(), 60)
    channel = await amqp.channel()
    with contextlib.suppress(Exception):
        await channel.queue_delete(config.customer_queue)
        await channel.queue_delete(f"{config.customer_queue}.dlq")
    with contextlib.suppress(Exception):
        await channel.close()


@pytest.fixture(scope="session")
async def run_config(
    mongo: AsyncMongoClient[dict[str, Any]], amqp: AbstractRobustConnection
) -> AsyncIterator[RunConfig]:
    config = RunConfig()
    yield config
    await _cleanup(config, mongo, amqp)


@pytest.fixture(scope="session")
async def pipeline_api(run_config: RunConfig, tap: EventTap) -> AsyncIterator[PipelineApi]:
    """The service under test. The relay's periodic sweep is slowed down so that MongoDB
    command counts measured by a test are not disturbed by it; it is still woken after each
    write."""
    api = PipelineApi(run_config, PIPELINE_RELAY_POLL_INTERVAL="3600")
    await api.start_and_wait()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def gql(pipeline_api: PipelineApi, run_config: RunConfig) -> GraphQLClient:
    return GraphQLClient(pipeline_api.url, run_config.token("rep-1"))


@pytest.fixture(scope="session")
def admin_gql(pipeline_api: PipelineApi, run_config: RunConfig) -> GraphQLClient:
    return GraphQLClient(pipeline_api.url, run_config.token("admin-1", ["admin"], "team-1"))


@pytest.fixture(scope="session")
def manager_gql(pipeline_api: PipelineApi, run_config: RunConfig) -> GraphQLClient:
    return GraphQLClient(pipeline_api.url, run_config.token("manager-1", ["manager"], "team-1"))


@pytest.fixture(scope="session")
def db(
    mongo: AsyncMongoClient[dict[str, Any]], run_config: RunConfig
) -> AsyncDatabase[dict[str, Any]]:
    return mongo[run_config.database]


@pytest.fixture
async def fresh_config(
    mongo: AsyncMongoClient[dict[str, Any]], amqp: AbstractRobustConnection
) -> AsyncIterator[RunConfig]:
    """A database and queue of its own, for tests that crash and restart processes."""
    config = RunConfig()
    yield config
    await _cleanup(config, mongo, amqp)
