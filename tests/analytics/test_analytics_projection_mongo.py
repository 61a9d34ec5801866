"""The MongoDB projection against the dev SecantusDB/MongoDB (in-process, fresh database).

The property that matters: applying an opportunity's events in any order, any number of times,
gives the same projected state, and the funnel read model groups it as the domain expects.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from analytics.adapters.mongo import (
    MongoEventStore,
    MongoFunnelReadModel,
    MongoOpportunityProjection,
    ensure_indexes,
)
from analytics.domain.funnel import DealProgress
from analytics.domain.model import DealStatus, Money, OpportunityChange, Stage, StageKind

T0 = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


def stages(proposal_name: str = "Proposal") -> tuple[Stage, ...]:
    return (
        Stage("s1", "Initial contact", 1, StageKind.OPEN, 0.1),
        Stage("s2", "Needs analysis", 2, StageKind.OPEN, 0.25),
        Stage("s3", proposal_name, 3, StageKind.OPEN, 0.5),
        Stage("won", "Won", 4, StageKind.WON, 1.0),
        Stage("lost", "Lost", 5, StageKind.LOST, 0.0),
    )


def history(pipeline_id: str, opportunity_id: str, owner: str = "rep-1") -> list[OpportunityChange]:
    """created in s1, moved to s3 (skipping s2), back to s2, then lost; a stage renamed late."""
    by_id = {s.id: s for s in stages()}
    steps = [
        ("pipeline.opportunity.created", None, "s1", DealStatus.OPEN, stages()),
        ("pipeline.opportunity.stage_changed", "s1", "s3", DealStatus.OPEN, stages()),
        ("pipeline.opportunity.stage_changed", "s3", "s2", DealStatus.OPEN, stages()),
        ("pipeline.opportunity.stage_changed", "s2", "lost", DealStatus.LOST, stages("Offer")),
    ]
    return [
        OpportunityChange(
            event_id=str(uuid.uuid4()),
            event_type=event_type,
            opportunity_id=opportunity_id,
            sequence=sequence,
            changed_at=T0 + timedelta(hours=sequence),
            pipeline_id=pipeline_id,
            owner_id=owner,
            customer_id="c1",
            title="Deal",
            amount=Money(Decimal("1200.00"), "EUR"),
            status=status,
            from_stage=by_id[from_id] if from_id else None,
            to_stage=by_id[to_id],
            stages=stage_list,
        )
        for sequence, (event_type, from_id, to_id, status, stage_list) in enumerate(steps, 1)
    ]


def comparable(document: dict[str, Any] | None) -> dict[str, Any]:
    assert document is not None
    return {k: v for k, v in document.items() if k != "_id"}


async def test_any_order_and_any_repetition_give_the_same_state(mongo_db: Any) -> None:
    await ensure_indexes(mongo_db)
    projection = MongoOpportunityProjection(mongo_db)
    pipeline_id = f"p-{uuid.uuid4()}"
    reference_id = str(uuid.uuid4())
    for change in history(pipeline_id, reference_id):
        await projection.apply(change)
    reference = comparable(await mongo_db.opportunities.find_one({"_id": reference_id}))
    assert reference["status"] == "LOST"
    assert reference["maxOpenOrderReached"] == 3
    assert reference["reachedWon"] is False
    assert reference["lastSequence"] == 4
    assert reference["createdAt"] == T0 + timedelta(hours=1)
    assert reference["stageId"] == "lost"

    rng = random.Random(7)
    orders = list(itertools.permutations(range(4)))
    for order in [*rng.sample(orders, 8), orders[-1]]:
        opportunity_id = str(uuid.uuid4())
        changes = [
            replace(c, opportunity_id=opportunity_id) for c in history(pipeline_id, opportunity_id)
        ]
        deliveries = [changes[i] for i in order] + [changes[i] for i in order[:2]]
        for change in deliveries:
            await projection.apply(change)
        state = comparable(await mongo_db.opportunities.find_one({"_id": opportunity_id}))
        assert state == reference, f"delivery order {order}"

    pipeline = await mongo_db.pipelines.find_one({"_id": pipeline_id})
    assert [s["name"] for s in pipeline["stages"]][2] == "Offer"  # the latest stage list wins

    read_model = MongoFunnelReadModel(mongo_db)
    cohort = await read_model.cohort(pipeline_id, created_from=None, created_to=None, owner_id=None)
    assert cohort == [DealProgress(DealStatus.LOST, max_open_order=3, reached_won=False, count=10)]
    known = await read_model.stages(pipeline_id)
    assert known is not None
    assert [s.name for s in known] == [s.name for s in stages("Offer")]


async def test_cohort_filters_on_creation_time_and_owner(mongo_db: Any) -> None:
    projection = MongoOpportunityProjection(mongo_db)
    read_model = MongoFunnelReadModel(mongo_db)
    pipeline_id = f"p-{uuid.uuid4()}"
    for day, owner in [(0, "rep-1"), (1, "rep-2"), (2, "rep-1")]:
        opportunity_id = str(uuid.uuid4())
        created = history(pipeline_id, opportunity_id, owner=owner)[0]
        await projection.apply(replace(created, changed_at=T0 + timedelta(days=day)))

    async def total(**filters: Any) -> int:
        arguments: dict[str, Any] = {"created_from": None, "created_to": None, "owner_id": None}
        arguments.update(filters)
        return sum(d.count for d in await read_model.cohort(pipeline_id, **arguments))

    assert await total() == 3
    assert await total(owner_id="rep-1") == 2
    assert await total(created_from=T0 + timedelta(days=1)) == 2
    assert await total(created_to=T0 + timedelta(days=1)) == 1  # half-open: [from, to)
    assert await total(created_from=T0 + timedelta(days=1), owner_id="rep-1") == 1
    assert await read_model.stages(f"p-{uuid.uuid4()}") is None


async def test_event_store_keeps_one_document_per_event_id(mongo_db: Any) -> None:
    store = MongoEventStore(mongo_db)
    event_id = str(uuid.uuid4())
    envelope = {"id": event_id, "type": "pipeline.opportunity.created", "subject": "o"}
    assert not await store.contains(event_id)
    await store.append(event_id, envelope)
    await store.append(event_id, envelope)
    assert await store.contains(event_id)
    assert await mongo_db.events.count_documents({"_id": event_id}) == 1
