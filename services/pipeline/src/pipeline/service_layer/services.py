"""The pipeline's use cases: each takes ``(command, uow)`` (and test seams for time and ids).

Each command loads what it needs through the unit of work, lets the domain decide, then writes
the change and its events in ONE write (the unit of work puts them in the outbox). Input that
breaks a rule raises ``BadUserInput`` (or ``NotFound`` for a missing thing) before anything is
written; a stale ``expectedVersion`` raises ``Conflict``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from crm_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from pipeline.domain import access
from pipeline.domain.access import AccessDenied
from pipeline.domain.errors import DomainError
from pipeline.domain.model import (
    DEFAULT_PIPELINE_ID,
    UNSET,
    Opportunity,
    OpportunityChanges,
    Pipeline,
    Stage,
    StageKind,
    StageSpec,
    Unset,
    check_id_shape,
    default_pipeline,
)
from pipeline.domain.money import Money
from pipeline.domain.ranking import rank_between
from pipeline.service_layer.commands import (
    AddStage,
    ChangePipeline,
    CreateOpportunity,
    CreatePipeline,
    LoseOpportunity,
    MoveOpportunity,
    ReopenOpportunity,
    UpdateOpportunity,
    WinOpportunity,
)
from pipeline.service_layer.ports import (
    Actor,
    KnownCustomers,
    OpportunityRepository,
    PipelineRepository,
)
from pipeline.service_layer.unit_of_work import UnitOfWork

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
    """Domain rule violations are the caller's input at fault: BAD_USER_INPUT (or FORBIDDEN
    for an access rule)."""
    try:
        yield
    except AccessDenied as exc:
        raise Forbidden(exc.message) from exc
    except DomainError as exc:
        raise BadUserInput(exc.message) from exc


# -- pipelines -----------------------------------------------------------------------------


async def seed_default_pipeline(pipelines: PipelineRepository) -> Pipeline:
    """Create the default pipeline unless it exists (safe on every start, on every replica)."""
    pipeline = default_pipeline()
    await pipelines.ensure(pipeline)
    return pipeline


async def create_pipeline(
    cmd: CreatePipeline, uow: UnitOfWork, *, make_id: IdFactory = new_id
) -> Pipeline:
    pipeline_id = make_id()
    with user_input():
        access.require_pipeline_admin(cmd.actor.viewer)
        pipeline = Pipeline.define(id=pipeline_id, name=cmd.name, specs=cmd.stages)
    await uow.pipelines.add(pipeline)
    return pipeline


async def change_pipeline(cmd: ChangePipeline, uow: UnitOfWork) -> Pipeline:
    """Load a pipeline, apply ``cmd.change`` (a rule of ``Pipeline``), save it if nobody wrote
    meanwhile. Stage changes never rewrite opportunities: a deal names its stage by id, so a
    renamed stage reads under its new name and a retired one stays readable."""
    pipeline_id, expected_version, pipelines = cmd.pipeline_id, cmd.expected_version, uow.pipelines
    with user_input():
        access.require_pipeline_admin(cmd.actor.viewer)
    for _ in range(MAX_WRITE_ATTEMPTS):
        pipeline = await _pipeline(pipelines, pipeline_id)
        if expected_version is not None and pipeline.version != expected_version:
            raise Conflict(
                f"pipeline {pipeline_id} is at version {pipeline.version}, not "
                f"{expected_version}: reload it and try again",
                currentVersion=pipeline.version,
            )
        with user_input():
            changed = cmd.change(pipeline)
        if await pipelines.save(changed, pipeline.version):
            return changed
        if expected_version is not None:
            current = await _pipeline(pipelines, pipeline_id)
            raise Conflict(
                f"pipeline {pipeline_id} changed meanwhile (version {current.version})",
                currentVersion=current.version,
            )
    raise Conflict(f"pipeline {pipeline_id} keeps changing under concurrent writes; try again")


def stage_spec(
    name: str, probability: float, kind: StageKind, rotting_days: int | None
) -> StageSpec:
    return StageSpec(name=name, probability=probability, kind=kind, rotting_days=rotting_days)


async def add_stage(cmd: AddStage, uow: UnitOfWork) -> tuple[Pipeline, Stage]:
    added: list[Stage] = []

    def change(pipeline: Pipeline) -> Pipeline:
        updated, stage = pipeline.add_stage(cmd.spec, cmd.position)
        added[:] = [stage]
        return updated

    pipeline = await change_pipeline(
        ChangePipeline(cmd.pipeline_id, change, cmd.expected_version, actor=cmd.actor), uow
    )
    return pipeline, added[0]


async def _pipeline(pipelines: PipelineRepository, pipeline_id: str) -> Pipeline:
    pipeline = await pipelines.get(pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id} does not exist")
    return pipeline


# -- opportunities -------------------------------------------------------------------------


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
    uow: UnitOfWork,
    *,
    customer_wait_seconds: float = 2.0,
    clock: Clock = now,
    make_id: IdFactory = new_id,
) -> Opportunity:
    actor, opportunities, customers = cmd.actor, uow.opportunities, uow.customers
    with user_input():
        amount = Money.of(cmd.amount, cmd.currency)
        customer_id = check_id_shape(cmd.customer_id, "customer id")
        owner_id = check_id_shape(cmd.owner_id or actor.user_id, "owner id")
        team = access.assignment(actor.viewer, owner_id, None, explicit_team=cmd.team)
    pipeline = await _pipeline(uow.pipelines, cmd.pipeline_id or DEFAULT_PIPELINE_ID)
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
                team=team,
                priority=cmd.priority,
                next_step=cmd.next_step,
                source=source,
            )

    source: dict[str, str] | None = None
    opportunity = await build()  # every rule checked before we may wait for the customer
    if not await customers.exists(customer_id):
        # The customers database is not ours to read: we know the customers whose
        # ``customers.customer.created`` event reached us, and wait briefly for a new one.
        if not await wait_for_customer(customers, customer_id, customer_wait_seconds):
            raise NotFound(f"customer {customer_id} does not exist", customerId=customer_id)
        opportunity = await build()  # fresh time and position after the wait
    survivor = await customers.survivor_of(customer_id)
    if survivor is not None:
        # Merged into another customer (customers.customer.merged): the deal goes to the
        # survivor, as every older deal of the merged customer did.
        customer_id = survivor
    # The deal takes its customer's lead source when it is opened (source attribution).
    source = await customers.source_of(customer_id)
    opportunity = await build()
    await require_customer_visible(customers, actor, customer_id)
    await uow.add(opportunity, by=actor)
    return opportunity


# A change of one opportunity: given the loaded deal and its pipeline, mutate the deal through
# one of its methods (which checks the rules and records the events).
Change = Callable[[Opportunity, Pipeline], Awaitable[None]]


async def change_opportunity(
    opportunity_id: str,
    expected_version: int | None,
    change: Change,
    uow: UnitOfWork,
    *,
    actor: Actor,
    by_the_system: bool = False,
) -> Opportunity:
    """Load, check version and access, apply, write the state and its events in ONE write
    conditioned on the loaded version. Without ``expected_version`` a lost race is retried on
    fresh state; with it, the caller gets ``CONFLICT`` and nothing is written.
    ``by_the_system``: a consequence of another service's event (merge, transfer), which the
    caller's own access rule does not govern."""
    opportunities = uow.opportunities
    for _ in range(MAX_WRITE_ATTEMPTS):
        opportunity = await _opportunity(opportunities, opportunity_id)
        if not by_the_system:
            _require_change(actor, opportunity)
            await require_customer_visible(uow.customers, actor, opportunity.customer_id)
        _check_version(opportunity, expected_version)
        pipeline = await _pipeline(uow.pipelines, opportunity.pipeline_id)
        loaded_version = opportunity.version
        with user_input():
            await change(opportunity, pipeline)
        if await uow.save(opportunity, loaded_version, by=actor):
            return opportunity
        if expected_version is not None:
            # Someone wrote between our read and our write: the caller's view is stale.
            current = await _opportunity(opportunities, opportunity_id)
            raise _conflict(current, expected_version)
    raise Conflict(
        f"opportunity {opportunity_id} keeps changing under concurrent writes; try again"
    )


