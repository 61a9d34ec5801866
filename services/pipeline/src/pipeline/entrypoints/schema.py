"""The pipeline subgraph (Strawberry, Apollo Federation v2).

Owns ``Pipeline``, ``Stage`` and the ``Opportunity`` entity; contributes ``opportunities`` and
``openPipelineValue`` to the ``Customer`` entity owned by the customers subgraph. Reads of
entities go through per-request DataLoaders, so an ``_entities`` request for N customers
costs one MongoDB query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar, cast

import strawberry
from strawberry.types import Info

from crm_common import relay
from crm_common.errors import BadUserInput, NotFound
from crm_common.graphql import SubgraphSchema, subgraph_extensions
from crm_common.pagination import Page, page_size
from crm_common.relay import PageInfo
from pipeline.adapters.mongo import ColumnTotal, OpportunityPage
from pipeline.adapters.mongo import OpportunityFilter as OpportunityQuery
from pipeline.domain import model
from pipeline.domain.money import Money as DomainMoney
from pipeline.domain.money import totals_by_currency
from pipeline.entrypoints.context import PipelineContext
from pipeline.service_layer import services

Ctx = Info[PipelineContext, None]
F = TypeVar("F", bound=Callable[..., Any])


def described_field(description: str) -> Callable[[F], F]:
    """``@strawberry.field(description=...)`` with the resolver's type kept for mypy."""
    return cast("Callable[[F], F]", strawberry.field(description=description))


def described_mutation(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.mutation(description=description))


