"""The outbox across crashes: events written while no relay runs are published later, once,
in order, by a restarted API or by the standalone ``pipeline-relay`` process."""

from __future__ import annotations

import asyncio
from collections import Counter
from importlib.metadata import entry_points
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from pipeline_testkit import (
    Contracts,
    EventTap,
    GraphQLClient,
    PipelineApi,
    RunConfig,
    ServiceProcess,
    publish_customer_created,
)
from pymongo import AsyncMongoClient
from test_pipeline_api import CREATE, MOVE, opportunity_input

CREATED = "pipeline.opportunity.created"
STAGE_CHANGED = "pipeline.opportunity.stage_changed"


async def write_without_relay(
    config: RunConfig, amqp: AbstractRobustConnection, name: str
) -> tuple[PipelineApi, str]:
    """Start an API with its relay disabled, create and move an opportunity."""
    api = PipelineApi(config, name=name, PIPELINE_RELAY_ENABLED="false")
    await api.start_and_wait()
    gql = GraphQLClient(api.url, config.token("rep-7"))
    customer_id = await publish_customer_created(amqp, owner_id="rep-7")
    created = await gql.data(CREATE, {"input": opportunity_input(customer_id)})
    opportunity_id: str = created["createOpportunity"]["id"]
    await gql.data(
        MOVE, {"id": opportunity_id, "stageId": "default-negotiation", "expectedVersion": 1}
    )
    return api, opportunity_id


async def assert_pending(
    mongo: AsyncMongoClient[dict[str, Any]], config: RunConfig, oid: str
) -> None:
    doc = await mongo[config.database].opportunities.find_one({"_id": oid})
    assert doc is not None
    assert doc["outbox_pending"] is True
    assert [(e["type"], e["sequence"]) for e in doc["outbox"]] == [
        (CREATED, 1),
        (STAGE_CHANGED, 2),
    ]


async def assert_delivered_once_in_order(
    tap: EventTap,
    contracts: Contracts,
    mongo: AsyncMongoClient[dict[str, Any]],
    config: RunConfig,
    oid: str,
) -> None:
    await tap.wait_for(oid, STAGE_CHANGED, within=20)
    await tap.wait_for(oid, CREATED)
    await asyncio.sleep(2.5)  # a periodic sweep passes: it must not publish them again
    events = tap.about(oid)
    assert [e["sequence"] for e in events] == [1, 2]  # in order
    assert all(n == 1 for n in Counter(e["id"] for e in events).values())
    for event in events:
        contracts.validate(event)
        assert event["actorid"] == "rep-7"
    doc = await mongo[config.database].opportunities.find_one({"_id": oid})
    assert doc is not None
    assert doc["outbox"] == []
    assert "outbox_pending" not in doc


async def test_events_survive_a_crash_before_publishing(
    fresh_config: RunConfig,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    contracts: Contracts,
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    api, oid = await write_without_relay(fresh_config, amqp, "pipeline-api-no-relay")
    try:
        await assert_pending(mongo, fresh_config, oid)
        await asyncio.sleep(1)
        assert tap.about(oid) == []  # nothing published yet
    finally:
        api.kill()  # SIGKILL: a crash

    restarted = PipelineApi(fresh_config, name="pipeline-api-restarted")  # relay enabled
    await restarted.start_and_wait()
    try:
        await assert_delivered_once_in_order(tap, contracts, mongo, fresh_config, oid)
    finally:
        restarted.stop()


async def test_standalone_relay_process_publishes_pending_events(
    fresh_config: RunConfig,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    contracts: Contracts,
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("pipeline-relay") == "pipeline.entrypoints.relay:run"
    assert scripts.get("pipeline-api") == "pipeline.entrypoints.main:run"

    api, oid = await write_without_relay(fresh_config, amqp, "pipeline-api-no-relay")
    relay = ServiceProcess(
        "pipeline-relay",
        "pipeline.entrypoints.relay",
        fresh_config.env(PIPELINE_RELAY_POLL_INTERVAL="0.3"),
    )
    try:
        await assert_pending(mongo, fresh_config, oid)
        relay.start()
        await assert_delivered_once_in_order(tap, contracts, mongo, fresh_config, oid)
        assert relay.stop() == 0, relay.log_tail()  # SIGTERM: a clean stop
    finally:
        relay.stop()
        api.stop()
