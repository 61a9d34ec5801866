"""The GraphQL output types of the customers subgraph: the customer entity, its timeline and
audit connections, and the results of merge, transfer and import.

Entity references and ``company``/``contacts`` go through the context's DataLoaders, so an
``_entities`` request costs one MongoDB query whatever its size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from crm_common import relay
from crm_common.pagination import Page
from crm_common.relay import PageInfo
from customers.domain import interactions, model
from customers.entrypoints.context import Info, field
from customers.entrypoints.task_types import Task, TaskStatus
from customers.service_layer import importing, services

# The domain enums are the GraphQL enums (Strawberry only marks the classes), so the two
# cannot drift apart.
strawberry.enum(model.CustomerKind, name="CustomerKind")
strawberry.enum(model.LifecycleStage, name="LifecycleStage")
strawberry.enum(model.InteractionKind, name="InteractionKind")
CustomerKind = model.CustomerKind
LifecycleStage = model.LifecycleStage
InteractionKind = model.InteractionKind


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
    def from_domain(cls, entry: interactions.Interaction) -> Interaction:
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

    @field("The customer's follow-ups the caller may see, by due time.")
    async def tasks(self, info: Info, status: TaskStatus | None = None) -> list[Task]:  # type: ignore[valid-type]
        found = await info.context.need_task_loaders().by_customer.load(str(self.id))
        return [Task.from_domain(t) for t in found if status is None or t.status is status]

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
