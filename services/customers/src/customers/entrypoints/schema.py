"""The customers subgraph (Strawberry, Federation v2).

Resolvers only translate: GraphQL input to commands and queries, domain objects to GraphQL
types. Entity references and ``company``/``contacts`` go through DataLoaders created per
request, so an ``_entities`` request costs one MongoDB query whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext

from crm_common.errors import CrmError
from crm_common.graphql import ErrorCodes
from crm_common.identity import Identity
from customers.domain import model
from customers.domain.commands import CreateCustomer
from customers.service_layer import services
from customers.service_layer.ports import CustomerQuery, CustomerRepository

# The domain enums are the GraphQL enums (Strawberry only marks the classes), so the two
# cannot drift apart. InteractionKind is declared for the contract ahead of the timeline.
strawberry.enum(model.CustomerKind, name="CustomerKind")
strawberry.enum(model.LifecycleStage, name="LifecycleStage")
strawberry.enum(model.InteractionKind, name="InteractionKind")
CustomerKind = model.CustomerKind
LifecycleStage = model.LifecycleStage


@dataclass
class Context:
    """What every resolver of one request shares; built by the app for each request."""

    identity: Identity
    repository: CustomerRepository
    customer_loader: DataLoader[str, model.Customer | None]
    contacts_loader: DataLoader[str, list[model.Customer]]
    request: Any = None
    response: Any = None


def build_context(
    identity: Identity,
    repository: CustomerRepository,
    *,
    request: Any = None,
    response: Any = None,
) -> Context:
    async def load_customers(ids: list[str]) -> list[model.Customer | None]:
        return await services.customers_by_ids(ids, repository)

    async def load_contacts(company_ids: list[str]) -> list[list[model.Customer]]:
        return await services.contacts_by_company(company_ids, repository)

    return Context(
        identity=identity,
        repository=repository,
        customer_loader=DataLoader(load_fn=load_customers),
        contacts_loader=DataLoader(load_fn=load_contacts),
        request=request,
        response=response,
    )


Info = strawberry.Info[Context, None]


@strawberry.type(name="LeadSource", description="Where the customer came from.")
class LeadSourceType:
    channel: str | None
    campaign: str | None
    medium: str | None
    referrer: str | None


@strawberry.federation.type(name="Customer", keys=["id"])
class CustomerType:
    id: strawberry.ID
    kind: CustomerKind
    name: str
    email: str | None
    phone: str | None
    source: LeadSourceType | None
    lifecycle: LifecycleStage
    owner_id: strawberry.ID
    tags: list[str]
    attributes: JSON | None
    version: int
    created_at: datetime
    updated_at: datetime
    company_id: strawberry.Private[str | None]

    @classmethod
    def from_domain(cls, customer: model.Customer) -> CustomerType:
        source = customer.source
        return cls(
            id=strawberry.ID(customer.id),
            kind=customer.kind,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            source=None
            if source is None
            else LeadSourceType(
                channel=source.channel,
                campaign=source.campaign,
                medium=source.medium,
                referrer=source.referrer,
            ),
            lifecycle=customer.lifecycle,
            owner_id=strawberry.ID(customer.owner_id),
            tags=list(customer.tags),
            attributes=cast("JSON", customer.attributes),
            version=customer.version,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
            company_id=customer.company_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> CustomerType | None:
        customer = await info.context.customer_loader.load(str(id))
        return None if customer is None else cls.from_domain(customer)

    @strawberry.field  # the company this person belongs to
    async def company(self, info: Info) -> CustomerType | None:
        if self.company_id is None:
            return None
        company = await info.context.customer_loader.load(self.company_id)
        return None if company is None else CustomerType.from_domain(company)

    @strawberry.field  # the people who belong to this company, by name
    async def contacts(self, info: Info) -> list[CustomerType]:
        if self.kind is not model.CustomerKind.COMPANY:
            return []
        contacts = await info.context.contacts_loader.load(str(self.id))
        return [CustomerType.from_domain(contact) for contact in contacts]


@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class CustomerEdge:
    cursor: str
    node: CustomerType


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input
class CustomerFilter:
    lifecycle: list[LifecycleStage] | None = strawberry.field(
        default=None, description="Any of these stages."
    )
    owner_id: strawberry.ID | None = None
    kind: CustomerKind | None = None
    name_contains: str | None = strawberry.field(
        default=None, description="A case-insensitive fragment of the name."
    )
    tag: str | None = None


@strawberry.input
class LeadSourceInput:
    channel: str | None = None
    campaign: str | None = None
    medium: str | None = None
    referrer: str | None = None


@strawberry.input
class CreateCustomerInput:
    kind: CustomerKind
    name: str
    email: str | None = None
    phone: str | None = None
    company_id: strawberry.ID | None = None
    source: LeadSourceInput | None = None
    lifecycle: LifecycleStage = model.LifecycleStage.LEAD
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Defaults to the caller."
    )
    tags: list[str] | None = None
    attributes: JSON | None = strawberry.field(
        default=None, description="A JSON object of at most 16 KiB, nested at most 5 levels."
    )

    def to_command(self) -> CreateCustomer:
        source = self.source
        return CreateCustomer(
            kind=model.CustomerKind(self.kind),
            name=self.name,
            email=self.email,
            phone=self.phone,
            company_id=None if self.company_id is None else str(self.company_id),
            source=None
            if source is None
            else model.LeadSource(
                channel=source.channel,
                campaign=source.campaign,
                medium=source.medium,
                referrer=source.referrer,
            ),
            lifecycle=model.LifecycleStage(self.lifecycle),
            owner_id=None if self.owner_id is None else str(self.owner_id),
            tags=None if self.tags is None else tuple(self.tags),
            attributes=self.attributes,
        )


@strawberry.type
class Query:
    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> CustomerType | None:
        customer = await info.context.customer_loader.load(str(id))
        return None if customer is None else CustomerType.from_domain(customer)

    @strawberry.field  # in id order; ``after`` is an edge's cursor
    async def customers(
        self,
        info: Info,
        filter: CustomerFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> CustomerConnection:
        query = CustomerQuery()
        if filter is not None:
            query = CustomerQuery(
                lifecycles=tuple(model.LifecycleStage(s) for s in filter.lifecycle or ()),
                owner_id=None if filter.owner_id is None else str(filter.owner_id),
                kind=None if filter.kind is None else model.CustomerKind(filter.kind),
                name_contains=filter.name_contains,
                tag=filter.tag,
            )
        page, total = await services.list_customers(query, first, after, info.context.repository)
        edges = [
            CustomerEdge(cursor=services.encode_cursor(c.id), node=CustomerType.from_domain(c))
            for c in page.items
        ]
        return CustomerConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=total,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> CustomerType:
        context = info.context
        customer = await services.create_customer(
            input.to_command(), context.identity, context.repository
        )
        return CustomerType.from_domain(customer)


class CustomersSchema(strawberry.federation.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # A refused command (bad input, forbidden, not found) is the caller's business, not
        # an incident: log only what is not a CrmError.
        unexpected = [e for e in errors if not isinstance(e.original_error, CrmError)]
        super().process_errors(unexpected, execution_context)


schema = CustomersSchema(
    query=Query,
    mutation=Mutation,
    types=[model.InteractionKind],
    extensions=[ErrorCodes],
)
