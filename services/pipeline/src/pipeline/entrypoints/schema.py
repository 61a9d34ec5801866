"""The pipeline subgraph (Strawberry, Apollo Federation v2): its queries and mutations, each a
thin translation between GraphQL and a use case (``service_layer``); the types live in
``graphql_types.py`` and ``graphql_inputs.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry
from strawberry.tools import merge_types

from crm_common.errors import BadUserInput
from crm_common.graphql import SubgraphSchema, subgraph_extensions
from crm_common.pagination import page_size
from pipeline.domain import model
from pipeline.entrypoints.catalogue_schema import CatalogueMutation, CatalogueQuery
from pipeline.entrypoints.graphql_inputs import (
    BoardFilter,
    CreateOpportunityInput,
    CreatePipelineInput,
    MoneyInput,
    OpportunityFilter,
    OpportunitySort,
    SortDirection,
    StageInput,
    UpdateOpportunityInput,
    UpdateStageInput,
    optional_id,
    unset_if_absent,
)
from pipeline.entrypoints.graphql_types import (
    Board,
    BoardColumn,
    Ctx,
    Customer,
    DecimalScalar,
    Money,
    Opportunity,
    OpportunityConnection,
    Pipeline,
    Priority,
    Stage,
    described_field,
    described_mutation,
    opportunity_connection,
)
from pipeline.entrypoints.import_schema import ImportMutation
from pipeline.entrypoints.quote_schema import QuoteMutation, QuoteQuery
from pipeline.service_layer import commands, services
from pipeline.service_layer.board import BoardQuery, board_of, idle_cutoffs_everywhere
from pipeline.service_layer.ports import OpportunityFilter as OpportunityQuery
from pipeline.service_layer.ports import OpportunitySort as ListOrder
from pipeline.service_layer.ports import SortField


def check_amount_range(low: Decimal | None, high: Decimal | None) -> None:
    for name, value in (("amountMin", low), ("amountMax", high)):
        if value is not None and (not value.is_finite() or value < 0):
            raise BadUserInput(f"{name}: must be a non-negative amount", field=name)
    if low is not None and high is not None and low > high:
        raise BadUserInput("amountMin: must not exceed amountMax", field="amountMin")


async def _board(
    info: Ctx,
    pipeline_id: str,
    filter: BoardFilter | None,
    include_closed: bool,
) -> Board:
    view = await board_of(
        BoardQuery(
            pipeline_id=pipeline_id,
            scope=info.context.scope,
            owner_id=optional_id(filter.owner_id) if filter else None,
            idle_only=bool(filter and filter.idle),
            include_closed=include_closed,
        ),
        info.context.services.uow.pipelines,
        info.context.services.uow.opportunities,
        at=services.now(),
    )
    return Board(
        pipeline=Pipeline.of(view.pipeline),
        columns=[
            BoardColumn(
                stage=Stage.of(c.figures.stage),
                count=c.figures.count,
                total_amount=[Money.of(m) for m in c.figures.totals],
                weighted_amount=[Money.of(m) for m in c.figures.weighted],
                where=c.cards,
            )
            for c in view.columns
        ],
    )


@strawberry.type
class Query:
    @strawberry.field
    async def pipelines(self, info: Ctx) -> list[Pipeline] | None:
        return [Pipeline.of(p) for p in await info.context.services.uow.pipelines.list_all()]

    @strawberry.field
    async def pipeline(self, info: Ctx, id: strawberry.ID) -> Pipeline | None:
        found = await info.context.loaders.pipeline.load(str(id))
        return Pipeline.of(found) if found else None

    @strawberry.field
    async def opportunity(self, info: Ctx, id: strawberry.ID) -> Opportunity | None:
        found = await info.context.loaders.opportunity.load(str(id))
        return Opportunity.of(info.context.readable(found)) if found else None

    @described_field("Opportunities the caller may see, newest first unless sorted.")
    async def opportunities(
        self,
        info: Ctx,
        filter: OpportunityFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
        sort: OpportunitySort | None = None,
    ) -> OpportunityConnection | None:
        size = page_size(first)
        where = OpportunityQuery(scope=info.context.scope)
        if filter is not None:
            idle_before = None
            if filter.idle:
                idle_before = await idle_cutoffs_everywhere(
                    info.context.services.uow.pipelines, services.now()
                )
            check_amount_range(filter.amount_min, filter.amount_max)
            where = OpportunityQuery(
                status=model.OpportunityStatus(filter.status.value) if filter.status else None,
                owner_id=optional_id(filter.owner_id),
                customer_id=optional_id(filter.customer_id),
                pipeline_id=optional_id(filter.pipeline_id),
                stage_id=optional_id(filter.stage_id),
                scope=info.context.scope,
                idle_before=idle_before,
                title_contains=filter.title_contains,
                currency=filter.currency,
                amount_min=filter.amount_min,
                amount_max=filter.amount_max,
                expected_close_from=filter.expected_close_from,
                expected_close_to=filter.expected_close_to,
                updated_from=filter.updated_from,
                updated_to=filter.updated_to,
            )
        order = (
            ListOrder(SortField(sort.field.value), sort.direction is SortDirection.DESC)
            if sort
            else None
        )
        page = await info.context.services.uow.opportunities.page(where, size, after, order)
        return opportunity_connection(page, after, page.total_count)

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


@strawberry.type
class Mutation(ImportMutation):
    @strawberry.mutation
    async def create_pipeline(self, info: Ctx, input: CreatePipelineInput) -> Pipeline:
        pipeline = await services.create_pipeline(
            commands.CreatePipeline(
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
                actor=info.context.actor,
            ),
            info.context.services.uow,
        )
        return Pipeline.of(pipeline)

    @described_mutation("Rename a pipeline (managers and admins).")
    async def rename_pipeline(
        self, info: Ctx, id: strawberry.ID, name: str, expected_version: int | None = None
    ) -> Pipeline:
        pipeline = await services.change_pipeline(
            commands.ChangePipeline(
                str(id),
                lambda p: p.rename(name),
                expected_version,
                actor=info.context.actor,
            ),
            info.context.services.uow,
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
            commands.AddStage(
                str(pipeline_id),
                model.StageSpec(
                    name=input.name,
                    probability=input.probability,
                    kind=model.StageKind(input.kind.value),
                    rotting_days=input.rotting_days,
                ),
                position,
                expected_version,
                actor=info.context.actor,
            ),
            info.context.services.uow,
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
        rotting = unset_if_absent(input.rotting_days)
        if name is None and input.name is None:
            raise BadUserInput("a stage name cannot be null")
        pipeline = await services.change_pipeline(
            commands.ChangePipeline(
                str(pipeline_id),
                lambda p: p.update_stage(
                    str(stage_id), name=name, probability=probability, rotting_days=rotting
                ),
                expected_version,
                actor=info.context.actor,
            ),
            info.context.services.uow,
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
            commands.ChangePipeline(
                str(pipeline_id),
                lambda p: p.reorder([str(i) for i in stage_ids]),
                expected_version,
                actor=info.context.actor,
            ),
            info.context.services.uow,
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
            commands.ChangePipeline(
                str(pipeline_id),
                lambda p: p.retire_stage(str(stage_id)),
                expected_version,
                actor=info.context.actor,
            ),
            info.context.services.uow,
        )
        return Pipeline.of(pipeline)

    @strawberry.mutation
    async def create_opportunity(self, info: Ctx, input: CreateOpportunityInput) -> Opportunity:
        svc = info.context.services
        opportunity = await services.create_opportunity(
            commands.CreateOpportunity(
                title=input.title,
                customer_id=str(input.customer_id),
                amount=input.amount.amount,
                currency=input.amount.currency,
                pipeline_id=optional_id(input.pipeline_id),
                stage_id=optional_id(input.stage_id),
                owner_id=optional_id(input.owner_id),
                expected_close_date=input.expected_close_date,
                priority=model.Priority(input.priority.value),
                next_step=input.next_step,
                team=input.team,
                actor=info.context.actor,
            ),
            svc.uow,
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
            commands.UpdateOpportunity(
                opportunity_id=str(id),
                title=unset_if_absent(input.title),
                amount=amount,
                owner_id=model.UNSET if owner is strawberry.UNSET else str(owner),
                team=unset_if_absent(input.team),
                expected_close_date=unset_if_absent(input.expected_close_date),
                priority=(
                    model.Priority(priority.value)
                    if isinstance(priority, Priority)
                    else model.UNSET
                ),
                next_step=unset_if_absent(input.next_step),
                expected_version=expected_version,
                actor=info.context.actor,
            ),
            svc.uow,
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
            commands.MoveOpportunity(
                opportunity_id=str(id),
                stage_id=str(stage_id),
                before_id=optional_id(before_id),
                after_id=optional_id(after_id),
                expected_version=expected_version,
                actor=info.context.actor,
            ),
            svc.uow,
        )
        return Opportunity.of(opportunity)

    @described_mutation("Close an open deal as WON (into the pipeline's WON stage).")
    async def win_opportunity(
        self, info: Ctx, id: strawberry.ID, expected_version: int | None = None
    ) -> Opportunity:
        svc = info.context.services
        opportunity = await services.win_opportunity(
            commands.WinOpportunity(str(id), expected_version, actor=info.context.actor),
            svc.uow,
        )
        return Opportunity.of(opportunity)

    @described_mutation("Close an open deal as LOST; the reason is required.")
    async def lose_opportunity(
        self, info: Ctx, id: strawberry.ID, reason: str, expected_version: int | None = None
    ) -> Opportunity:
        svc = info.context.services
        opportunity = await services.lose_opportunity(
            commands.LoseOpportunity(str(id), reason, expected_version, actor=info.context.actor),
            svc.uow,
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
            commands.ReopenOpportunity(
                str(id), str(stage_id), expected_version, actor=info.context.actor
            ),
            svc.uow,
        )
        return Opportunity.of(opportunity)


schema = SubgraphSchema(
    query=merge_types("Query", (Query, CatalogueQuery, QuoteQuery)),
    mutation=merge_types("Mutation", (Mutation, CatalogueMutation, QuoteMutation)),
    types=[Customer, Opportunity],
    extensions=subgraph_extensions(),
    scalar_overrides={Decimal: DecimalScalar},
)
