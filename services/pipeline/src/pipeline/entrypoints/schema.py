"""The pipeline subgraph (Strawberry, Apollo Federation v2).

Owns ``Pipeline``, ``Stage`` and the ``Opportunity`` entity; contributes ``opportunities`` and
``openPipelineValue`` to the ``Customer`` entity owned by the customers subgraph. Reads of
entities go through per-request DataLoaders, so an ``_entities`` request for N customers
costs one MongoDB query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, cast

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext, Info

from crm_common.errors import BadUserInput, CrmError, NotFound
from crm_common.graphql import ErrorCodes
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


MAX_PAGE_SIZE = 100


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
    rotting_days: int | None

    @classmethod
    def of(cls, stage: model.Stage) -> Stage:
        return cls(
            id=strawberry.ID(stage.id),
            name=stage.name,
            order=stage.order,
            probability=stage.probability,
            kind=StageKind(stage.kind.value),
            rotting_days=stage.rotting_days,
        )


@strawberry.type
class Pipeline:
    id: strawberry.ID
    name: str
    stages: list[Stage]

    @classmethod
    def of(cls, pipeline: model.Pipeline) -> Pipeline:
        return cls(
            id=strawberry.ID(pipeline.id),
            name=pipeline.name,
            stages=[Stage.of(s) for s in pipeline.stages],
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
    stage_history: list[StageTransition]
    version: int
    created_at: datetime
    updated_at: datetime
    customer_id: strawberry.Private[str]
    pipeline_id: strawberry.Private[str]
    stage_id: strawberry.Private[str]

    @strawberry.field
    def customer(self) -> Customer:
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
        return cls.of(found) if found else None

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
            stage_history=[StageTransition.of(t, o.pipeline_id) for t in o.stage_history],
            version=o.version,
            created_at=o.created_at,
            updated_at=o.updated_at,
            customer_id=o.customer_id,
            pipeline_id=o.pipeline_id,
            stage_id=o.stage_id,
        )


@strawberry.federation.type(keys=["id"])
class Customer:
    """The customers subgraph's entity; this subgraph adds the customer's deals."""

    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        return cls(id=id)

    @described_field("The customer's opportunities, newest first.")
    async def opportunities(
        self, info: Ctx, status: OpportunityStatus | None = None
    ) -> list[Opportunity]:
        found = await info.context.loaders.opportunities_by_customer.load(str(self.id))
        return [
            Opportunity.of(o) for o in found if status is None or o.status.value == status.value
        ]

    @described_field("Total amount of the customer's OPEN opportunities, one entry per currency.")
    async def open_pipeline_value(self, info: Ctx) -> list[Money]:
        found = await info.context.loaders.opportunities_by_customer.load(str(self.id))
        totals = totals_by_currency(
            [o.amount for o in found if o.status is model.OpportunityStatus.OPEN]
        )
        return [Money.of(m) for m in totals]


@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


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


@strawberry.input
class StageInput:
    name: str
    probability: float
    kind: StageKind
    rotting_days: int | None = None


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


def _opt(value: strawberry.ID | None) -> str | None:
    return str(value) if value is not None else None


@strawberry.type
class Query:
    @strawberry.field
    async def pipelines(self, info: Ctx) -> list[Pipeline]:
        return [Pipeline.of(p) for p in await info.context.services.pipelines.list_all()]

    @strawberry.field
    async def pipeline(self, info: Ctx, id: strawberry.ID) -> Pipeline | None:
        found = await info.context.loaders.pipeline.load(str(id))
        return Pipeline.of(found) if found else None

    @strawberry.field
    async def opportunity(self, info: Ctx, id: strawberry.ID) -> Opportunity | None:
        found = await info.context.loaders.opportunity.load(str(id))
        return Opportunity.of(found) if found else None

    @described_field("Opportunities, newest first.")
    async def opportunities(
        self,
        info: Ctx,
        filter: OpportunityFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> OpportunityConnection:
        size = 20 if first is None else first
        if not 0 <= size <= MAX_PAGE_SIZE:
            raise BadUserInput(f"first must be between 0 and {MAX_PAGE_SIZE}")
        where = OpportunityQuery()
        if filter is not None:
            where = OpportunityQuery(
                status=model.OpportunityStatus(filter.status.value) if filter.status else None,
                owner_id=_opt(filter.owner_id),
                customer_id=_opt(filter.customer_id),
                pipeline_id=_opt(filter.pipeline_id),
                stage_id=_opt(filter.stage_id),
            )
        page = await info.context.services.opportunities.page(where, size, after)
        edges = [OpportunityEdge(cursor=c, node=Opportunity.of(o)) for c, o in page.items]
        return OpportunityConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total_count,
        )


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
            pipelines=info.context.services.pipelines,
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
            notify_outbox=svc.notify_outbox,
        )
        return Opportunity.of(opportunity)


class PipelineSchema(strawberry.federation.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # A CrmError is the caller's problem, answered with its code: not worth a traceback.
        unexpected = [e for e in errors if not isinstance(e.original_error, CrmError)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = PipelineSchema(
    query=Query,
    mutation=Mutation,
    types=[Customer, Opportunity],
    extensions=[ErrorCodes],
)