def _parse_decimal(value: object) -> Decimal:
    """Input amounts: a decimal string (or number); anything else is the caller's error."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadUserInput(f"{value!r} is not a decimal number (send it as a string)")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise BadUserInput(f"{value!r} is not a decimal number") from None


# Strawberry's Decimal scalar, with a BAD_USER_INPUT error for non-numeric input instead of an
# internal error. Same name and wire form ("Decimal", a string).
DecimalScalar = strawberry.scalar(
    Decimal,
    name="Decimal",
    description="Decimal (fixed-point)",
    serialize=str,
    parse_value=_parse_decimal,
)


@strawberry.enum
class StageKind(Enum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


@strawberry.enum
class OpportunityStatus(Enum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


@strawberry.enum
class Priority(Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


@strawberry.federation.type(shareable=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, money: DomainMoney) -> Money:
        return cls(amount=money.amount, currency=money.currency)


@strawberry.type
class Stage:
    id: strawberry.ID
    name: str
    order: int
    probability: float
    kind: StageKind
    rotting_days: int | None = strawberry.field(
        description="Days without change after which an open deal in this stage is idle."
    )
    retired: bool = strawberry.field(
        description="A retired stage takes no deals; the deals and history naming it stay."
    )

    @classmethod
    def of(cls, stage: model.Stage) -> Stage:
        return cls(
            id=strawberry.ID(stage.id),
            name=stage.name,
            order=stage.order,
            probability=stage.probability,
            kind=StageKind(stage.kind.value),
            rotting_days=stage.rotting_days,
            retired=stage.retired,
        )


@strawberry.type
class Pipeline:
    id: strawberry.ID
    name: str
    version: int
    domain: strawberry.Private[model.Pipeline]

    @described_field("The stages in order; retired ones only when asked for.")
    def stages(self, include_retired: bool = False) -> list[Stage]:
        stages = self.domain.stages if include_retired else self.domain.active_stages
        return [Stage.of(s) for s in stages]

    @classmethod
    def of(cls, pipeline: model.Pipeline) -> Pipeline:
        return cls(
            id=strawberry.ID(pipeline.id),
            name=pipeline.name,
            version=pipeline.version,
            domain=pipeline,
        )


async def _stage(info: Ctx, pipeline_id: str, stage_id: str | None) -> Stage | None:
    if stage_id is None:
        return None
    pipeline = await info.context.loaders.pipeline.load(pipeline_id)
    stage = pipeline.stage(stage_id) if pipeline else None
    return Stage.of(stage) if stage else None


@strawberry.type(description="One move of an opportunity between stages, with that moment's facts.")
class StageTransition:
    from_stage_id: strawberry.ID | None
    to_stage_id: strawberry.ID
    at: datetime
    actor_id: strawberry.ID | None
    owner_id: strawberry.ID = strawberry.field(description="The deal's owner at that moment.")
    amount: Money = strawberry.field(description="The deal's amount at that moment.")
    pipeline_id: strawberry.Private[str]

    @strawberry.field
    async def from_stage(self, info: Ctx) -> Stage | None:
        return await _stage(info, self.pipeline_id, self.from_stage_id)

    @strawberry.field
    async def to_stage(self, info: Ctx) -> Stage | None:
        return await _stage(info, self.pipeline_id, self.to_stage_id)

    @classmethod
    def of(cls, t: model.StageTransition, pipeline_id: str) -> StageTransition:
        return cls(
            from_stage_id=strawberry.ID(t.from_stage_id) if t.from_stage_id else None,
            to_stage_id=strawberry.ID(t.to_stage_id),
            at=t.at,
            actor_id=strawberry.ID(t.actor_id) if t.actor_id else None,
            owner_id=strawberry.ID(t.owner_id),
            amount=Money.of(t.amount),
            pipeline_id=pipeline_id,
        )


@strawberry.federation.type(keys=["id"])
class Opportunity:
    id: strawberry.ID
    title: str
    amount: Money
    owner_id: strawberry.ID
    status: OpportunityStatus
    position: str = strawberry.field(
        description="Rank of the card in its stage's column; sorts as a plain string."
    )
    expected_close_date: date | None
    lost_reason: str | None
    priority: Priority
    next_step: str | None
    team: str | None
    closed_at: datetime | None
    stage_history: list[StageTransition] = strawberry.field(
        description="Append-only: every stage change, oldest first."
    )
    version: int
    created_at: datetime
    updated_at: datetime
    customer_id: strawberry.Private[str]
    pipeline_id: strawberry.Private[str]
    stage_id: strawberry.Private[str]
    domain: strawberry.Private[model.Opportunity]

    @described_field("Open, and unchanged for longer than its stage's rotting threshold.")
    async def idle(self, info: Ctx) -> bool:
        pipeline = await info.context.loaders.pipeline.load(self.pipeline_id)
        stage = pipeline.stage(self.stage_id) if pipeline else None
        return self.domain.is_idle(stage, services.now())

    @strawberry.field
    def customer(self) -> Customer | None:
        return Customer(id=strawberry.ID(self.customer_id))

    @strawberry.field
    async def pipeline(self, info: Ctx) -> Pipeline:
        pipeline = await info.context.loaders.pipeline.load(self.pipeline_id)
        if pipeline is None:
            raise NotFound(f"pipeline {self.pipeline_id} does not exist")
        return Pipeline.of(pipeline)

    @strawberry.field
    async def stage(self, info: Ctx) -> Stage:
        stage = await _stage(info, self.pipeline_id, self.stage_id)
        if stage is None:
            raise NotFound(f"stage {self.stage_id} does not exist")
        return stage

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Opportunity | None:
        found = await info.context.loaders.opportunity.load(str(id))
        return cls.of(info.context.readable(found)) if found else None

    @classmethod
    def of(cls, o: model.Opportunity) -> Opportunity:
        return cls(
            id=strawberry.ID(o.id),
            title=o.title,
            amount=Money.of(o.amount),
            owner_id=strawberry.ID(o.owner_id),
            status=OpportunityStatus(o.status.value),
            position=o.position,
            expected_close_date=o.expected_close_date,
            lost_reason=o.lost_reason,
            priority=Priority(o.priority.value),
            next_step=o.next_step,
            team=o.team,
            closed_at=o.closed_at,
            stage_history=[StageTransition.of(t, o.pipeline_id) for t in o.stage_history],
            version=o.version,
            created_at=o.created_at,
            updated_at=o.updated_at,
            customer_id=o.customer_id,
            pipeline_id=o.pipeline_id,
            stage_id=o.stage_id,
            domain=o,
        )


@strawberry.federation.type(keys=["id"])
class Customer:
    """The customers subgraph's entity; this subgraph adds the customer's deals."""

    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        return cls(id=id)

    @described_field("The customer's opportunities that the caller may see, newest first.")
    async def opportunities(
        self, info: Ctx, status: OpportunityStatus | None = None
    ) -> list[Opportunity] | None:
        found = await info.context.loaders.opportunities_by_customer.load(str(self.id))
        return [
            Opportunity.of(o) for o in found if status is None or o.status.value == status.value
        ]

    @described_field(
        "Total amount of the customer's OPEN opportunities that the caller may see, one entry "
        "per currency."
    )
    async def open_pipeline_value(self, info: Ctx) -> list[Money] | None:
        found = await info.context.loaders.opportunities_by_customer.load(str(self.id))
        totals = totals_by_currency(
            [o.amount for o in found if o.status is model.OpportunityStatus.OPEN]
        )
        return [Money.of(m) for m in totals]


@strawberry.type
class OpportunityEdge:
    cursor: str
    node: Opportunity


@strawberry.type
class OpportunityConnection:
    edges: list[OpportunityEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input
class MoneyInput:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")


@strawberry.input
class CreateOpportunityInput:
    title: str
    customer_id: strawberry.ID
    amount: MoneyInput
    pipeline_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the default pipeline."
    )
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the pipeline's first stage."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the caller."
    )
    expected_close_date: date | None = None
    priority: Priority = Priority.MEDIUM
    next_step: str | None = None
    team: str | None = strawberry.field(
        default=None, description="Admins only: the team; otherwise the caller's team."
    )


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class UpdateOpportunityInput:
    title: str | None = strawberry.UNSET
    amount: MoneyInput | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    team: str | None = strawberry.UNSET
    expected_close_date: date | None = strawberry.UNSET
    priority: Priority | None = strawberry.UNSET
    next_step: str | None = strawberry.UNSET


@strawberry.input
class StageInput:
    name: str
    probability: float
    kind: StageKind
    rotting_days: int | None = None


@strawberry.input(description="Only the fields given change; rottingDays null removes it.")
class UpdateStageInput:
    name: str | None = strawberry.UNSET
    probability: float | None = strawberry.UNSET
    rotting_days: int | None = strawberry.UNSET


@strawberry.input
class CreatePipelineInput:
    name: str
    stages: list[StageInput]


@strawberry.input
class OpportunityFilter:
    status: OpportunityStatus | None = None
    owner_id: strawberry.ID | None = None
    customer_id: strawberry.ID | None = None
    pipeline_id: strawberry.ID | None = None
    stage_id: strawberry.ID | None = None
    idle: bool | None = strawberry.field(
        default=None, description="true: only idle (rotting) open deals."
    )


@strawberry.input
class BoardFilter:
    owner_id: strawberry.ID | None = None
    idle: bool | None = strawberry.field(
        default=None,
        description="true: only open deals unchanged for longer than their stage's rotting days.",
    )


def _opt(value: strawberry.ID | None) -> str | None:
    return str(value) if value is not None else None


def _connection(page: OpportunityPage, after: str | None, total: int) -> OpportunityConnection:
    edges, page_info = relay.connection(
        Page(page.items, page.has_next_page, after is not None),
        lambda cursor, o: OpportunityEdge(cursor=cursor, node=Opportunity.of(o)),
    )
    return OpportunityConnection(edges=edges, page_info=page_info, total_count=total)


def _idle_cutoffs(pipeline: model.Pipeline) -> dict[str, datetime]:
    at = services.now()
    return {
        s.id: at - timedelta(days=s.rotting_days)
        for s in pipeline.stages
        if s.rotting_days is not None and s.kind is model.StageKind.OPEN
    }


def _weighted(total: Decimal, currency: str, probability: float) -> DomainMoney:
    digits = DomainMoney.of(0, currency).minor_units
    value = (total * Decimal(str(probability))).quantize(
        Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN
    )
    return DomainMoney(value, currency)


@strawberry.type
class BoardColumn:
    stage: Stage
    count: int
    total_amount: list[Money] = strawberry.field(description="Per currency.")
    weighted_amount: list[Money] = strawberry.field(
        description="Per currency: total times the stage's probability."
    )
    where: strawberry.Private[OpportunityQuery]

    @described_field("The column's cards in board order (the position the users dragged).")
    async def opportunities(
        self, info: Ctx, first: int | None = 20, after: str | None = None
    ) -> OpportunityConnection:
        size = page_size(first)
        page = await info.context.services.opportunities.column_page(self.where, size, after)
        return _connection(page, after, self.count)


@strawberry.type
class Board:
    pipeline: Pipeline
    columns: list[BoardColumn]


async def _board(
    info: Ctx,
    pipeline_id: str,
    filter: BoardFilter | None,
    include_closed: bool,
) -> Board:
    pipeline = await info.context.services.pipelines.get(pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id} does not exist")
    where = OpportunityQuery(
        pipeline_id=pipeline.id,
        status=None if include_closed else model.OpportunityStatus.OPEN,
        owner_id=_opt(filter.owner_id) if filter else None,
        scope=info.context.scope,
        idle_before=_idle_cutoffs(pipeline) if filter and filter.idle else None,
    )
    totals = await info.context.services.opportunities.column_totals(where)
    by_stage: dict[str, list[ColumnTotal]] = {}
    for total in totals:
        by_stage.setdefault(total.stage_id, []).append(total)
    columns = []
    for stage in pipeline.stages:
        found = sorted(by_stage.get(stage.id, []), key=lambda t: t.currency)
        if stage.is_closed and not include_closed:
            continue
        if stage.retired and not found:
            continue  # a retired stage shows only while deals still sit in it
        columns.append(
            BoardColumn(
                stage=Stage.of(stage),
                count=sum(t.count for t in found),
                total_amount=[Money.of(DomainMoney(t.total, t.currency)) for t in found],
                weighted_amount=[
                    Money.of(_weighted(t.total, t.currency, stage.probability)) for t in found
                ],
                where=replace(where, stage_id=stage.id),
            )
        )
    return Board(pipeline=Pipeline.of(pipeline), columns=columns)


@strawberry.type
class Query:
    @strawberry.field
    async def pipelines(self, info: Ctx) -> list[Pipeline] | None:
        return [Pipeline.of(p) for p in await info.context.services.pipelines.list_all()]

    @strawberry.field
    async def pipeline(self, info: Ctx, id: strawberry.ID) -> Pipeline | None:
        found = await info.context.loaders.pipeline.load(str(id))
        return Pipeline.of(found) if found else None

    @strawberry.field
    async def opportunity(self, info: Ctx, id: strawberry.ID) -> Opportunity | None:
        found = await info.context.loaders.opportunity.load(str(id))
        return Opportunity.of(info.context.readable(found)) if found else None

    @described_field("Opportunities the caller may see, newest first.")
    async def opportunities(
        self,
        info: Ctx,
        filter: OpportunityFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> OpportunityConnection | None:
        size = page_size(first)
        where = OpportunityQuery(scope=info.context.scope)
        if filter is not None:
            idle_before = None
            if filter.idle:
                pipelines = await info.context.services.pipelines.list_all()
                idle_before = {k: v for p in pipelines for k, v in _idle_cutoffs(p).items()}
            where = OpportunityQuery(
                status=model.OpportunityStatus(filter.status.value) if filter.status else None,
                owner_id=_opt(filter.owner_id),
                customer_id=_opt(filter.customer_id),
                pipeline_id=_opt(filter.pipeline_id),
                stage_id=_opt(filter.stage_id),
                scope=info.context.scope,
                idle_before=idle_before,
            )
        page = await info.context.services.opportunities.page(where, size, after)
        return _connection(page, after, page.total_count)

    @described_field(
        "The pipeline as a board: one column per stage (OPEN stages unless includeClosed; a "
        "retired stage while deals sit in it) with count, totals and weighted totals per "
        "currency and the cards in the order users dragged them."
    )
    async def board(
        self,
        info: Ctx,
        pipeline_id: strawberry.ID,
        filter: BoardFilter | None = None,
        include_closed: bool = False,
    ) -> Board | None:
        return await _board(info, str(pipeline_id), filter, include_closed)


def _unset(value: Any) -> Any:
    return model.UNSET if value is strawberry.UNSET else value


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_pipeline(self, info: Ctx, input: CreatePipelineInput) -> Pipeline:
        pipeline = await services.create_pipeline(
            services.CreatePipeline(
                name=input.name,
                stages=[
                    model.StageSpec(
                        name=s.name,
                        probability=s.probability,
                        kind=model.StageKind(s.kind.value),
                        rotting_days=s.rotting_days,
                    )
                    for s in input.stages
                ],
            ),
            actor=info.context.actor,
            pipelines=info.context.services.pipelines,
        )
        return Pipeline.of(pipeline)

    @described_mutation("Rename a pipeline (managers and admins).")
    async def rename_pipeline(
        self, info: Ctx, id: strawberry.ID, name: str, expected_version: int | None = None
    ) -> Pipeline:
        pipeline = await services.change_pipeline(
            str(id),
            lambda p: p.rename(name),
            actor=info.context.actor,
            pipelines=info.context.services.pipelines,
            expected_version=expected_version,
        )
        return Pipeline.of(pipeline)

    @described_mutation(
        "Add an OPEN stage at a 1-based position among the stages (default: after the last "
        "OPEN stage)."
    )
    async def add_stage(
        self,
        info: Ctx,
        pipeline_id: strawberry.ID,
        input: StageInput,
        position: int | None = None,
        expected_version: int | None = None,
    ) -> Pipeline:
        pipeline, _ = await services.add_stage(
            str(pipeline_id),
            model.StageSpec(
                name=input.name,
                probability=input.probability,
                kind=model.StageKind(input.kind.value),
                rotting_days=input.rotting_days,
            ),
            position,
            actor=info.context.actor,
            pipelines=info.context.services.pipelines,
            expected_version=expected_version,
        )
        return Pipeline.of(pipeline)

    @described_mutation("Rename a stage, change its probability or rotting threshold.")
    async def update_stage(
        self,
        info: Ctx,
        pipeline_id: strawberry.ID,
        stage_id: strawberry.ID,
        input: UpdateStageInput,
        expected_version: int | None = None,
    ) -> Pipeline:
        name = None if input.name is strawberry.UNSET else input.name
        probability = None if input.probability is strawberry.UNSET else input.probability
        rotting = _unset(input.rotting_days)
        if name is None and input.name is None:
            raise BadUserInput("a stage name cannot be null")
        pipeline = await services.change_pipeline(
            str(pipeline_id),
            lambda p: p.update_stage(
                str(stage_id), name=name, probability=probability, rotting_days=rotting
            ),
            actor=info.context.actor,
            pipelines=info.context.services.pipelines,
            expected_version=expected_version,
        )
        return Pipeline.of(pipeline)

    @described_mutation("Put the OPEN stages in this order (WON and LOST stay last).")
    async def reorder_stages(
        self,
        info: Ctx,
        pipeline_id: strawberry.ID,
        stage_ids: list[strawberry.ID],
        expected_version: int | None = None,
    ) -> Pipeline:
        pipeline = await services.change_pipeline(
            str(pipeline_id),
            lambda p: p.reorder([str(i) for i in stage_ids]),
            actor=info.context.actor,
            pipelines=info.context.services.pipelines,
            expected_version=expected_version,
        )
        return Pipeline.of(pipeline)

    @described_mutation(
        "Retire an OPEN stage: it takes no new deals and leaves the board; deals in it stay "
        "readable and can be moved out."
    )
    async def retire_stage(
        self,
        info: Ctx,
        pipeline_id: strawberry.ID,
        stage_id: strawberry.ID,
        expected_version: int | None = None,
    ) -> Pipeline:
        pipeline = await services.change_pipeline(
            str(pipeline_id),
            lambda p: p.retire_stage(str(stage_id)),
            actor=info.context.actor,
            pipelines=info.context.services.pipelines,
            expected_version=expected_version,
        )
        return Pipeline.of(pipeline)

    @strawberry.mutation
    async def create_opportunity(self, info: Ctx, input: CreateOpportunityInput) -> Opportunity:
        svc = info.context.services
        opportunity = await services.create_opportunity(
            services.CreateOpportunity(
                title=input.title,
                customer_id=str(input.customer_id),
                amount=input.amount.amount,
                currency=input.amount.currency,
                pipeline_id=_opt(input.pipeline_id),
                stage_id=_opt(input.stage_id),
                owner_id=_opt(input.owner_id),
                expected_close_date=input.expected_close_date,
                priority=model.Priority(input.priority.value),
                next_step=input.next_step,
                team=input.team,
            ),
            actor=info.context.actor,
            pipelines=svc.pipelines,
            opportunities=svc.opportunities,
            customers=svc.customers,
            notify_outbox=svc.notify_outbox,
            customer_wait_seconds=svc.settings.customer_wait_seconds,
        )
        return Opportunity.of(opportunity)

    @described_mutation(
        "Change an opportunity's fields; emits pipeline.opportunity.updated with the previous "
        "values of what changed."
    )
    async def update_opportunity(
        self,
        info: Ctx,
        id: strawberry.ID,
        input: UpdateOpportunityInput,
        expected_version: int | None = None,
    ) -> Opportunity:
        svc = info.context.services
        for required in ("title", "amount", "owner_id", "priority"):
            if getattr(input, required) is None:
                raise BadUserInput(f"{required} cannot be null")
        amount: Any = model.UNSET
        if isinstance(input.amount, MoneyInput):
            amount = (input.amount.amount, input.amount.currency)
        owner = input.owner_id
        priority = input.priority
        opportunity = await services.update_opportunity(
            services.UpdateOpportunity(
                opportunity_id=str(id),
                title=_unset(input.title),
                amount=amount,
                owner_id=model.UNSET if owner is strawberry.UNSET else str(owner),
                team=_unset(input.team),
                expected_close_date=_unset(input.expected_close_date),
                priority=(
                    model.Priority(priority.value)
                    if isinstance(priority, Priority)
                    else model.UNSET
                ),
                next_step=_unset(input.next_step),
                expected_version=expected_version,
            ),
            actor=info.context.actor,
            pipelines=svc.pipelines,
            opportunities=svc.opportunities,
            customers=svc.customers,
            notify_outbox=svc.notify_outbox,
        )
        return Opportunity.of(opportunity)

    @described_mutation(
        "Move an opportunity to a stage of its pipeline. beforeId: place it just above "
        "that card; afterId: just below that card; neither: at the end of the column."
    )
    async def move_opportunity(
        self,
        info: Ctx,
        id: strawberry.ID,
        stage_id: strawberry.ID,
        before_id: strawberry.ID | None = None,
        after_id: strawberry.ID | None = None,
        expected_version: int | None = None,
    ) -> Opportunity:
        svc = info.context.services
        opportunity = await services.move_opportunity(
            services.MoveOpportunity(
                opportunity_id=str(id),
                stage_id=str(stage_id),
                before_id=_opt(before_id),
                after_id=_opt(after_id),
                expected_version=expected_version,
            ),
            actor=info.context.actor,
            pipelines=svc.pipelines,
            opportunities=svc.opportunities,
            customers=svc.customers,
            notify_outbox=svc.notify_outbox,
        )
        return Opportunity.of(opportunity)

    @described_mutation("Close an open deal as WON (into the pipeline's WON stage).")
    async def win_opportunity(
        self, info: Ctx, id: strawberry.ID, expected_version: int | None = None
    ) -> Opportunity:
        svc = info.context.services
        opportunity = await services.win_opportunity(
            str(id),
            expected_version,
            actor=info.context.actor,
            pipelines=svc.pipelines,
            opportunities=svc.opportunities,
            customers=svc.customers,
            notify_outbox=svc.notify_outbox,
        )
        return Opportunity.of(opportunity)

    @described_mutation("Close an open deal as LOST; the reason is required.")
    async def lose_opportunity(
        self, info: Ctx, id: strawberry.ID, reason: str, expected_version: int | None = None
    ) -> Opportunity:
        svc = info.context.services
        opportunity = await services.lose_opportunity(
            str(id),
            reason,
            expected_version,
            actor=info.context.actor,
            pipelines=svc.pipelines,
            opportunities=svc.opportunities,
            customers=svc.customers,
            notify_outbox=svc.notify_outbox,
        )
        return Opportunity.of(opportunity)

    @described_mutation("Reopen a WON or LOST deal into an OPEN stage (clears the lost reason).")
    async def reopen_opportunity(
        self,
        info: Ctx,
        id: strawberry.ID,
        stage_id: strawberry.ID,
        expected_version: int | None = None,
    ) -> Opportunity:
        svc = info.context.services
        opportunity = await services.reopen_opportunity(
            str(id),
            str(stage_id),
            expected_version,
            actor=info.context.actor,
            pipelines=svc.pipelines,
            opportunities=svc.opportunities,
            customers=svc.customers,
            notify_outbox=svc.notify_outbox,
        )
        return Opportunity.of(opportunity)


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[Customer, Opportunity],
    extensions=subgraph_extensions(),
    scalar_overrides={Decimal: DecimalScalar},
)
