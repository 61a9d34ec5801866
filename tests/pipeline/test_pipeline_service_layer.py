"""Use cases with in-memory fakes of their ports: what gets written, what is refused."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, cast

import pytest

from crm_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from crm_common.events import CloudEvent, new_event
from pipeline.adapters.unit_of_work import RepositoryUnitOfWork
from pipeline.domain.model import Opportunity, Pipeline, Priority
from pipeline.entrypoints.messages import InvalidEvent, customer_command
from pipeline.service_layer.commands import (
    ChangePipeline,
    CreateOpportunity,
    LoseOpportunity,
    MoveOpportunity,
    ReopenOpportunity,
    UpdateOpportunity,
    WinOpportunity,
)
from pipeline.service_layer.customer_events import handle_customer_event
from pipeline.service_layer.ports import Actor, CustomerFacts, CustomerOwner
from pipeline.service_layer.services import (
    change_pipeline,
    create_opportunity,
    lose_opportunity,
    move_opportunity,
    reopen_opportunity,
    seed_default_pipeline,
    update_opportunity,
    win_opportunity,
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

    async def save(self, pipeline: Pipeline, loaded_version: int) -> bool:
        if self.items[pipeline.id].version != loaded_version:
            return False
        self.items[pipeline.id] = pipeline
        return True


class FakeProcessed:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def seen(self, event_id: str) -> bool:
        return event_id in self.ids

    async def mark(self, event_id: str, event_type: str) -> None:
        self.ids.add(event_id)


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

    async def ids_of_customers(
        self, customer_ids: Sequence[str], *, owner_id: str | None = None, open_only: bool = False
    ) -> list[str]:
        return sorted(
            o.id
            for o in self.items.values()
            if o.customer_id in customer_ids
            and (owner_id is None or o.owner_id == owner_id)
            and (not open_only or not o.is_closed)
        )

    async def open_ids_of_owner(self, owner_id: str, *, team: str | None = None) -> list[str]:
        return sorted(
            o.id
            for o in self.items.values()
            if o.owner_id == owner_id and not o.is_closed and (team is None or o.team == team)
        )


class FakeCustomers:
    """Known customers; each belongs to ``rep-1`` of team ``t1`` unless ``owners`` says."""

    def __init__(self, *known: str) -> None:
        self.known = set(known)
        self.facts: list[CustomerFacts] = []
        self.survivors: dict[str, str] = {}
        self.owners: dict[str, tuple[CustomerOwner, int]] = {}

    async def exists(self, customer_id: str) -> bool:
        return customer_id in self.known

    async def owner_of(self, customer_id: str) -> CustomerOwner | None:
        if customer_id not in self.known:
            return None
        return self.owners.get(customer_id, (CustomerOwner("rep-1", "t1"), 0))[0]

    async def remember(self, customer: CustomerFacts) -> None:
        self.known.add(customer.customer_id)
        self.facts.append(customer)
        owner = CustomerOwner(customer.owner_id, customer.team)
        await self.belongs_to(customer.customer_id, owner, customer.version)

    async def belongs_to(self, customer_id: str, owner: CustomerOwner, version: int) -> None:
        self.known.add(customer_id)
        if customer_id not in self.owners or self.owners[customer_id][1] < version:
            self.owners[customer_id] = (owner, version)

    async def transferred(
        self, customer_ids: Sequence[str], from_owner: str, to_owner: str
    ) -> None:
        for customer_id in customer_ids:
            owner = await self.owner_of(customer_id)
            if owner is not None and owner.owner_id == from_owner:
                version = self.owners.get(customer_id, (owner, 0))[1]
                self.owners[customer_id] = (CustomerOwner(to_owner, owner.team), version)

    async def merged(self, survivor_id: str, merged_ids: Sequence[str]) -> None:
        for merged_id in merged_ids:
            self.survivors[merged_id] = survivor_id

    async def survivor_of(self, customer_id: str) -> str | None:
        return self.survivors.get(customer_id)

    async def source_of(self, customer_id: str) -> dict[str, str] | None:
        for facts in reversed(self.facts):
            if facts.customer_id == customer_id:
                return facts.source
        return None


class FakeProducts:
    """The catalogue in memory (the use cases here never list it)."""

    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}

    async def add(self, product: Any) -> None:
        self.rows[product.id] = product

    async def get(self, product_id: str) -> Any:
        return self.rows.get(product_id)

    async def get_many(self, product_ids: Any) -> dict[str, Any]:
        return {i: self.rows[i] for i in product_ids if i in self.rows}

    async def save(self, product: Any, loaded_version: int) -> bool:
        if self.rows[product.id].version != loaded_version:
            return False
        self.rows[product.id] = product
        return True

    async def page(self, where: Any, first: int, after: Any) -> Any:
        raise NotImplementedError


class World:
    def __init__(self) -> None:
        self.pipelines = FakePipelines()
        self.opportunities = FakeOpportunities()
        self.customers = FakeCustomers("cust-1")
        self.actor = Actor(
            user_id="rep-1", name="Rita", traceparent=None, roles=frozenset({"rep"}), team="t1"
        )
        self.processed = FakeProcessed()
        self.products = FakeProducts()
        self.uow = RepositoryUnitOfWork(
            self.pipelines,
            self.opportunities,
            self.customers,
            self.processed,
            self.products,
            cast(Any, None),  # quotes: no use case here makes one
        )

    async def create(self, wait: float = 0.2, **fields: Any) -> Opportunity:
        values: dict[str, object] = {
            "title": "Deal",
            "customer_id": "cust-1",
            "amount": Decimal("10"),
            "currency": "EUR",
        }
        values.update(fields)
        return await create_opportunity(
            CreateOpportunity(**values, actor=self.actor),  # type: ignore[arg-type]
            self.uow,
            customer_wait_seconds=wait,
        )

    async def move(self, opportunity_id: str, stage_id: str, **fields: object) -> Opportunity:
        return await move_opportunity(
            MoveOpportunity(opportunity_id, stage_id, **fields, actor=self.actor),  # type: ignore[arg-type]
            self.uow,
        )


@pytest.fixture
async def world() -> World:
    w = World()
    await seed_default_pipeline(w.pipelines)
    await seed_default_pipeline(w.pipelines)  # idempotent
    assert list(w.pipelines.items) == ["default"]
    return w


async def test_create_writes_the_opportunity_with_its_event_in_one_write(
    world: World,
) -> None:
    o = await world.create(owner_id=None)
    assert o.owner_id == "rep-1"
    assert o.pipeline_id == "default"
    assert o.stage_id == "default-initial-contact"
    assert [e.type for e in world.opportunities.outbox] == ["pipeline.opportunity.created"]
    assert world.opportunities.outbox[0].actorname == "Rita"
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
    await consume(world, created)
    await consume(world, created)  # redelivered: harmless
    assert await world.customers.exists("c-9")
    assert world.customers.facts[0].name == "ACME"
    await consume(world, event("customers.customer.lifecycle_changed", {"customerId": "c-10"}))
    assert not await world.customers.exists("c-10")
    with pytest.raises(InvalidEvent):
        await consume(world, event("customers.customer.created", {"customerId": "bad id!"}))


# -- win, lose, reopen, update, access ------------------------------------------------------


async def test_win_lose_reopen_record_history_and_events(world: World) -> None:
    o = await world.create()
    won = await win_opportunity(WinOpportunity(o.id, 1, actor=world.actor), world.uow)
    assert (won.status, won.stage_id, won.version) == ("WON", "default-won", 2)
    assert won.closed_at is not None
    with pytest.raises(BadUserInput, match="closed"):
        await lose_opportunity(LoseOpportunity(o.id, "late", None, actor=world.actor), world.uow)
    with pytest.raises(BadUserInput, match="OPEN stage"):
        await reopen_opportunity(
            ReopenOpportunity(o.id, "default-lost", None, actor=world.actor), world.uow
        )
    reopened = await reopen_opportunity(
        ReopenOpportunity(o.id, "default-proposal", 2, actor=world.actor), world.uow
    )
    assert (reopened.status, reopened.stage_id, reopened.closed_at) == (
        "OPEN",
        "default-proposal",
        None,
    )
    with pytest.raises(BadUserInput, match="reason is required"):
        await lose_opportunity(LoseOpportunity(o.id, "   ", None, actor=world.actor), world.uow)
    with pytest.raises(BadUserInput, match="longer than"):
        await lose_opportunity(
            LoseOpportunity(o.id, "x" * 1001, None, actor=world.actor), world.uow
        )
    lost = await lose_opportunity(
        LoseOpportunity(o.id, " Too expensive ", 3, actor=world.actor), world.uow
    )
    assert (lost.status, lost.lost_reason, lost.version) == ("LOST", "Too expensive", 4)
    history = [(t.from_stage_id, t.to_stage_id) for t in lost.stage_history]
    assert history == [
        (None, "default-initial-contact"),
        ("default-initial-contact", "default-won"),
        ("default-won", "default-proposal"),
        ("default-proposal", "default-lost"),
    ]
    types = [(e.type.rsplit(".", 1)[1], e.sequence) for e in world.opportunities.outbox]
    assert types == [("created", 1), ("won", 2), ("reopened", 3), ("lost", 4)]
    assert world.opportunities.outbox[-1].data["lostReason"] == "Too expensive"


async def test_update_reports_previous_values_and_skips_no_ops(world: World) -> None:
    o = await world.create(expected_close_date=date(2026, 12, 31))
    updated = await update_opportunity(
        UpdateOpportunity(
            o.id,
            title="Bigger deal",
            amount=("2500.5", "eur"),
            priority=Priority.HIGH,
            next_step="Call Tuesday",
            expected_close_date=None,
            expected_version=1,
            actor=world.actor,
        ),
        world.uow,
    )
    assert updated.version == 2
    event = world.opportunities.outbox[-1]
    assert event.type == "pipeline.opportunity.updated"
    assert event.data["changes"] == {
        "title": {"from": "Deal", "to": "Bigger deal"},
        "amount": {
            "from": {"amount": "10.00", "currency": "EUR"},
            "to": {"amount": "2500.50", "currency": "EUR"},
        },
        "priority": {"from": "MEDIUM", "to": "HIGH"},
        "nextStep": {"from": None, "to": "Call Tuesday"},
        "expectedCloseDate": {"from": "2026-12-31", "to": None},
    }
    count = len(world.opportunities.outbox)
    same = await update_opportunity(
        UpdateOpportunity(o.id, title="Bigger deal", actor=world.actor), world.uow
    )
    assert same.version == 2
    assert len(world.opportunities.outbox) == count
    with pytest.raises(Conflict):
        await update_opportunity(
            UpdateOpportunity(o.id, title="x", expected_version=1, actor=world.actor), world.uow
        )
    for bad in (
        UpdateOpportunity(o.id, amount=("-1", "EUR"), actor=world.actor),
        UpdateOpportunity(o.id, amount=("1", "ABC"), actor=world.actor),
        UpdateOpportunity(o.id, title="t" * 201, actor=world.actor),
        UpdateOpportunity(o.id, next_step="n" * 501, actor=world.actor),
    ):
        with pytest.raises(BadUserInput):
            await update_opportunity(bad, world.uow)
    assert world.opportunities.items[o.id].version == 2


async def test_visibility_rules(world: World) -> None:
    o = await world.create()  # rep-1, team t1
    other_rep = Actor(user_id="rep-2", roles=frozenset({"rep"}), team="t1")
    manager = Actor(user_id="m-1", roles=frozenset({"manager"}), team="t1")
    other_manager = Actor(user_id="m-2", roles=frozenset({"manager"}), team="t2")
    service = Actor(user_id="svc", roles=frozenset({"service"}))
    for denied in (other_rep, other_manager, service):
        with pytest.raises(Forbidden):
            await move_opportunity(
                MoveOpportunity(o.id, "default-proposal", actor=denied), world.uow
            )
    assert world.opportunities.items[o.id].version == 1
    moved = await move_opportunity(
        MoveOpportunity(o.id, "default-proposal", actor=manager), world.uow
    )
    assert moved.version == 2
    with pytest.raises(Forbidden):  # a rep gives deals to nobody else
        await update_opportunity(
            UpdateOpportunity(o.id, owner_id="rep-2", actor=world.actor), world.uow
        )
    with pytest.raises(Forbidden):
        await world.create(owner_id="rep-2")
    with pytest.raises(Forbidden):
        await update_opportunity(UpdateOpportunity(o.id, team="t2", actor=manager), world.uow)
    admin = Actor(user_id="a", roles=frozenset({"admin"}))
    moved_team = await update_opportunity(
        UpdateOpportunity(o.id, owner_id="rep-9", team="t2", actor=admin), world.uow
    )
    assert (moved_team.owner_id, moved_team.team) == ("rep-9", "t2")


async def test_pipeline_changes_need_a_manager_and_keep_versions(world: World) -> None:
    with pytest.raises(Forbidden):
        await change_pipeline(
            ChangePipeline("default", lambda p: p.rename("x"), actor=world.actor), world.uow
        )
    manager = Actor(user_id="m-1", roles=frozenset({"manager"}), team="t1")
    renamed = await change_pipeline(
        ChangePipeline("default", lambda p: p.rename("Sales"), actor=manager), world.uow
    )
    assert (renamed.name, renamed.version) == ("Sales", 2)
    with pytest.raises(Conflict):
        await change_pipeline(
            ChangePipeline("default", lambda p: p.rename("Again"), 1, actor=manager), world.uow
        )
    with pytest.raises(BadUserInput):
        await change_pipeline(
            ChangePipeline("default", lambda p: p.retire_stage("default-won"), actor=manager),
            world.uow,
        )


# -- consumed customer events ---------------------------------------------------------------


def customer_event(type_: str, data: dict[str, object]) -> CloudEvent:
    return new_event(source="crm/customers", type=type_, subject="x", sequence=1, data=data)


async def consume(world: World, event: CloudEvent) -> None:
    command = customer_command(event)
    if command is not None:
        await handle_customer_event(command, world.uow)


async def test_merge_repoints_opportunities_once(world: World) -> None:
    world.customers.known |= {"cust-2", "cust-3"}
    a = await world.create(customer_id="cust-2")
    b = await world.create(customer_id="cust-3")
    keep = await world.create(customer_id="cust-1")
    merged = customer_event(
        "customers.customer.merged",
        {"survivorId": "cust-1", "mergedIds": ["cust-2", "cust-3"], "mergedAt": "2026-11-26"},
    )
    await consume(world, merged)
    await consume(world, merged)  # redelivered
    items = world.opportunities.items
    assert {items[i].customer_id for i in (a.id, b.id, keep.id)} == {"cust-1"}
    assert (items[a.id].version, items[keep.id].version) == (2, 1)
    updates = [e for e in world.opportunities.outbox if e.type.endswith("updated")]
    assert sorted(u.data["changes"]["customerId"]["from"] for u in updates) == ["cust-2", "cust-3"]
    assert {u.data["changes"]["customerId"]["to"] for u in updates} == {"cust-1"}
    with pytest.raises(InvalidEvent):
        await consume(world, customer_event("customers.customer.merged", {"mergedIds": []}))
    # A deal created later for a merged customer goes to the survivor.
    late = await world.create(customer_id="cust-2")
    assert late.customer_id == "cust-1"


async def test_transfer_reassigns_open_opportunities_when_asked(world: World) -> None:
    open_deal = await world.create()
    closed = await world.create()
    await win_opportunity(WinOpportunity(closed.id, None, actor=world.actor), world.uow)
    not_included = customer_event(
        "customers.ownership.transferred",
        {
            "fromOwnerId": "rep-1",
            "toOwnerId": "rep-2",
            "includeOpenOpportunities": False,
            "customerIds": ["cust-1"],
            "transferId": "t-0",
        },
    )
    await consume(world, not_included)
    assert world.opportunities.items[open_deal.id].owner_id == "rep-1"
    transfer = customer_event(
        "customers.ownership.transferred",
        {
            "fromOwnerId": "rep-1",
            "toOwnerId": "rep-2",
            "includeOpenOpportunities": True,
            "customerIds": ["cust-1"],
            "transferId": "t-1",
        },
    )
    await consume(world, transfer)
    await consume(world, transfer)
    items = world.opportunities.items
    assert (items[open_deal.id].owner_id, items[open_deal.id].version) == ("rep-2", 2)
    assert items[closed.id].owner_id == "rep-1"  # closed deals keep their owner
    assert items[open_deal.id].stage_history[-1].owner_id == "rep-1"  # history unchanged


# -- deals only on customers the caller may see ---------------------------------------------


async def test_deals_only_on_customers_the_caller_may_see(world: World) -> None:
    mine = await world.create()
    world.customers.known.add("cust-other")
    world.customers.owners["cust-other"] = (CustomerOwner("rep-2", "t2"), 1)
    outbox = len(world.opportunities.outbox)
    with pytest.raises(Forbidden, match="customer cust-other"):
        await world.create(customer_id="cust-other")
    assert len(world.opportunities.items) == 1
    # A deal of the caller on a customer that went to another owner: no move, no close.
    world.customers.owners["cust-1"] = (CustomerOwner("rep-2", "t2"), 2)
    for attempt in (
        world.move(mine.id, "default-proposal"),
        win_opportunity(WinOpportunity(mine.id, None, actor=world.actor), world.uow),
        lose_opportunity(LoseOpportunity(mine.id, "no", None, actor=world.actor), world.uow),
    ):
        with pytest.raises(Forbidden):
            await attempt
    assert world.opportunities.items[mine.id].version == 1
    assert len(world.opportunities.outbox) == outbox
    # The deal's manager (team t1) may change the deal but not see the customer (team t2).
    world.actor = Actor(user_id="boss", roles=frozenset({"manager"}), team="t1")
    with pytest.raises(Forbidden, match="customer cust-1"):
        await world.move(mine.id, "default-proposal")
    world.actor = Actor(user_id="root", roles=frozenset({"admin"}))
    assert (await world.move(mine.id, "default-proposal")).stage_id == "default-proposal"


async def test_customer_events_keep_owner_and_team_current(world: World) -> None:
    def event(type_: str, sequence: int, data: dict[str, object]) -> CloudEvent:
        return new_event(
            source="crm/customers", type=type_, subject="c-7", sequence=sequence, data=data
        )

    created = event(
        "customers.customer.created",
        1,
        {
            "customerId": "c-7",
            "name": "N",
            "kind": "PERSON",
            "ownerId": "a",
            "lifecycle": "LEAD",
            "team": "north",
        },
    )
    updated = event(
        "customers.customer.updated", 3, {"customerId": "c-7", "ownerId": "b", "team": None}
    )
    await consume(world, updated)
    await consume(world, created)  # late: does not take back the newer owner
    assert await world.customers.owner_of("c-7") == CustomerOwner("b", None)
    await consume(
        world,
        event(
            "customers.ownership.transferred",
            1,
            {
                "transferId": "t",
                "fromOwnerId": "b",
                "toOwnerId": "c",
                "includeOpenOpportunities": False,
                "customerIds": ["c-7"],
            },
        ),
    )
    assert await world.customers.owner_of("c-7") == CustomerOwner("c", None)
    await consume(
        world,
        event(
            "customers.customer.merged",
            5,
            {
                "survivorId": "c-7",
                "mergedIds": ["c-8"],
                "mergedAt": "2026-12-03T10:00:00.000Z",
                "survivorOwnerId": "d",
                "survivorTeam": "south",
            },
        ),
    )
    assert await world.customers.owner_of("c-7") == CustomerOwner("d", "south")
    with pytest.raises(InvalidEvent):
        await consume(
            world,
            event(
                "customers.customer.updated",
                6,
                {"customerId": "c-7", "ownerId": "d", "team": {"$ne": None}},
            ),
        )


async def test_transfer_includes_the_departing_owners_deals_on_customers_of_others(
    world: World,
) -> None:
    """A departing rep's open deals on customers they do not own go with the transfer too
    (of the transfer's team when a manager's transfer names one)."""
    world.customers.known |= {"cust-of-b"}
    world.customers.owners["cust-of-b"] = (CustomerOwner("rep-b", "t1"), 1)
    admin = Actor(user_id="root", roles=frozenset({"admin"}))
    world.actor = admin
    elsewhere = await world.create(customer_id="cust-of-b", owner_id="rep-1", team="t1")
    other_team = await world.create(customer_id="cust-of-b", owner_id="rep-1", team="t9")
    transfer = customer_event(
        "customers.ownership.transferred",
        {
            "fromOwnerId": "rep-1",
            "toOwnerId": "rep-2",
            "includeOpenOpportunities": True,
            "customerIds": [],
            "transferId": "t-2",
            "team": "t1",
        },
    )
    await consume(world, transfer)
    items = world.opportunities.items
    assert items[elsewhere.id].owner_id == "rep-2"
    assert items[other_team.id].owner_id == "rep-1"  # the manager's transfer stays in t1
    # An admin's transfer (no team) takes every open deal of the departing owner.
    await consume(
        world,
        customer_event(
            "customers.ownership.transferred",
            {
                "fromOwnerId": "rep-1",
                "toOwnerId": "rep-3",
                "includeOpenOpportunities": True,
                "customerIds": [],
                "transferId": "t-3",
            },
        ),
    )
    assert items[other_team.id].owner_id == "rep-3"
    assert await world.customers.owner_of("cust-of-b") == CustomerOwner("rep-b", "t1")
