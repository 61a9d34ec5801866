"""The pipeline subgraph's output types: ``Pipeline``, ``Stage``, the ``Opportunity`` entity,
the fields it adds to the ``Customer`` entity of the customers subgraph (``opportunities``,
``openPipelineValue``), connections and the board. Entity reads go through per-request
DataLoaders, so an ``_entities`` request for N customers costs one MongoDB query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import strawberry
from strawberry.types import Info

from crm_common import relay
from crm_common.errors import BadUserInput, NotFound
from crm_common.pagination import Page, page_size
from crm_common.relay import PageInfo
from pipeline.domain import model
from pipeline.domain.catalogue import LineItem as DomainLineItem
from pipeline.domain.money import Money as DomainMoney
from pipeline.domain.money import totals_by_currency
from pipeline.entrypoints.context import PipelineContext
from pipeline.service_layer import services
from pipeline.service_layer.ports import OpportunityFilter as OpportunityQuery
from pipeline.service_layer.ports import OpportunityPage

if TYPE_CHECKING:
    from pipeline.entrypoints.quote_schema import Quote

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


@strawberry.type(description="A priced line of a deal (its product's sku and name copied).")
class LineItem:
    product_id: strawberry.ID
    sku: str
    name: str
    quantity: Decimal
    unit_price: Money
    discount_percent: Decimal
    total: Money = strawberry.field(
        description="quantity x unitPrice x (1 - discount/100), half-even to the minor unit."
    )

    @classmethod
    def of(cls, line: DomainLineItem) -> LineItem:
        return cls(
            product_id=strawberry.ID(line.product_id),
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=Money.of(line.unit_price),
            discount_percent=line.discount_percent,
            total=Money.of(line.total),
        )


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

    @described_field("The deal's quotes, oldest first.")
    async def quotes(
        self, info: Ctx
    ) -> list[Annotated[Quote, strawberry.lazy("pipeline.entrypoints.quote_schema")]]:
        from pipeline.entrypoints.quote_schema import opportunity_quotes

        return await opportunity_quotes(self, info)

    @described_field(
        "The deal's products; when there are any, amount is their exact sum (setLineItems)."
    )
    def line_items(self) -> list[LineItem]:
        return [LineItem.of(line) for line in self.domain.line_items]

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


def opportunity_connection(
    page: OpportunityPage, after: str | None, total: int
) -> OpportunityConnection:
    edges, page_info = relay.connection(
        Page(page.items, page.has_next_page, after is not None),
        lambda cursor, o: OpportunityEdge(cursor=cursor, node=Opportunity.of(o)),
    )
    return OpportunityConnection(edges=edges, page_info=page_info, total_count=total)


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
        page = await info.context.services.uow.opportunities.column_page(self.where, size, after)
        return opportunity_connection(page, after, self.count)


@strawberry.type
class Board:
    pipeline: Pipeline
    columns: list[BoardColumn]
