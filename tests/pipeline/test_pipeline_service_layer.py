"""Use cases with in-memory fakes of their ports: what gets written, what is refused."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from crm_common.errors import BadUserInput, Conflict, NotFound
from crm_common.events import CloudEvent, new_event
from pipeline.domain.model import Opportunity, Pipeline
from pipeline.service_layer.ports import Actor, CustomerFacts
from pipeline.service_layer.services import (
    CreateOpportunity,
    InvalidEvent,
    MoveOpportunity,
    create_opportunity,
    handle_customer_event,
    move_opportunity,
    seed_default_pipeline,
)


class FakePipelines:
    def __init__(self) -> None:
        self.items: dict[str, Pipeline] = {}

    async def get(self, pipeline_id: str) -> Pipeline | None:
        return self.items.get(pipeline_id)

    async def list_all(self) -> list[Pipeline]:
        return list(self.items.values())

    async def add(self, pipeline: Pipeline) -> None:
        self.items[pipeline.id] = pipeline

    async def ensure(self, pipeline: Pipeline) -> None:
        self.items.setdefault(pipeline.id, pipeline)


class FakeOpportunities:
    def __init__(self) -> None:
        self.items: dict[str, Opportunity] = {}
        self.outbox: list[CloudEvent] = []
        self.interfere: bool = False  # a concurrent writer bumps the version before us

    async def get(self, opportunity_id: str) -> Opportunity | None:
        found = self.items.get(opportunity_id)
        return copy.deepcopy(found) if found else None

    async def add(self, opportunity: Opportunity, events: Sequence[CloudEvent]) -> None:
        self.items[opportunity.id] = copy.deepcopy(opportunity)
        self.outbox.extend(events)

    async def save(
        self, opportunity: Opportunity, loaded_version: int, events: Sequence[CloudEvent]
    ) -> bool:
        if self.interfere:
            self.interfere = False
            self.items[opportunity.id].version += 1
        if self.items[opportunity.id].version != loaded_version:
            return False
        self.items[opportunity.id] = copy.deepcopy(opportunity)
        self.outbox.extend(events)
        return True

    def _column(self, pipeline_id: str, stage_id: str, exclude_id: str) -> list[str]:
        return sorted(
            o.position
            for o in self.items.values()
            if o.pipeline_id == pipeline_id and o.stage_id == stage_id and o.id != exclude_id
        )

    async def position_before(
        self, pipeline_id: str, stage_id: str, rank: str | None, exclude_id: str
    ) -> str | None:
        below = [
            p for p in self._column(pipeline_id, stage_id, exclude_id) if rank is None or p < rank
        ]
        return below[-1] if below else None

    async def position_after(
        self, pipeline_id: str, stage_id: str, rank: str, exclude_id: str
    ) -> str | None:
        above = [p for p in self._column(pipeline_id, stage_id, exclude_id) if p > rank]
        return above[0] if above else None


class FakeCustomers:
    def __init__(self, *known: str) -> None:
        self.known = set(known)
        self.facts: list[CustomerFacts] = []

    async def exists(self, customer_id: str) -> bool:
        return customer_id in self.known

    async def remember(self, customer: CustomerFacts) -> None:
        self.known.add(customer.customer_id)
        self.facts.append(customer)


class World:
    def __init__(self) -> None:
        self.pipelines = FakePipelines()
        self.opportunities = FakeOpportunities()
        self.customers = FakeCustomers("cust-1")
        self.wakes = 0
        self.actor = Actor(user_id="rep-1", name="Rita", traceparent=None)

    def notify(self) -> None:
        self.wakes += 1

    async def create(self, wait: float = 0.2, **fields: Any) -> Opportunity:
        values: dict[str, object] = {
            "title": "Deal",
            "customer_id": "cust-1",
            "amount": Decimal("10"),
            "currency": "EUR",
        }
        values.update(fields)
        return await create_opportunity(
            CreateOpportunity(**values),  # type: ignore[arg-type]
            actor=self.actor,
            pipelines=self.pipelines,
            opportunities=self.opportunities,
            customers=self.customers,
            notify_outbox=self.notify,
            customer_wait_seconds=wait,
        )

    async def move(self, opportunity_id: str, stage_id: str, **fields: object) -> Opportunity:
        return await move_opportunity(
            MoveOpportunity(opportunity_id, stage_id, **fields),  # type: ignore[arg-type]
            actor=self.actor,
            pipelines=self.pipelines,
            opportunities=self.opportunities,
            notify_outbox=self.notify,
        )


@pytest.fixture
async def world() -> World:
    w = World()
    await seed_default_pipeline(w.pipelines)
    await seed_default_pipeline(w.pipelines)  # idempotent
    assert list(w.pipelines.items) == ["default"]
    return w


async def test_create_writes_the_opportunity_with_its_event_and_wakes_the_relay(
    world: World,
) -> None:
    o = await world.create(owner_id=None)
    assert o.owner_id == "rep-1"
    assert o.pipeline_id == "default"
    assert o.stage_id == "default-initial-contact"
    assert [e.type for e in world.opportunities.outbox] == ["pipeline.opportunity.created"]
    assert world.opportunities.outbox[0].actorname == "Rita"
    assert world.wakes == 1
    second = await world.create()
    assert second.position > o.position  # appended to the column


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"amount": Decimal("-1")}, BadUserInput),
        ({"currency": "XXX"}, BadUserInput),
        ({"stage_id": "nope"}, BadUserInput),
        ({"pipeline_id": "nope"}, NotFound),
        ({"customer_id": "cust-unknown"}, NotFound),
        ({"owner_id": "bad owner"}, BadUserInput),
    ],
)
async def test_refused_creates_write_nothing(
    world: World, fields: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await world.create(**fields)
    assert world.opportunities.items == {}
    assert world.opportunities.outbox == []
    assert world.wakes == 0


async def test_create_waits_briefly_for_a_customer_announced_late(world: World) -> None:
    async def announce() -> None:
        await asyncio.sleep(0.1)
        world.customers.known.add("cust-late")

    task = asyncio.create_task(announce())
    o = await world.create(wait=2.0, customer_id="cust-late")
    await task
    assert o.customer_id == "cust-late"


async def test_move_checks_the_expected_version(world: World) -> None:
    o = await world.create()
    moved = await world.move(o.id, "default-proposal", expected_version=1)
    assert moved.version == 2
    with pytest.raises(Conflict) as conflict:
        await world.move(o.id, "default-negotiation", expected_version=1)
    assert conflict.value.details == {"currentVersion": 2}
    assert world.opportunities.items[o.id].stage_id == "default-proposal"
    assert [e.sequence for e in world.opportunities.outbox] == [1, 2]


async def test_a_lost_race_is_retried_without_expected_version_and_conflicts_with_it(
    world: World,
) -> None:
    o = await world.create()
    world.opportunities.interfere = True
    moved = await world.move(o.id, "default-proposal")
    assert moved.version == 3  # re-read after the concurrent write, then applied
    world.opportunities.interfere = True
    with pytest.raises(Conflict):
        await world.move(o.id, "default-negotiation", expected_version=3)


async def test_move_refusals(world: World) -> None:
    o = await world.create()
    with pytest.raises(NotFound):
        await world.move("missing", "default-proposal")
    with pytest.raises(BadUserInput):
        await world.move(o.id, "other-pipeline-stage")
    with pytest.raises(BadUserInput):
        await world.move(o.id, "default-proposal", before_id=o.id)
    await world.move(o.id, "default-lost")
    with pytest.raises(BadUserInput, match="closed"):
        await world.move(o.id, "default-proposal")
    assert world.opportunities.items[o.id].version == 2


async def test_reordering_writes_no_event(world: World) -> None:
    a = await world.create()
    b = await world.create()
    outbox = len(world.opportunities.outbox)
    moved = await world.move(b.id, "default-initial-contact", before_id=a.id)
    assert moved.position < a.position
    assert moved.version == 1
    assert len(world.opportunities.outbox) == outbox


async def test_customer_events_feed_known_customers(world: World) -> None:
    def event(type_: str, data: dict[str, object], subject: str = "c-9") -> CloudEvent:
        return new_event(source="crm/customers", type=type_, subject=subject, sequence=1, data=data)

    created = event(
        "customers.customer.created",
        {
            "customerId": "c-9",
            "name": "ACME",
            "kind": "COMPANY",
            "ownerId": "r",
            "lifecycle": "LEAD",
        },
    )
    await handle_customer_event(created, customers=world.customers)
    await handle_customer_event(created, customers=world.customers)  # redelivered: harmless
    assert await world.customers.exists("c-9")
    assert world.customers.facts[0].name == "ACME"
    await handle_customer_event(
        event("customers.customer.lifecycle_changed", {"customerId": "c-10"}),
        customers=world.customers,
    )
    assert not await world.customers.exists("c-10")
    with pytest.raises(InvalidEvent):
        await handle_customer_event(
            event("customers.customer.created", {"customerId": "bad id!"}),
            customers=world.customers,
        )
