"""Reliability through real processes: a broker outage while moves keep coming, a SIGKILLed
relay and a SIGKILLed API mid-stream. Every accepted move's event must arrive, in order per
opportunity, none lost (duplicates allowed, with the same id).

The broker is shared with other runs on the machine, so the outage test never stops it: the API
reaches the broker through a TCP proxy the test owns and cuts for a few seconds (every connection
dropped, new ones refused), which is what the API sees of a broker outage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from pipeline_testkit import (
    GraphQLClient,
    PipelineApi,
    RunConfig,
    ServiceProcess,
    amqp_url,
    publish_customer_created,
)
from pymongo import AsyncMongoClient
from test_pipeline_api import CREATE, MOVE, opportunity_input

from crm_common.events import EXCHANGE
from crm_common.outbox import OUTBOX, OUTBOX_PENDING
from support.tcp_proxy import CuttableProxy

OPEN_STAGES = [
    "default-initial-contact",
    "default-needs-analysis",
    "default-proposal",
    "default-negotiation",
]
FAST_RELAY = {"PIPELINE_RELAY_POLL_INTERVAL": "0.5", "PIPELINE_RELAY_MAX_BACKOFF": "1"}


class DurableTap:
    """A durable queue bound to pipeline.opportunity.# that outlives a broker restart (an
    exclusive queue would vanish with the broker and miss what was published meanwhile)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []

    async def declare(self) -> None:
        connection = await aio_pika.connect(amqp_url())
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(self.name, durable=True)
            await queue.bind(exchange, routing_key="pipeline.opportunity.#")

    async def collect_until(self, expected: set[tuple[str, int]], within: float = 60) -> None:
        """Read the queue until every (subject, sequence) in ``expected`` arrived."""
        deadline = time.monotonic() + within
        connection = await connect_when_up(within)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.name, durable=True)
            while True:
                message = await queue.get(fail=False, no_ack=True)
                if message is not None:
                    self.events.append(json.loads(message.body))
                    continue
                if expected <= self.seen():
                    return
                if time.monotonic() > deadline:
                    missing = sorted(expected - self.seen())
                    raise AssertionError(f"{len(missing)} accepted events never arrived: {missing}")
                await asyncio.sleep(0.1)

    def seen(self) -> set[tuple[str, int]]:
        return {(e["subject"], e["sequence"]) for e in self.events}

    async def delete(self) -> None:
        with contextlib.suppress(Exception):
            connection = await aio_pika.connect(amqp_url())
            async with connection:
                channel = await connection.channel()
                await channel.queue_delete(self.name)

    def assert_in_order_without_gaps(self, subjects: set[str]) -> None:
        ids: dict[tuple[str, int], str] = {}
        for subject in subjects:
            arrived: list[int] = []
            for event in self.events:
                if event["subject"] != subject:
                    continue
                key = (subject, event["sequence"])
                assert ids.setdefault(key, event["id"]) == event["id"], "a duplicate changed id"
                if event["sequence"] not in arrived:
                    arrived.append(event["sequence"])
            # First arrivals in order, and every version from 1 on: nothing lost in between.
            assert arrived == list(range(1, len(arrived) + 1)), (subject, arrived)


async def connect_when_up(within: float = 60) -> aio_pika.abc.AbstractConnection:
    deadline = time.monotonic() + within
    while True:
        try:
            return await aio_pika.connect(amqp_url(), timeout=3)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@dataclass
class Mover:
    """Keeps moving opportunities to their next stage, about ``rate`` moves per second,
    recording every move the API accepted as (opportunity id, version)."""

    url: str
    token: str
    opportunity_ids: list[str]
    rate: float = 25.0
    accepted: set[tuple[str, int]] = field(default_factory=set)
    failed: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """One worker per opportunity (a deal's moves are sequential, like a user's)."""
        async with httpx.AsyncClient(timeout=3) as client:
            await asyncio.gather(*(self._work(client, oid) for oid in self.opportunity_ids))

    async def _work(self, client: httpx.AsyncClient, oid: str) -> None:
        current = 0
        pause = len(self.opportunity_ids) / self.rate
        while not self._stop.is_set():
            target = (current + 1) % len(OPEN_STAGES)
            try:
                response = await client.post(
                    f"{self.url}/graphql",
                    json={
                        "query": MOVE,
                        "variables": {"id": oid, "stageId": OPEN_STAGES[target]},
                    },
                    headers={"Authorization": f"Bearer {self.token}"},
                )
                moved = response.json()["data"]["moveOpportunity"]
                self.accepted.add((oid, moved["version"]))
                current = target
            except Exception:
                self.failed += 1  # not accepted (or unknown): not counted
                await asyncio.sleep(0.1)
            await asyncio.sleep(pause)

    def stop(self) -> None:
        self._stop.set()


async def opportunities_of(
    api: PipelineApi, config: RunConfig, amqp: AbstractRobustConnection, n: int
) -> list[str]:
    gql = GraphQLClient(api.url, config.token("rep-1"))
    customer_id = await publish_customer_created(amqp)
    ids = []
    for _ in range(n):
        created = await gql.data(CREATE, {"input": opportunity_input(customer_id)})
        ids.append(created["createOpportunity"]["id"])
    return ids


@pytest.fixture
async def durable_tap(fresh_config: RunConfig) -> AsyncIterator[DurableTap]:
    tap = DurableTap(f"test-pipeline-{fresh_config.run_id}.reliability-tap")
    await tap.declare()
    yield tap
    await tap.delete()


