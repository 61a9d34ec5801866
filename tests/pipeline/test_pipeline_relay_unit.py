"""The relay against the dev MongoDB with a fake broker: retries, order, exact removal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events import CloudEvent
from crm_common.outbox import OutboxRelay
from pipeline.adapters.mongo import MongoOpportunityRepository, create_indexes
from pipeline.adapters.outbox import to_cloud_event
from pipeline.domain.model import Opportunity, default_pipeline
from pipeline.domain.money import Money


class FakeBroker:
    """Confirms every publish, except the ones ``fail_when`` picks (a broker outage)."""

    def __init__(self, fail_when: Callable[[CloudEvent, int], bool] = lambda e, n: False) -> None:
        self.fail_when = fail_when
        self.attempts = 0
        self.published: list[CloudEvent] = []

    async def publish(self, event: CloudEvent) -> None:
        self.attempts += 1
        if self.fail_when(event, self.attempts):
            raise ConnectionError("broker unreachable")
        self.published.append(event)


@pytest.fixture
async def db(
    mongo: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    name = f"test_pipeline_relay_{uuid.uuid4().hex[:8]}"
    database = mongo[name]
    await create_indexes(database)
    yield database
    await mongo.drop_database(name)


async def seed(repo: MongoOpportunityRepository, moves: int = 1) -> Opportunity:
    """An opportunity with ``1 + moves`` events waiting in its outbox."""
    pipeline = default_pipeline()
    at = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    opportunity = Opportunity.create(
        id=str(uuid.uuid4()),
        title="Relay me",
        customer_id="c-1",
        amount=Money(Decimal("10"), "EUR"),
        owner_id="rep-1",
        pipeline=pipeline,
        stage=pipeline.first_stage,
        position="i",
        expected_close_date=None,
        actor_id="rep-1",
        at=at,
    )
    events: list[CloudEvent] = [to_cloud_event(e) for e in opportunity.events]
    opportunity.events.clear()
    for target in ["default-needs-analysis", "default-proposal", "default-negotiation"][:moves]:
        opportunity.move(
            pipeline=pipeline, to_stage_id=target, position="i", actor_id="rep-1", at=at
        )
        events.extend(to_cloud_event(e) for e in opportunity.events)
        opportunity.events.clear()
    await repo.add(opportunity, events)
    return opportunity


async def run_until(
    relay: OutboxRelay, done: Callable[[], Awaitable[bool]], within: float = 10
) -> None:
    task = relay.start()
    try:
        for _ in range(int(within / 0.02)):
            if await done():
                return
            assert not task.done(), task
            await asyncio.sleep(0.02)
        raise AssertionError("relay did not finish")
    finally:
        await relay.stop()


async def outbox(db: AsyncDatabase[dict[str, Any]], oid: str) -> dict[str, Any]:
    doc = await db.opportunities.find_one({"_id": oid}, {"outbox": 1, "outbox_pending": 1})
    assert doc is not None
    return doc


async def test_broker_outage_delays_events_and_keeps_their_order(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    repo = MongoOpportunityRepository(db)
    opportunities = [await seed(repo, moves=2) for _ in range(3)]
    broker = FakeBroker(fail_when=lambda e, n: n <= 4)  # the first four attempts fail
    relay = OutboxRelay(repo.collection, broker, poll_interval=0.05, min_backoff=0.01)

    async def drained() -> bool:
        pending = await db.opportunities.count_documents({"outbox_pending": True})
        return len(broker.published) == 9 and pending == 0

    await run_until(relay, drained)

    for o in opportunities:
        sequences = [e.sequence for e in broker.published if e.subject == o.id]
        assert sequences == [1, 2, 3]
        doc = await outbox(db, o.id)
        assert doc["outbox"] == []
        assert "outbox_pending" not in doc
    assert len({e.id for e in broker.published}) == 9  # nothing twice


async def test_a_failure_mid_document_removes_only_what_was_confirmed(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    repo = MongoOpportunityRepository(db)
    opportunity = await seed(repo, moves=2)
    broker = FakeBroker(fail_when=lambda e, n: e.sequence == 2 and n == 2)
    relay = OutboxRelay(repo.collection, broker, poll_interval=0.05, min_backoff=0.01)

    with pytest.raises(ConnectionError):
        await relay.drain_once()
    doc = await outbox(db, opportunity.id)
    assert [e["sequence"] for e in doc["outbox"]] == [2, 3]  # 1 was confirmed and removed
    assert doc["outbox_pending"] is True

    await relay.drain_once()
    assert [e.sequence for e in broker.published] == [1, 2, 3]
    doc = await outbox(db, opportunity.id)
    assert doc["outbox"] == []
    assert "outbox_pending" not in doc


async def test_an_event_appended_during_a_pass_is_not_forgotten(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    repo = MongoOpportunityRepository(db)
    opportunity = await seed(repo, moves=0)
    late = {"id": "late-event"}
    extra = CloudEvent.model_validate(
        {
            **(await outbox(db, opportunity.id))["outbox"][0],
            "id": late["id"],
            "sequence": 2,
        }
    )

    class AppendingBroker(FakeBroker):
        async def publish(self, event: CloudEvent) -> None:
            await super().publish(event)
            if event.id != late["id"]:
                # A command writes (and sets the flag) while the relay is publishing.
                await db.opportunities.update_one(
                    {"_id": opportunity.id},
                    {
                        "$push": {"outbox": extra.model_dump(exclude_none=True)},
                        "$set": {"outbox_pending": True},
                    },
                )

    broker = AppendingBroker()
    relay = OutboxRelay(repo.collection, broker)
    assert await relay.drain_once() == 1
    doc = await outbox(db, opportunity.id)
    assert [e["id"] for e in doc["outbox"]] == ["late-event"]
    assert doc["outbox_pending"] is True
    assert await relay.drain_once() == 1
    assert [e.id for e in broker.published][-1] == "late-event"
    doc = await outbox(db, opportunity.id)
    assert doc["outbox"] == []
    assert "outbox_pending" not in doc


async def test_the_relay_query_reads_the_sparse_index(db: AsyncDatabase[dict[str, Any]]) -> None:
    repo = MongoOpportunityRepository(db)
    await seed(repo)
    plan = await db.opportunities.find({"outbox_pending": True}).explain()
    assert "'indexName': 'outbox_pending'" in str(plan["queryPlanner"]["winningPlan"])


async def test_a_wake_during_a_sweep_is_not_lost(db: AsyncDatabase[dict[str, Any]]) -> None:
    """A write (and its wake) that lands while a sweep runs is published by another sweep
    right away, not at the next poll (an hour here)."""
    repo = MongoOpportunityRepository(db)
    await seed(repo, moves=0)
    late: list[Opportunity] = []
    relay: OutboxRelay

    class WritingBroker(FakeBroker):
        async def publish(self, event: CloudEvent) -> None:
            await super().publish(event)
            if not late:  # during the first sweep, another write arrives and wakes the relay
                late.append(await seed(repo, moves=0))
                relay.wake()

    broker = WritingBroker()
    relay = OutboxRelay(repo.collection, broker, poll_interval=3600)

    async def both() -> bool:
        return len(broker.published) == 2

    await run_until(relay, both, within=5)
    assert broker.published[1].subject == late[0].id
