"""The customers subgraph (Strawberry, Federation v2).

Resolvers only translate: GraphQL input to commands and queries, domain objects to GraphQL
types. Entity references and ``company``/``contacts`` go through DataLoaders created per
request, so an ``_entities`` request costs one MongoDB query whatever its size (an id merged
into another customer resolves to the survivor in that same query).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeVar, cast

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from crm_common import relay
from crm_common.graphql import SubgraphSchema, subgraph_extensions
from crm_common.identity import Identity
from crm_common.pagination import Page
from crm_common.relay import PageInfo
from customers.domain import model
from customers.domain.commands import CreateCustomer
from customers.service_layer import importing, operations, services
from customers.service_layer.ports import (
    AuditRepository,
    CustomerQuery,
    CustomerRepository,
    InteractionRepository,
    OperationLog,
    Sort,
    SortField,
    TransferRepository,
)

# The domain enums are the GraphQL enums (Strawberry only marks the classes), so the two
# cannot drift apart.
strawberry.enum(model.CustomerKind, name="CustomerKind")
strawberry.enum(model.LifecycleStage, name="LifecycleStage")
strawberry.enum(model.InteractionKind, name="InteractionKind")
CustomerKind = model.CustomerKind
LifecycleStage = model.LifecycleStage
InteractionKind = model.InteractionKind


@dataclass
class Context:
    """What every resolver of one request shares; built by the app for each request."""

    identity: Identity
    repository: CustomerRepository
    customer_loader: DataLoader[str, model.Customer | None]
    contacts_loader: DataLoader[str, list[model.Customer]]
    interactions: InteractionRepository | None = None
    audit: AuditRepository | None = None
    transfers: TransferRepository | None = None
    phone_region: str | None = None
    request: Any = None
    response: Any = None
    operations: OperationLog | None = None
    import_max_chars: int = importing.GRAPHQL_IMPORT_MAX_CHARS

    def need_interactions(self) -> InteractionRepository:
        assert self.interactions is not None
        return self.interactions

    def need_audit(self) -> AuditRepository:
        assert self.audit is not None
        return self.audit

    def need_transfers(self) -> TransferRepository:
        assert self.transfers is not None
        return self.transfers

    def need_operations(self) -> OperationLog:
        assert self.operations is not None
        return self.operations


def build_context(
    identity: Identity,
    repository: CustomerRepository,
    *,
    interactions: InteractionRepository | None = None,
    audit: AuditRepository | None = None,
    transfers: TransferRepository | None = None,
    phone_region: str | None = None,
    request: Any = None,
    response: Any = None,
    operations: OperationLog | None = None,
    import_max_chars: int = importing.GRAPHQL_IMPORT_MAX_CHARS,
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
        interactions=interactions,
        audit=audit,
        transfers=transfers,
        phone_region=phone_region,
        request=request,
        response=response,
        operations=operations,
        import_max_chars=import_max_chars,
    )


Info = strawberry.Info[Context, None]
F = TypeVar("F", bound=Callable[..., Any])


def field(description: str) -> Callable[[F], F]:
    """``@strawberry.field(description=...)`` with the resolver's type kept for mypy."""
    return cast("Callable[[F], F]", strawberry.field(description=description))


def mutation(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.mutation(description=description))


@strawberry.type(name="LeadSource", description="Where the customer came from.")
class LeadSourceType:
    channel: str | None
    campaign: str | None
    medium: str | None
    referrer: str | None


@strawberry.type(name="Address")
class AddressType:
    street: str | None
    city: str | None
    postal_code: str | None
    region: str | None
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2")


@strawberry.type(description="An entry of a customer's timeline.")
class Interaction:
    id: strawberry.ID
    customer_id: strawberry.ID
    kind: InteractionKind
    occurred_at: datetime
    recorded_at: datetime = strawberry.field(description="When it was logged.")
    summary: str
    details: JSON | None
    actor_id: strawberry.ID | None = strawberry.field(description="Who logged or caused it.")
    actor_name: str | None
    opportunity_id: strawberry.ID | None
    merged_from: strawberry.ID | None = strawberry.field(
        description="The customer this entry belonged to before a merge."
    )

    @classmethod
    def from_domain(cls, entry: model.Interaction) -> Interaction:
        return cls(
            id=strawberry.ID(entry.id),
            customer_id=strawberry.ID(entry.customer_id),
            kind=entry.kind,
            occurred_at=entry.occurred_at,
            recorded_at=entry.recorded_at,
            summary=entry.summary,
            details=cast("JSON", entry.details),
            actor_id=None if entry.actor_id is None else strawberry.ID(entry.actor_id),
            actor_name=entry.actor_name,
            opportunity_id=None
            if entry.opportunity_id is None
            else strawberry.ID(entry.opportunity_id),
            merged_from=None if entry.merged_from is None else strawberry.ID(entry.merged_from),
        )