async def test_a_broker_outage_delays_events_but_loses_none(
    fresh_config: RunConfig,
    amqp: AbstractRobustConnection,
    durable_tap: DurableTap,
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    proxy = CuttableProxy.for_url(amqp_url())
    await proxy.start()
    api = PipelineApi(
        fresh_config,
        name="pipeline-api-outage",
        AMQP_URL=proxy.url_through(amqp_url()),
        **FAST_RELAY,
    )
    await api.start_and_wait()
    try:
        ids = await opportunities_of(api, fresh_config, amqp, 6)
        mover = Mover(api.url, fresh_config.token("rep-1"), ids)
        moving = asyncio.create_task(mover.run())
        try:
            await asyncio.sleep(1.0)
            before_outage = len(mover.accepted)
            await proxy.cut()
            await asyncio.sleep(3.0)  # moves keep coming while the broker is out of reach
            during_outage = len(mover.accepted) - before_outage
        finally:
            await proxy.restore()
        await asyncio.sleep(2.0)  # and after it is back
        mover.stop()
        await moving
        assert during_outage > 10, "moves were accepted while the broker was down"
        created = {(oid, 1) for oid in ids}
        await durable_tap.collect_until(mover.accepted | created, within=60)
        durable_tap.assert_in_order_without_gaps(set(ids))

        # The API reconnected: ready again, and its consumer consumes again.
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                ready = await client.get(f"{api.url}/health/ready")
                if ready.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert ready.status_code == 200, ready.text
        customer_id = await publish_customer_created(amqp)
        known = mongo[fresh_config.database].known_customers
        for _ in range(200):
            if await known.find_one({"_id": customer_id}):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the consumer did not resume\n{api.log_tail()}")
    finally:
        api.stop()
        await proxy.close()


class RelayProcess(ServiceProcess):
    """The ``pipeline-relay`` console script (the deployed entry point)."""

    def __init__(self, name: str, module: str, env: Mapping[str, str]) -> None:
        super().__init__(name, module, env)
        self.command = [str(Path(sys.executable).parent / "pipeline-relay")]


async def committed_moves(
    mongo: AsyncMongoClient[dict[str, Any]], config: RunConfig, ids: list[str]
) -> set[tuple[str, int]]:
    """Every event the database committed: each version of each opportunity is one event
    (whether or not its client saw the answer)."""
    cursor = mongo[config.database].opportunities.find({"_id": {"$in": ids}}, {"version": 1})
    return {(doc["_id"], v) async for doc in cursor for v in range(1, doc["version"] + 1)}


async def unpublished(mongo: AsyncMongoClient[dict[str, Any]], config: RunConfig) -> int:
    """Events written to an outbox and not yet published."""
    cursor = mongo[config.database].opportunities.find({OUTBOX_PENDING: True}, {OUTBOX: 1})
    return sum([len(doc.get(OUTBOX) or []) async for doc in cursor])


async def test_a_relay_killed_mid_stream_loses_nothing(
    fresh_config: RunConfig,
    amqp: AbstractRobustConnection,
    durable_tap: DurableTap,
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    api = PipelineApi(fresh_config, name="pipeline-api-no-relay", PIPELINE_RELAY_ENABLED="false")
    await api.start_and_wait()
    relay = RelayProcess(
        "pipeline-relay", "pipeline.entrypoints.relay", fresh_config.env(**FAST_RELAY)
    )
    relay.start()
    try:
        ids = await opportunities_of(api, fresh_config, amqp, 6)
        mover = Mover(api.url, fresh_config.token("rep-1"), ids, rate=40)
        moving = asyncio.create_task(mover.run())
        await asyncio.sleep(1.5)
        # Freeze the relay (SIGSTOP) while moves keep coming, so that events are provably
        # waiting in the outboxes when it is killed; then SIGKILL it, frozen mid-stream.
        assert relay.process is not None
        relay.process.send_signal(signal.SIGSTOP)
        await asyncio.sleep(0.5)
        waiting = await unpublished(mongo, fresh_config)
        relay.kill()
        assert waiting > 0, "no unpublished event at the moment of the kill"
        await asyncio.sleep(1.0)
        relay.start()
        await asyncio.sleep(1.5)
        mover.stop()
        await moving
        assert len(mover.accepted) > 25
        # Every move the database committed, not only those the client saw succeed.
        committed = await committed_moves(mongo, fresh_config, ids)
        assert mover.accepted <= committed
        await durable_tap.collect_until(committed)
        durable_tap.assert_in_order_without_gaps(set(ids))
        assert relay.stop() == 0, relay.log_tail()
    finally:
        relay.stop()
        api.stop()


async def test_an_api_killed_mid_stream_loses_no_accepted_move(
    fresh_config: RunConfig,
    amqp: AbstractRobustConnection,
    durable_tap: DurableTap,
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    api = PipelineApi(fresh_config, name="pipeline-api-killed", **FAST_RELAY)
    await api.start_and_wait()
    try:
        ids = await opportunities_of(api, fresh_config, amqp, 6)
        mover = Mover(api.url, fresh_config.token("rep-1"), ids, rate=40)
        moving = asyncio.create_task(mover.run())
        await asyncio.sleep(1.5)
        api.kill()  # SIGKILL: in-flight requests and unpublished events die with it
        accepted_before = len(mover.accepted)
        await api.start_and_wait()  # same port, same database
        await asyncio.sleep(1.5)
        mover.stop()
        await moving
        assert len(mover.accepted) > accepted_before > 10
        # A move whose answer died with the API may still have been committed: its event is
        # owed too.
        committed = await committed_moves(mongo, fresh_config, ids)
        assert mover.accepted <= committed
        await durable_tap.collect_until(committed)
        durable_tap.assert_in_order_without_gaps(set(ids))
    finally:
        api.stop()
