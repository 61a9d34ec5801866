"""The pipeline's use cases.

Each command loads what it needs through the ports, lets the domain decide, then writes the
change and its CloudEvents in ONE write (the outbox) and wakes the relay. Input that breaks a
rule raises ``BadUserInput`` (or ``NotFound`` for a missing thing) before anything is written;
a stale ``expectedVersion`` raises ``Conflict``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from crm_common.errors import BadUserInput, Conflict, NotFound
from crm_common.events import CloudEvent
from pipeline.domain.errors import DomainError
from pipeline.domain.model import (
    DEFAULT_PIPELINE_ID,
    Opportunity,
    Pipeline,
    StageSpec,
    check_id_shape,
    default_pipeline,
)
from pipeline.domain.money import Money
from pipeline.domain.ranking import rank_between
from pipeline.service_layer.messages import to_cloud_event
from pipeline.service_layer.ports import (
    Actor,
    CustomerFacts,
    KnownCustomers,
    OpportunityRepository,
    OutboxNotifier,
    PipelineRepository,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]

# Without an expectedVersion, a write that lost a race is retried on fresh state this often.
MAX_WRITE_ATTEMPTS = 5


def now() -> datetime:
    """UTC now at millisecond precision: what MongoDB keeps, so events equal stored state."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


@contextmanager
def user_input() -> Iterator[None]:
    """Domain rule violations are the caller's input at fault: BAD_USER_INPUT."""
    try:
        yield
    except DomainError as exc:
        raise BadUserInput(exc.message) from exc


# -- pipelines -----------------------------------------------------------------------------


async def seed_default_pipeline(pipelines: PipelineRepository) -> Pipeline:
    """Create the default pipeline unless it exists (safe on every start, on every replica)."""
    pipeline = default_pipeline()
    await pipelines.ensure(pipeline)
    return pipeline


@dataclass(frozen=True, slots=True)
class CreatePipeline:
    name: str
    stages: list[StageSpec]


async def create_pipeline(
    cmd: CreatePipeline, *, pipelines: PipelineRepository, make_id: IdFactory = new_id
) -> Pipeline:
    pipeline_id = make_id()
    with user_input():
        pipeline = Pipeline.define(id=pipeline_id, name=cmd.name, specs=cmd.stages)
    await pipelines.add(pipeline)
    return pipeline


async def _pipeline(pipelines: PipelineRepository, pipeline_id: str) -> Pipeline:
    pipeline = await pipelines.get(pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id} does not exist")
    return pipeline


# -- opportunities -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateOpportunity:
    title: str
    customer_id: str
    amount: Decimal | str
    currency: str
    pipeline_id: str | None = None
    stage_id: str | None = None  # default: the pipeline's first stage
    owner_id: str | None = None  # default: the caller
    expected_close_date: date | None = None