async def require_customer_visible(
    customers: KnownCustomers, actor: Actor, customer_id: str
) -> None:
    """A caller opens, moves or closes a deal only on a customer they may see, by the suite's
    one rule (``crm_common.access``) over the owner and team the customer events announced.
    A customer of no known owner is seen by those who see everything (admins) only."""
    owner = await customers.owner_of(customer_id)
    if not access.can_see_customer(
        actor.viewer, owner.owner_id if owner else None, owner.team if owner else None
    ):
        raise Forbidden(
            f"you may not open or change deals of customer {customer_id}", customerId=customer_id
        )


def _require_change(actor: Actor, opportunity: Opportunity) -> None:
    if not access.can_change(actor.viewer, opportunity.owner_id, opportunity.team):
        raise Forbidden(
            f"you may not change opportunity {opportunity.id}", opportunityId=opportunity.id
        )


async def move_opportunity(
    cmd: MoveOpportunity, uow: UnitOfWork, *, clock: Clock = now
) -> Opportunity:
    actor = cmd.actor

    async def change(opportunity: Opportunity, pipeline: Pipeline) -> None:
        if opportunity.is_closed:
            raise BadUserInput(
                f"opportunity {opportunity.id} is {opportunity.status}: a closed deal cannot "
                "be moved (reopen it first)",
                status=str(opportunity.status),
            )
        if cmd.stage_id != opportunity.stage_id:
            pipeline.require_stage(cmd.stage_id)
        position = await _position_for(uow.opportunities, opportunity, cmd)
        opportunity.move(
            pipeline=pipeline,
            to_stage_id=cmd.stage_id,
            position=position,
            actor_id=actor.user_id,
            at=clock(),
        )

    return await change_opportunity(
        cmd.opportunity_id, cmd.expected_version, change, uow, actor=actor
    )