@strawberry.type
class InteractionEdge:
    cursor: str
    node: Interaction


@strawberry.type
class InteractionConnection:
    edges: list[InteractionEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class FieldChange:
    field: str
    from_value: JSON | None = strawberry.field(name="from")
    to_value: JSON | None = strawberry.field(name="to")


@strawberry.type(description="One change of a customer: who, when, which fields.")
class AuditEntry:
    customer_id: strawberry.ID = strawberry.field(
        description="The customer changed: this one, or one merged into it since."
    )
    version: int
    action: str = strawberry.field(
        description="CREATE, UPDATE, LIFECYCLE, MERGE, TRANSFER or IMPORT"
    )
    at: datetime
    actor_id: strawberry.ID | None
    actor_name: str | None
    note: str | None
    changes: list[FieldChange]

    @classmethod
    def from_domain(cls, entry: model.AuditEntry) -> AuditEntry:
        return cls(
            customer_id=strawberry.ID(entry.customer_id),
            version=entry.version,
            action=entry.action,
            at=entry.at,
            actor_id=None if entry.actor_id is None else strawberry.ID(entry.actor_id),
            actor_name=entry.actor_name,
            note=entry.note,
            changes=[
                FieldChange(
                    field=c.field,
                    from_value=cast("JSON", c.before),
                    to_value=cast("JSON", c.after),
                )
                for c in entry.changes
            ],
        )


@strawberry.type
class AuditEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditConnection:
    edges: list[AuditEdge]
    page_info: PageInfo


@strawberry.federation.type(name="Customer", keys=["id"])
class CustomerType:
    id: strawberry.ID
    kind: CustomerKind
    name: str
    email: str | None = strawberry.field(description="The primary e-mail, lower-cased.")
    emails: list[str] = strawberry.field(description="Every e-mail, the primary first.")
    phone: str | None = strawberry.field(description="The primary phone in E.164.")
    phones: list[str] = strawberry.field(description="Every phone, the primary first.")
    address: AddressType | None
    source: LeadSourceType | None
    lifecycle: LifecycleStage
    lifecycle_reason: str | None
    lifecycle_changed_at: datetime | None
    owner_id: strawberry.ID
    team: str | None
    tags: list[str]
    attributes: JSON | None
    external_id: str | None
    merged_ids: list[strawberry.ID] = strawberry.field(
        description="Customers merged into this one; their ids resolve to it."
    )
    version: int
    created_at: datetime
    updated_at: datetime
    company_id: strawberry.Private[str | None]

    @classmethod
    def from_domain(cls, customer: model.Customer) -> CustomerType:
        source = customer.source
        address = customer.address
        return cls(
            id=strawberry.ID(customer.id),
            kind=customer.kind,
            name=customer.name,
            email=customer.email,
            emails=list(customer.emails),
            phone=customer.phone,
            phones=list(customer.phones),
            address=None
            if address is None
            else AddressType(
                street=address.street,
                city=address.city,
                postal_code=address.postal_code,
                region=address.region,
                country=address.country,
            ),
            source=None
            if source is None
            else LeadSourceType(
                channel=source.channel,
                campaign=source.campaign,
                medium=source.medium,
                referrer=source.referrer,
            ),
            lifecycle=customer.lifecycle,
            lifecycle_reason=customer.lifecycle_reason,
            lifecycle_changed_at=customer.lifecycle_changed_at,
            owner_id=strawberry.ID(customer.owner_id),
            team=customer.team,
            tags=list(customer.tags),
            attributes=cast("JSON", customer.attributes),
            external_id=customer.external_id,
            merged_ids=[strawberry.ID(i) for i in customer.merged_ids],
            version=customer.version,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
            company_id=customer.company_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> CustomerType | None:
        customer = await info.context.customer_loader.load(str(id))
        if customer is None:
            return None
        services.require_visible(info.context.identity, customer)
        return cls.from_domain(customer)

    @strawberry.field  # the company this person belongs to
    async def company(self, info: Info) -> CustomerType | None:
        if self.company_id is None:
            return None
        company = await info.context.customer_loader.load(self.company_id)
        if company is None or not services.can_see(info.context.identity, company):
            return None
        return CustomerType.from_domain(company)

    @strawberry.field  # the people who belong to this company, by name (those you may see)
    async def contacts(self, info: Info) -> list[CustomerType]:
        if self.kind is not model.CustomerKind.COMPANY:
            return []
        contacts = await info.context.contacts_loader.load(str(self.id))
        identity = info.context.identity
        return [CustomerType.from_domain(c) for c in contacts if services.can_see(identity, c)]

    @field("Newest first; filter by kinds and by period [from, to).")
    async def timeline(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        kinds: list[InteractionKind] | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> InteractionConnection:
        page, total = await services.timeline(
            str(self.id),
            [model.InteractionKind(k) for k in kinds or ()],
            from_,
            to,
            first,
            after,
            info.context.need_interactions(),
        )
        edges, page_info = relay.connection(
            Page.of(
                page.items, services.encode_timeline_cursor, has_next=page.has_next, after=after
            ),
            lambda cursor, e: InteractionEdge(cursor=cursor, node=Interaction.from_domain(e)),
        )
        return InteractionConnection(edges=edges, page_info=page_info, total_count=total)

    @field(
        "Who changed which fields, when (also of the customers merged into this one): newest first."
    )
    async def audit(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> AuditConnection:
        entries, has_next = await services.audit_trail(
            [str(self.id), *(str(i) for i in self.merged_ids)],
            first,
            after,
            info.context.need_audit(),
        )
        edges, page_info = relay.connection(
            Page.of(entries, services.audit_cursor, has_next=has_next, after=after),
            lambda cursor, e: AuditEdge(cursor=cursor, node=AuditEntry.from_domain(e)),
        )
        return AuditConnection(edges=edges, page_info=page_info)


@strawberry.type
class CustomerEdge:
    cursor: str
    node: CustomerType


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    count_matches: strawberry.Private[Callable[[], Awaitable[int]]]

    @field(
        "How many customers match the filter (among those you may see). Counted only when "
        "asked for: on a large archive a count reads every match, so a list that does not "
        "show it does not pay for it."
    )
    async def total_count(self) -> int:
        return await self.count_matches()


@strawberry.input
class CustomerFilter:
    lifecycle: list[LifecycleStage] | None = strawberry.field(
        default=None, description="Any of these stages."
    )
    owner_id: strawberry.ID | None = None
    kind: CustomerKind | None = None
    name_contains: str | None = strawberry.field(
        default=None,
        description="Any fragment of the name: 'uller', 'ÜLL', 'garcia rob'; case and accents "
        "are ignored. Indexed (trigrams); under 3 characters, the start of a word.",
    )
    email_contains: str | None = strawberry.field(
        default=None,
        description="Any fragment of an e-mail; case and accents are ignored. Indexed "
        "(trigrams); under 3 characters, the start of the address, its local part, domain or "
        "a label.",
    )
    phone_contains: str | None = strawberry.field(
        default=None,
        description="Digits found anywhere in a phone's E.164 digits (other characters are "
        "ignored). Indexed (trigrams); under 3 digits, the start of the digits.",
    )
    search: str | None = strawberry.field(
        default=None,
        description="Words, each the start of a word of the name, an e-mail (or its local "
        "part or domain) or a phone (international or national digits), in any order; indexed.",
    )
    tag: str | None = strawberry.field(default=None, description="Case-insensitive.")
    source_channel: str | None = None
    source_campaign: str | None = None
    company_id: strawberry.ID | None = None
    created_from: datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_to: datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.enum
class CustomerSortField(Enum):
    ID = "ID"
    NAME = "NAME"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input
class CustomerSort:
    field: CustomerSortField = CustomerSortField.ID
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class LeadSourceInput:
    channel: str | None = None
    campaign: str | None = None
    medium: str | None = None
    referrer: str | None = None


@strawberry.input
class AddressInput:
    street: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = None


def _source(value: LeadSourceInput | None) -> model.LeadSource | None:
    if value is None:
        return None
    return model.LeadSource(
        channel=value.channel, campaign=value.campaign, medium=value.medium, referrer=value.referrer
    )


def _address(value: AddressInput | None) -> model.Address | None:
    if value is None:
        return None
    return model.Address(
        street=value.street,
        city=value.city,
        postal_code=value.postal_code,
        region=value.region,
        country=value.country,
    )


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
    emails: list[str] | None = strawberry.field(default=None, description="More e-mails.")
    phones: list[str] | None = strawberry.field(default=None, description="More phones.")
    address: AddressInput | None = None
    external_id: str | None = strawberry.field(
        default=None, description="The id in another system (imports upsert by it)."
    )
    team: str | None = strawberry.field(
        default=None, description="Defaults to the caller's team; only an admin names another."
    )

    def to_command(self) -> CreateCustomer:
        return CreateCustomer(
            kind=model.CustomerKind(self.kind),
            name=self.name,
            email=self.email,
            phone=self.phone,
            company_id=None if self.company_id is None else str(self.company_id),
            source=_source(self.source),
            lifecycle=model.LifecycleStage(self.lifecycle),
            owner_id=None if self.owner_id is None else str(self.owner_id),
            tags=None if self.tags is None else tuple(self.tags),
            attributes=self.attributes,
            emails=None if self.emails is None else tuple(self.emails),
            phones=None if self.phones is None else tuple(self.phones),
            address=_address(self.address),
            external_id=self.external_id,
            team=self.team,
        )


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class UpdateCustomerInput:
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="The primary e-mail (the old one stays listed)."
    )
    emails: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Every e-mail (replaces the list)."
    )
    phone: str | None = strawberry.UNSET
    phones: list[str] | None = strawberry.UNSET
    company_id: strawberry.ID | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    source: LeadSourceInput | None = strawberry.UNSET
    lifecycle: LifecycleStage | None = strawberry.field(
        default=strawberry.UNSET,
        description="LEAD→PROSPECT|CUSTOMER, PROSPECT→LEAD|CUSTOMER, CUSTOMER→CHURNED, "
        "CHURNED→PROSPECT|CUSTOMER.",
    )
    lifecycle_reason: str | None = strawberry.field(
        default=strawberry.UNSET, description="Why the lifecycle changes (required to CHURNED)."
    )
    owner_id: strawberry.ID | None = strawberry.UNSET
    team: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    attributes: JSON | None = strawberry.UNSET
    external_id: str | None = strawberry.UNSET

    def to_changes(self) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        simple = {
            "name": self.name,
            "email": self.email,
            "emails": self.emails,
            "phone": self.phone,
            "phones": self.phones,
            "companyId": self.company_id,
            "lifecycle": self.lifecycle,
            "ownerId": self.owner_id,
            "team": self.team,
            "tags": self.tags,
            "attributes": self.attributes,
            "externalId": self.external_id,
        }
        for name, value in simple.items():
            if value is not strawberry.UNSET:
                changes[name] = value
        if self.emails is None and "emails" in changes:
            changes["emails"] = []
        if self.phones is None and "phones" in changes:
            changes["phones"] = []
        if self.tags is None and "tags" in changes:
            changes["tags"] = []
        if self.address is not strawberry.UNSET:
            address = _address(self.address)
            changes["address"] = None if address is None else _plain_address(address)
        if self.source is not strawberry.UNSET:
            source = _source(self.source)
            changes["source"] = None if source is None else _plain_source(source)
        return changes


def _plain_address(address: model.Address) -> dict[str, Any]:
    return {
        "street": address.street,
        "city": address.city,
        "postal_code": address.postal_code,
        "region": address.region,
        "country": address.country,
    }


def _plain_source(source: model.LeadSource) -> dict[str, Any]:
    return {
        "channel": source.channel,
        "campaign": source.campaign,
        "medium": source.medium,
        "referrer": source.referrer,
    }


@strawberry.input
class InteractionInput:
    kind: InteractionKind
    summary: str
    occurred_at: datetime | None = strawberry.field(default=None, description="Default: now.")
    details: JSON | None = None


@strawberry.type
class MergeResult:
    survivor: CustomerType
    merged_ids: list[strawberry.ID]
    dry_run: bool
    changes: list[FieldChange]
    moved_interactions: int
    moved_contacts: int


@strawberry.type
class TransferResult:
    transfer_id: strawberry.ID = strawberry.field(description="The same when run again.")
    moved_customer_ids: list[strawberry.ID] = strawberry.field(description="Moved by this run.")
    transferred_count: int = strawberry.field(description="Moved by this run.")
    customer_ids: list[strawberry.ID] = strawberry.field(
        description="Every customer this transfer ever moved."
    )
    include_open_opportunities: bool
    runs: int


@strawberry.type
class ImportRowError:
    line: int = strawberry.field(description="Line of the file (the header is line 1).")
    field: str | None
    message: str


@strawberry.type
class ImportReport:
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[ImportRowError]
    ignored_columns: list[str]


def _customer_query(filter: CustomerFilter | None) -> CustomerQuery:
    if filter is None:
        return CustomerQuery()
    return CustomerQuery(
        lifecycles=tuple(model.LifecycleStage(s) for s in filter.lifecycle or ()),
        owner_id=None if filter.owner_id is None else str(filter.owner_id),
        kind=None if filter.kind is None else model.CustomerKind(filter.kind),
        name_contains=filter.name_contains,
        email_contains=filter.email_contains,
        phone_contains=filter.phone_contains,
        search=filter.search,
        tag=filter.tag,
        source_channel=filter.source_channel,
        source_campaign=filter.source_campaign,
        company_id=None if filter.company_id is None else str(filter.company_id),
        created_from=filter.created_from,
        created_to=filter.created_to,
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
            _customer_query(filter),
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


def to_import_report(report: importing.ImportReport) -> ImportReport:
    return ImportReport(
        dry_run=report.dry_run,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        failed=report.failed,
        errors=[
            ImportRowError(line=e.line, field=e.field, message=e.message) for e in report.errors
        ],
        ignored_columns=report.ignored_columns,
    )


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[model.InteractionKind],
    extensions=subgraph_extensions(),
)