async def wait_for_customer(
    customers: KnownCustomers,
    customer_id: str,
    wait_seconds: float,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> bool:
    """Whether the customer is known, waiting up to ``wait_seconds`` for its
    ``customers.customer.created`` event (delivery is asynchronous: a customer created a few
    milliseconds ago may not have reached us yet)."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        if await customers.exists(customer_id):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        await sleep(min(delay, remaining))
        delay = min(delay * 2, 0.25)


async def create_opportunity(
    cmd: CreateOpportunity,
    *,
    actor: Actor,
    pipelines: PipelineRepository,
    opportunities: OpportunityRepository,
    customers: KnownCustomers,
    notify_outbox: OutboxNotifier,
    customer_wait_seconds: float = 2.0,
    clock: Clock = now,
    make_id: IdFactory = new_id,
) -> Opportunity:
    with user_input():
        amount = Money.of(cmd.amount, cmd.currency)
        customer_id = check_id_shape(cmd.customer_id, "customer id")
        owner_id = check_id_shape(cmd.owner_id or actor.user_id, "owner id")
    pipeline = await _pipeline(pipelines, cmd.pipeline_id or DEFAULT_PIPELINE_ID)
    with user_input():
        stage = pipeline.require_stage(cmd.stage_id) if cmd.stage_id else pipeline.first_stage
    opportunity_id = make_id()

    async def build() -> Opportunity:
        last = await opportunities.position_before(pipeline.id, stage.id, None, opportunity_id)
        with user_input():
            return Opportunity.create(
                id=opportunity_id,
                title=cmd.title,
                customer_id=customer_id,
                amount=amount,
                owner_id=owner_id,
                pipeline=pipeline,
                stage=stage,
                position=rank_between(last, None),
                expected_close_date=cmd.expected_close_date,
                actor_id=actor.user_id,
                at=clock(),
            )

    opportunity = await build()  # every rule checked before we may wait for the customer
    if not await customers.exists(customer_id):
        # The customers database is not ours to read: we know the customers whose
        # ``customers.customer.created`` event reached us, and wait briefly for a new one.
        if not await wait_for_customer(customers, customer_id, customer_wait_seconds):
            raise NotFound(f"customer {customer_id} does not exist", customerId=customer_id)
        opportunity = await build()  # fresh time and position after the wait
    events = _cloud_events(opportunity, actor)
    await opportunities.add(opportunity, events)
    notify_outbox()
    return opportunity


@dataclass(frozen=True, slots=True)
class MoveOpportunity:
    opportunity_id: str
    stage_id: str
    before_id: str | None = None  # place the card just before this one (above it)
    after_id: str | None = None  # place the card just after this one (below it)
    expected_version: int | None = None


async def move_opportunity(
    cmd: MoveOpportunity,
    *,
    actor: Actor,
    pipelines: PipelineRepository,
    opportunities: OpportunityRepository,
    notify_outbox: OutboxNotifier,
    clock: Clock = now,
) -> Opportunity:
    for _ in range(MAX_WRITE_ATTEMPTS):
        opportunity = await _opportunity(opportunities, cmd.opportunity_id)
        _check_version(opportunity, cmd.expected_version)
        if opportunity.is_closed:
            raise BadUserInput(
                f"opportunity {opportunity.id} is {opportunity.status}: a closed deal cannot "
                "be moved (reopen it first)",
                status=str(opportunity.status),
            )
        pipeline = await _pipeline(pipelines, opportunity.pipeline_id)
        with user_input():
            pipeline.require_stage(cmd.stage_id)
        position = await _position_for(opportunities, opportunity, cmd)
        loaded_version = opportunity.version
        with user_input():
            opportunity.move(
                pipeline=pipeline,
                to_stage_id=cmd.stage_id,
                position=position,
                actor_id=actor.user_id,
                at=clock(),
            )
        events = _cloud_events(opportunity, actor)
        if await opportunities.save(opportunity, loaded_version, events):
            if events:
                notify_outbox()
            return opportunity
        if cmd.expected_version is not None:
            # Someone wrote between our read and our write: the caller's view is stale.
            current = await _opportunity(opportunities, cmd.opportunity_id)
            raise _conflict(current, cmd.expected_version)
    raise Conflict(
        f"opportunity {cmd.opportunity_id} keeps changing under concurrent writes; try again"
    )


async def _opportunity(opportunities: OpportunityRepository, opportunity_id: str) -> Opportunity:
    opportunity = await opportunities.get(opportunity_id)
    if opportunity is None:
        raise NotFound(f"opportunity {opportunity_id} does not exist")
    return opportunity


def _conflict(opportunity: Opportunity, expected_version: int) -> Conflict:
    return Conflict(
        f"opportunity {opportunity.id} is at version {opportunity.version}, "
        f"not {expected_version}: reload it and try again",
        currentVersion=opportunity.version,
    )


def _check_version(opportunity: Opportunity, expected_version: int | None) -> None:
    if expected_version is not None and opportunity.version != expected_version:
        raise _conflict(opportunity, expected_version)


async def _position_for(
    opportunities: OpportunityRepository, opportunity: Opportunity, cmd: MoveOpportunity
) -> str:
    """The card's new rank in the target column, between the neighbours the caller named.

    Neither neighbour: the end of the column (or unchanged when the stage is the same).
    Only ``before_id``: just above that card. Only ``after_id``: just below that card.
    """
    pipeline_id, stage_id = opportunity.pipeline_id, cmd.stage_id
    if cmd.before_id is None and cmd.after_id is None:
        if stage_id == opportunity.stage_id:
            return opportunity.position
        last = await opportunities.position_before(pipeline_id, stage_id, None, opportunity.id)
        return rank_between(last, None)

    async def neighbour(neighbour_id: str, what: str) -> Opportunity:
        if neighbour_id == opportunity.id:
            raise BadUserInput(f"{what} must name another opportunity, not the moved one")
        other = await opportunities.get(neighbour_id)
        if other is None or other.pipeline_id != pipeline_id or other.stage_id != stage_id:
            raise BadUserInput(f"{what} {neighbour_id} is not an opportunity in stage {stage_id}")
        return other

    if cmd.before_id is not None and cmd.after_id is not None:
        low = (await neighbour(cmd.after_id, "afterId")).position
        high = (await neighbour(cmd.before_id, "beforeId")).position
        if low > high:
            raise BadUserInput(
                f"afterId {cmd.after_id} comes below beforeId {cmd.before_id} in the column"
            )
    elif cmd.before_id is not None:
        high = (await neighbour(cmd.before_id, "beforeId")).position
        low_or_none = await opportunities.position_before(
            pipeline_id, stage_id, high, opportunity.id
        )
        return rank_between(low_or_none, high)
    else:
        assert cmd.after_id is not None
        low = (await neighbour(cmd.after_id, "afterId")).position
        high_or_none = await opportunities.position_after(
            pipeline_id, stage_id, low, opportunity.id
        )
        return rank_between(low, high_or_none)
    if low == high:
        # Two cards share a rank (concurrent inserts): nothing sorts between them, so the
        # card goes right below both.
        return rank_between(low, None)
    return rank_between(low, high)


def _cloud_events(opportunity: Opportunity, actor: Actor) -> list[CloudEvent]:
    events = [
        to_cloud_event(e, actor_name=actor.name, traceparent=actor.traceparent)
        for e in opportunity.events
    ]
    opportunity.events.clear()
    return events


# -- customer events -----------------------------------------------------------------------

CUSTOMER_CREATED = "customers.customer.created"


class InvalidEvent(ValueError):
    """An event no retry can make valid (the consumer dead-letters it)."""


async def handle_customer_event(event: CloudEvent, *, customers: KnownCustomers) -> None:
    """Keep ``known_customers`` in step with the customers service's events (idempotent)."""
    if event.type != CUSTOMER_CREATED:
        log.debug("customer event ignored", extra={"type": event.type, "event_id": event.id})
        return
    data = event.data
    customer_id = data.get("customerId", event.subject)
    try:
        check_id_shape(customer_id, "customerId")
    except DomainError as exc:
        raise InvalidEvent(exc.message) from exc

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    await customers.remember(
        CustomerFacts(
            customer_id=customer_id,
            name=text("name"),
            kind=text("kind"),
            owner_id=text("ownerId"),
            lifecycle=text("lifecycle"),
            event_id=event.id,
        )
    )