async def _end_of_column(
    opportunities: OpportunityRepository, opportunity: Opportunity, stage_id: str
) -> str:
    last = await opportunities.position_before(
        opportunity.pipeline_id, stage_id, None, opportunity.id
    )
    return rank_between(last, None)


async def win_opportunity(
    cmd: WinOpportunity, uow: UnitOfWork, *, clock: Clock = now
) -> Opportunity:
    actor = cmd.actor

    async def change(opportunity: Opportunity, pipeline: Pipeline) -> None:
        opportunity.require_open("won")
        won = pipeline.stage_of_kind(StageKind.WON)
        position = await _end_of_column(uow.opportunities, opportunity, won.id)
        opportunity.win(pipeline=pipeline, position=position, actor_id=actor.user_id, at=clock())

    return await change_opportunity(
        cmd.opportunity_id, cmd.expected_version, change, uow, actor=actor
    )


async def lose_opportunity(
    cmd: LoseOpportunity, uow: UnitOfWork, *, clock: Clock = now
) -> Opportunity:
    actor = cmd.actor

    async def change(opportunity: Opportunity, pipeline: Pipeline) -> None:
        opportunity.require_open("lost")
        lost = pipeline.stage_of_kind(StageKind.LOST)
        position = await _end_of_column(uow.opportunities, opportunity, lost.id)
        opportunity.lose(
            pipeline=pipeline,
            reason=cmd.reason,
            position=position,
            actor_id=actor.user_id,
            at=clock(),
        )

    return await change_opportunity(
        cmd.opportunity_id, cmd.expected_version, change, uow, actor=actor
    )


async def reopen_opportunity(
    cmd: ReopenOpportunity, uow: UnitOfWork, *, clock: Clock = now
) -> Opportunity:
    actor = cmd.actor

    async def change(opportunity: Opportunity, pipeline: Pipeline) -> None:
        if not opportunity.is_closed:
            raise BadUserInput(f"opportunity {opportunity.id} is OPEN: only a closed deal reopens")
        stage = pipeline.require_stage(cmd.stage_id)
        position = await _end_of_column(uow.opportunities, opportunity, stage.id)
        opportunity.reopen(
            pipeline=pipeline,
            to_stage_id=stage.id,
            position=position,
            actor_id=actor.user_id,
            at=clock(),
        )

    return await change_opportunity(
        cmd.opportunity_id, cmd.expected_version, change, uow, actor=actor
    )


async def update_opportunity(
    cmd: UpdateOpportunity, uow: UnitOfWork, *, clock: Clock = now
) -> Opportunity:
    actor = cmd.actor
    with user_input():
        amount = UNSET if isinstance(cmd.amount, Unset) else Money.of(*cmd.amount)

    async def change(opportunity: Opportunity, pipeline: Pipeline) -> None:
        team: str | Unset | None = cmd.team
        if not isinstance(cmd.owner_id, Unset) or not isinstance(cmd.team, Unset):
            owner = opportunity.owner_id if isinstance(cmd.owner_id, Unset) else cmd.owner_id
            explicit = None if isinstance(cmd.team, Unset) else cmd.team
            if owner != opportunity.owner_id or explicit is not None:
                team = access.assignment(
                    actor.viewer, owner, opportunity.team, explicit_team=explicit
                )
        opportunity.update(
            OpportunityChanges(
                title=cmd.title,
                amount=amount,
                owner_id=cmd.owner_id,
                team=team,
                expected_close_date=cmd.expected_close_date,
                priority=cmd.priority,
                next_step=cmd.next_step,
            ),
            pipeline=pipeline,
            actor_id=actor.user_id,
            at=clock(),
        )

    return await change_opportunity(
        cmd.opportunity_id, cmd.expected_version, change, uow, actor=actor
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
