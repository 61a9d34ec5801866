"""Use cases of the reporting tools: source performance, exchange rates and converted totals,
the audit trail across customers and deals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from analytics.domain.audit import AuditQuery, AuditRecord
from analytics.domain.currency import (
    Conversion,
    ExchangeRate,
    InvalidRate,
    RateTable,
    check_currency,
    new_rate,
)
from analytics.domain.deal import DealState
from analytics.domain.model import DealStatus
from analytics.domain.sources import SourceDimension, SourceRow, source_of, source_performance
from analytics.service_layer.ports import ExchangeRates, ReadModel, ReportingStore
from analytics.service_layer.services import _check_window, owner_scope, visibility
from crm_common import access
from crm_common.errors import BadUserInput, Forbidden
from crm_common.identity import Identity
from crm_common.pagination import KeysetCursor, page_size

AUDIT_CURSORS = KeysetCursor("auditLog")


def _visible(deals: list[DealState], viewer: Identity, owner: str | None) -> list[DealState]:
    visible = visibility(viewer)
    return [
        deal
        for deal in deals
        if (visible is None or visible(deal)) and (owner is None or deal.owner_id == owner)
    ]


# -- exchange rates ---------------------------------------------------------------------------


def _require_admin(viewer: Identity, what: str) -> None:
    if not access.is_admin(viewer):
        raise Forbidden(f"{what} is for admins")


async def set_exchange_rate(
    viewer: Identity, currency: str, rate: str, valid_from: date, *, rates: ExchangeRates
) -> ExchangeRate:
    _require_admin(viewer, "setting exchange rates")
    try:
        value = new_rate(currency, rate, valid_from)
    except InvalidRate as exc:
        raise BadUserInput(str(exc), reason=exc.code, field="rate") from exc
    await rates.put(value, viewer.user_id)
    return value


async def exchange_rates(viewer: Identity, *, rates: ExchangeRates) -> list[ExchangeRate]:
    owner_scope(viewer, None)  # anyone who reads reports reads the rates they use
    return await rates.all()


async def conversion_to(currency: str | None, rates: ExchangeRates, base: str) -> Conversion | None:
    """A conversion into the reporting currency (None when none was asked for)."""
    if currency is None:
        return None
    try:
        target = check_currency(currency)
    except InvalidRate as exc:
        raise BadUserInput(str(exc), reason=exc.code, field="currency") from exc
    return Conversion(target, RateTable(await rates.all(), base))


def converted(template: Conversion, values: Mapping[str, Decimal], on: date) -> Conversion:
    """Per-currency totals converted at the rates valid on ``on``, summed."""
    conversion = Conversion(template.currency, template.table)
    for currency, amount in values.items():
        if currency:
            conversion.add(amount, currency, on)
    return conversion


def _closed_day(deal: DealState, today: date) -> date:
    return deal.closed_at.date() if deal.closed_at is not None else today


def _counted(
    deals: Iterable[DealState], status: DealStatus, start: datetime | None, end: datetime | None
) -> list[DealState]:
    return [
        d
        for d in deals
        if d.status is status
        and d.closed_at is not None
        and (start is None or d.closed_at >= start)
        and (end is None or d.closed_at < end)
    ]


@dataclass(slots=True)
class ConvertedPerformance:
    """Sales performance converted into one currency: won and lost deals at the rate valid on
    their close date, open deals at today's."""

    won: Conversion
    lost: Conversion
    open: Conversion


async def converted_sales_performance(
    pipeline_id: str,
    currency: str | None,
    *,
    viewer: Identity,
    start: datetime | None,
    end: datetime | None,
    owner_id: str | None,
    read_model: ReadModel,
    rates: ExchangeRates,
    base: str,
    today: date,
) -> ConvertedPerformance | None:
    won = await conversion_to(currency, rates, base)
    if won is None:
        return None
    lost, open_ = Conversion(won.currency, won.table), Conversion(won.currency, won.table)
    _check_window(start, end)
    deals = _visible(
        await read_model.deals(pipeline_id, fields=("amount", "closedAt", "closedBy", "status")),
        viewer,
        owner_scope(viewer, owner_id),
    )
    for conversion, status in ((won, DealStatus.WON), (lost, DealStatus.LOST)):
        for deal in _counted(deals, status, start, end):
            if deal.amount is not None and deal.currency:
                conversion.add(deal.amount, deal.currency, _closed_day(deal, today))
    for deal in deals:
        if deal.status is DealStatus.OPEN and deal.amount is not None and deal.currency:
            open_.add(deal.amount, deal.currency, today)
    return ConvertedPerformance(won=won, lost=lost, open=open_)


# -- source performance -----------------------------------------------------------------------


@dataclass(slots=True)
class SourceReport:
    rows: list[SourceRow]
    #: Per source value, the won amount converted (None: no currency asked for).
    converted: dict[str | None, Conversion] | None


async def source_report(
    pipeline_id: str,
    dimension: SourceDimension,
    *,
    viewer: Identity,
    start: datetime | None,
    end: datetime | None,
    currency: str | None,
    read_model: ReadModel,
    store: ReportingStore,
    rates: ExchangeRates,
    base: str,
    today: date,
) -> SourceReport:
    _check_window(start, end)
    owner = owner_scope(viewer, None)
    deals = _visible(
        await read_model.deals(
            pipeline_id, fields=("amount", "createdAt", "closedAt", "status", "source")
        ),
        viewer,
        owner,
    )
    # Leads are customers: only who reads the customer archive beyond their own sees counts.
    leads = (
        await store.lead_counts(dimension.field_name, start, end)
        if access.read_scope(viewer, access.Kind.CUSTOMER).all
        else {}
    )
    rows = source_performance(deals, leads, dimension, start, end)
    template = await conversion_to(currency, rates, base)
    converted: dict[str | None, Conversion] | None = None
    if template is not None:
        converted = {row.source: Conversion(template.currency, template.table) for row in rows}
        for deal in _counted(deals, DealStatus.WON, start, end):
            if deal.amount is not None and deal.currency:
                converted[source_of(deal, dimension)].add(
                    deal.amount, deal.currency, _closed_day(deal, today)
                )
    return SourceReport(rows=rows, converted=converted)


# -- the audit trail --------------------------------------------------------------------------


def audit_cursor(record: AuditRecord) -> str:
    return AUDIT_CURSORS.encode(record.time, record.event_id)


async def audit_log(
    viewer: Identity,
    query: AuditQuery,
    first: int | None,
    after: str | None,
    *,
    store: ReportingStore,
) -> tuple[list[AuditRecord], bool]:
    """One page of the audit trail, newest first, and whether more follow. Admins read every
    entry, managers their team's; anybody else is refused."""
    scope = access.audit_scope(viewer)
    if scope.nothing:
        raise Forbidden("the audit trail is for admins, and for managers of their team")
    size = page_size(first)
    _check_window(query.start, query.end)
    if query.types is not None and any(not t for t in query.types):
        raise BadUserInput(
            "types: an event type is not empty", reason="INVALID_TYPE", field="types"
        )
    key = AUDIT_CURSORS.decode_str(after) if after is not None else None
    records = await store.audit_records(
        query,
        scope,
        limit=size + 1,
        after=(key[0], key[1]) if key is not None else None,
    )
    return records[:size], len(records) > size
