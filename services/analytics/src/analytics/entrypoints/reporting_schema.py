"""The reporting tools' part of the analytics subgraph: source performance, exchange rates, the
audit trail (``auditLog`` and ``Opportunity.audit``). ``schema.py`` composes it in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from analytics.domain.audit import AuditQuery, AuditRecord
from analytics.domain.sources import SourceDimension
from analytics.entrypoints.context import Context
from analytics.entrypoints.graphql_common import (
    ExchangeRateType,
    Money,
    _money,
    converted_money,
    field,
    mutation,
    rates_used,
    unconverted,
)
from analytics.service_layer import reporting
from crm_common import relay
from crm_common.events import utcnow
from crm_common.pagination import Page
from crm_common.relay import PageInfo

From = Annotated[datetime | None, strawberry.argument(name="from")]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@strawberry.enum(description="Which part of the lead source a source report groups by.")
class SourceGroupBy(Enum):
    CHANNEL = "CHANNEL"
    CAMPAIGN = "CAMPAIGN"
    MEDIUM = "MEDIUM"


@strawberry.type(
    description=(
        "One value of the lead source: leads (customers created in the window), deals opened "
        "in it, deals won and lost in it (by close date), won amount per currency, win rate "
        "(won / (won + lost)) and average cycle (creation to win, days)."
    )
)
class SourcePerformance:
    source: str | None = strawberry.field(description="None: deals and leads without one.")
    leads: int
    opened: int
    won: int
    lost: int
    won_amount: list[Money]
    win_rate: float
    avg_cycle_days: float
    converted_won_amount: Money | None = strawberry.field(
        default=None, description="With `currency`: the won amount at close-date rates."
    )
    rates_used: list[ExchangeRateType] = strawberry.field(default_factory=list)
    unconverted_currencies: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class AuditChange:
    field: str
    from_value: JSON | None = strawberry.field(name="from")
    to_value: JSON | None = strawberry.field(name="to")


@strawberry.type(description="One change of a customer or a deal: who, when, what.")
class AuditLogEntry:
    event_id: strawberry.ID
    at: datetime
    actor_id: strawberry.ID | None
    actor_name: str | None
    subject_type: str = strawberry.field(description="OPPORTUNITY, CUSTOMER or OWNERSHIP_TRANSFER")
    subject_id: strawberry.ID
    type: str = strawberry.field(description="The event type, e.g. pipeline.opportunity.updated")
    changes: list[AuditChange]

    @classmethod
    def of(cls, record: AuditRecord) -> AuditLogEntry:
        return cls(
            event_id=strawberry.ID(record.event_id),
            at=record.at,
            actor_id=strawberry.ID(record.actor_id) if record.actor_id else None,
            actor_name=record.actor_name,
            subject_type=record.subject_type,
            subject_id=strawberry.ID(record.subject_id),
            type=record.type,
            changes=[
                AuditChange(
                    field=c.field,
                    from_value=cast("JSON", c.before),
                    to_value=cast("JSON", c.after),
                )
                for c in record.changes
            ],
        )


@strawberry.type
class AuditLogEdge:
    cursor: str
    node: AuditLogEntry


@strawberry.type
class AuditLogConnection:
    edges: list[AuditLogEdge]
    page_info: PageInfo


@strawberry.input
class AuditLogFilter:
    actor_id: strawberry.ID | None = None
    subject_id: strawberry.ID | None = None
    types: list[str] | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None


async def _audit_page(
    info: Info[Context, None], query: AuditQuery, first: int | None, after: str | None
) -> AuditLogConnection:
    records, has_next = await reporting.audit_log(
        info.context.identity, query, first, after, store=info.context.resources.reporting
    )
    edges, page_info = relay.connection(
        Page.of(records, reporting.audit_cursor, has_next=has_next, after=after),
        lambda cursor, record: AuditLogEdge(cursor=cursor, node=AuditLogEntry.of(record)),
    )
    return AuditLogConnection(edges=edges, page_info=page_info)


@strawberry.federation.type(name="Opportunity", keys=["id"])
class OpportunityEntity:
    """The pipeline's deal, extended with its audit trail (and referenced by live events)."""

    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> OpportunityEntity:
        return cls(id=id)

    @field(
        "Who changed what of the deal, when (title, amount, owner, close date, stage ...), "
        "newest first: admins, and managers for their team's deals."
    )
    async def audit(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> AuditLogConnection | None:
        return await _audit_page(info, AuditQuery(subject_ids=[str(self.id)]), first, after)


async def resolve_source_performance(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    group_by: SourceGroupBy,
    from_: From = None,
    to: datetime | None = None,
    currency: str | None = None,
) -> list[SourcePerformance]:
    resources = info.context.resources
    report = await reporting.source_report(
        str(pipeline_id),
        SourceDimension(group_by.value),
        viewer=info.context.identity,
        start=_utc(from_),
        end=_utc(to),
        currency=currency,
        read_model=resources.read_model,
        store=resources.reporting,
        rates=resources.rates,
        base=resources.settings.base_currency,
        today=utcnow().date(),
    )
    rows = []
    for row in report.rows:
        conversion = report.converted.get(row.source) if report.converted is not None else None
        rows.append(
            SourcePerformance(
                source=row.source,
                leads=row.leads,
                opened=row.opened,
                won=row.won,
                lost=row.lost,
                won_amount=_money(row.won_amount),
                win_rate=round(row.win_rate, 6),
                avg_cycle_days=round(row.avg_cycle_days, 4),
                converted_won_amount=converted_money(conversion),
                rates_used=rates_used(conversion),
                unconverted_currencies=unconverted(conversion),
            )
        )
    return rows


async def resolve_exchange_rates(info: Info[Context, None]) -> list[ExchangeRateType]:
    rates = await reporting.exchange_rates(
        info.context.identity, rates=info.context.resources.rates
    )
    return [ExchangeRateType.of(rate) for rate in rates]


async def resolve_audit_log(
    info: Info[Context, None],
    filter: AuditLogFilter | None = None,
    first: int | None = None,
    after: str | None = None,
) -> AuditLogConnection:
    given = filter or AuditLogFilter()
    query = AuditQuery(
        actor_id=str(given.actor_id) if given.actor_id else None,
        subject_ids=[str(given.subject_id)] if given.subject_id else None,
        types=given.types,
        start=_utc(given.from_),
        end=_utc(given.to),
    )
    return await _audit_page(info, query, first, after)


@strawberry.type
class ReportingQuery:
    source_performance: list[SourcePerformance] | None = strawberry.field(
        resolver=resolve_source_performance,
        description=(
            "Lead-source attribution: one row per value of the customers' source (channel, "
            "campaign or medium) that deals took when they were opened; the most leads first. "
            "Leads are counted for those who read every customer (admins)."
        ),
    )
    exchange_rates: list[ExchangeRateType] | None = strawberry.field(
        resolver=resolve_exchange_rates, description="Every exchange rate set, by currency."
    )
    audit_log: AuditLogConnection | None = strawberry.field(
        resolver=resolve_audit_log,
        description=(
            "Who changed what and when across customers and deals (every event records its "
            "actor), newest first: admins read every entry, managers their team's."
        ),
    )


@strawberry.type
class ReportingMutation:
    @mutation(
        "Sets what one unit of `currency` is worth in the base currency from `validFrom` on "
        "(admins; setting the same currency and day again replaces the rate)."
    )
    async def set_exchange_rate(
        self, info: Info[Context, None], currency: str, rate: Decimal, valid_from: date
    ) -> ExchangeRateType:
        value = await reporting.set_exchange_rate(
            info.context.identity,
            currency,
            str(rate),
            valid_from,
            rates=info.context.resources.rates,
        )
        return ExchangeRateType.of(value)
