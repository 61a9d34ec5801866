"""The customers subgraph (Strawberry, Federation v2): its queries and mutations.

Resolvers only translate: GraphQL input to commands and queries, domain objects to GraphQL
types (``graphql_types``, ``graphql_inputs``); the service layer does the work.
"""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.scalars import JSON
from strawberry.tools import merge_types

from crm_common import relay
from crm_common.graphql import SubgraphSchema, subgraph_extensions
from crm_common.pagination import Page
from customers.domain import model
from customers.entrypoints.context import Info, field, mutation
from customers.entrypoints.graphql_inputs import (
    CreateCustomerInput,
    CustomerFilter,
    CustomerSort,
    InteractionInput,
    SortDirection,
    UpdateCustomerInput,
    customer_query,
)
from customers.entrypoints.graphql_types import (
    CustomerConnection,
    CustomerEdge,
    CustomerType,
    FieldChange,
    ImportReport,
    Interaction,
    MergeResult,
    TransferResult,
    to_import_report,
)
from customers.entrypoints.task_schema import OpportunityTasks, TaskMutation, TaskQuery
from customers.service_layer import importing, operations, services
from customers.service_layer.ports import (
    Sort,
    SortField,
)


@strawberry.type
class Query:
    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> CustomerType | None:
        customer = await info.context.customer_loader.load(str(id))
        if customer is None:
            return None
        services.require_visible(info.context.identity, customer)
        return CustomerType.from_domain(customer)

    @field("The customers you may see; `after` is an edge's cursor.")
    async def customers(
        self,
        info: Info,
        filter: CustomerFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        sort: CustomerSort | None = None,
    ) -> CustomerConnection | None:
        order = Sort()
        if sort is not None:
            order = Sort(SortField(sort.field.value), sort.direction is SortDirection.DESC)
        page, count_matches = await services.list_customers(
            customer_query(filter),
            first,
            after,
            info.context.repository,
            actor=info.context.identity,
            sort=order,
        )
        edges, page_info = relay.connection(
            Page.of(
                page.items,
                lambda c: services.cursor_for(c, order),
                has_next=page.has_next,
                after=after,
            ),
            lambda cursor, c: CustomerEdge(cursor=cursor, node=CustomerType.from_domain(c)),
        )
        return CustomerConnection(edges=edges, page_info=page_info, count_matches=count_matches)

    @field("Same e-mail or phone, or a similar name (same company): strongest first.")
    async def duplicate_candidates(
        self, info: Info, customer_id: strawberry.ID
    ) -> list[CustomerType] | None:
        found = await services.duplicate_candidates(
            str(customer_id), info.context.identity, info.context.repository
        )
        return [CustomerType.from_domain(c) for c in found]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> CustomerType:
        context = info.context
        customer = await services.create_customer(
            input.to_command(), context.identity, context.repository, context.phone_region
        )
        return CustomerType.from_domain(customer)

    @mutation("With expectedVersion, a stale version is a CONFLICT.")
    async def update_customer(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateCustomerInput,
        expected_version: int | None = None,
    ) -> CustomerType:
        context = info.context
        reason = input.lifecycle_reason
        customer = await services.update_customer(
            str(id),
            input.to_changes(),
            expected_version,
            context.identity,
            context.repository,
            lifecycle_reason=None if reason is strawberry.UNSET else reason,
            phone_region=context.phone_region,
        )
        return CustomerType.from_domain(customer)

    @strawberry.mutation
    async def log_interaction(
        self, info: Info, customer_id: strawberry.ID, input: InteractionInput
    ) -> Interaction:
        context = info.context
        entry = await services.log_interaction(
            str(customer_id),
            model.InteractionKind(input.kind),
            input.summary,
            input.details,
            input.occurred_at,
            context.identity,
            context.repository,
            context.need_interactions(),
            opportunity_id=None if input.opportunity_id is None else str(input.opportunity_id),
        )
        return Interaction.from_domain(entry)

    @mutation(
        "A dry run shows the survivor without writing anything. Crash-safe: an interrupted "
        "merge is finished by the service; asked again, the same merge returns the same result."
    )
    async def merge_customers(
        self,
        info: Info,
        target_id: strawberry.ID,
        source_ids: list[strawberry.ID],
        dry_run: bool | None = False,
    ) -> MergeResult:
        context = info.context
        outcome = await operations.merge_customers(
            str(target_id),
            [str(i) for i in source_ids],
            bool(dry_run),
            context.identity,
            context.repository,
            context.need_interactions(),
            context.need_operations(),
        )
        return MergeResult(
            survivor=CustomerType.from_domain(outcome.survivor),
            merged_ids=[strawberry.ID(i) for i in outcome.merged_ids],
            dry_run=outcome.dry_run,
            changes=[
                FieldChange(
                    field=c.field, from_value=cast("JSON", c.before), to_value=cast("JSON", c.after)
                )
                for c in outcome.changes
            ],
            moved_interactions=outcome.moved_interactions,
            moved_contacts=outcome.moved_contacts,
        )

    @mutation("Safe to run twice (same transferId).")
    async def transfer_ownership(
        self,
        info: Info,
        from_owner_id: strawberry.ID,
        to_owner_id: strawberry.ID,
        include_open_opportunities: bool | None = True,
    ) -> TransferResult:
        context = info.context
        outcome = await operations.transfer_ownership(
            str(from_owner_id),
            str(to_owner_id),
            include_open_opportunities is not False,
            context.identity,
            context.repository,
            context.need_transfers(),
            context.need_operations(),
        )
        return TransferResult(
            transfer_id=strawberry.ID(outcome.transfer_id),
            moved_customer_ids=[strawberry.ID(i) for i in outcome.moved_ids],
            transferred_count=len(outcome.moved_ids),
            customer_ids=[strawberry.ID(i) for i in outcome.customer_ids],
            include_open_opportunities=include_open_opportunities is not False,
            runs=outcome.runs,
        )

    @mutation(
        "CSV with a header row (UTF-8, BOM allowed); upserts by id, externalId or "
        "e-mail; a bad row is reported with its line and never stops the others. At most "
        "CUSTOMERS_IMPORT_GRAPHQL_MAX_CHARS characters (default 2 MiB): bigger files go to "
        "the streaming endpoint POST /import/customers.csv."
    )
    async def import_customers(
        self, info: Info, csv: str, dry_run: bool | None = False
    ) -> ImportReport:
        context = info.context
        importing.check_graphql_size(csv, context.import_max_chars)
        report = await importing.import_customers(
            importing.split_lines(csv),
            bool(dry_run),
            context.identity,
            context.repository,
            phone_region=context.phone_region,
        )
        return to_import_report(report)


schema = SubgraphSchema(
    query=merge_types("Query", (Query, TaskQuery)),
    mutation=merge_types("Mutation", (Mutation, TaskMutation)),
    types=[model.InteractionKind, OpportunityTasks],
    extensions=subgraph_extensions(),
)
