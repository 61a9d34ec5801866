"""Lead-source attribution: where deals come from and how they do, per source value.

A deal takes its customer's lead source when it is opened (the pipeline copies it into every
opportunity event). One row per value of the chosen dimension (channel, campaign or medium;
``None`` for deals and leads without one):

- ``leads``: customers created in the window with that source (``customers.customer.created``);
- ``opened``: deals created in the window;
- ``won`` / ``lost``: deals closed in the window (as ``salesPerformance`` counts them);
- ``won_amount``: per currency; ``win_rate`` = won / (won + lost) by count;
- ``avg_cycle_days``: mean days from creation to win of the won deals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from analytics.domain.deal import DealState
from analytics.domain.model import DealStatus


class SourceDimension(StrEnum):
    CHANNEL = "CHANNEL"
    CAMPAIGN = "CAMPAIGN"
    MEDIUM = "MEDIUM"

    @property
    def field_name(self) -> str:
        """The key of the dimension in a lead source (``channel``, ``campaign``, ``medium``)."""
        return self.value.lower()


@dataclass(slots=True)
class SourceRow:
    source: str | None
    leads: int = 0
    opened: int = 0
    won: int = 0
    lost: int = 0
    won_amount: dict[str, Decimal] = field(default_factory=dict)
    cycle_days: list[float] = field(default_factory=list)

    @property
    def win_rate(self) -> float:
        closed = self.won + self.lost
        return self.won / closed if closed else 0.0

    @property
    def avg_cycle_days(self) -> float:
        return sum(self.cycle_days) / len(self.cycle_days) if self.cycle_days else 0.0


def source_of(deal: DealState, dimension: SourceDimension) -> str | None:
    match dimension:
        case SourceDimension.CHANNEL:
            return deal.source_channel
        case SourceDimension.CAMPAIGN:
            return deal.source_campaign
        case SourceDimension.MEDIUM:
            return deal.source_medium


def _within(at: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if at is None:
        return False
    return (start is None or at >= start) and (end is None or at < end)


def source_performance(
    deals: Iterable[DealState],
    leads: Mapping[str | None, int],
    dimension: SourceDimension,
    start: datetime | None,
    end: datetime | None,
) -> list[SourceRow]:
    """One row per source value seen in the leads or the deals, the most leads, then the most
    opened deals, first (ties by name, ``None`` last)."""
    rows: dict[str | None, SourceRow] = {}

    def row(source: str | None) -> SourceRow:
        if source not in rows:
            rows[source] = SourceRow(source=source)
        return rows[source]

    for source, count in leads.items():
        row(source).leads += count
    won_amounts: dict[str | None, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for deal in deals:
        source = source_of(deal, dimension)
        if _within(deal.created_at, start, end):
            row(source).opened += 1
        if deal.status is DealStatus.OPEN or not _within(deal.closed_at, start, end):
            continue
        if deal.status is DealStatus.WON:
            target = row(source)
            target.won += 1
            if deal.amount is not None and deal.currency:
                won_amounts[source][deal.currency] += deal.amount
            if deal.created_at is not None and deal.closed_at is not None:
                target.cycle_days.append((deal.closed_at - deal.created_at).total_seconds() / 86400)
        elif deal.status is DealStatus.LOST:
            row(source).lost += 1
    for source, amounts in won_amounts.items():
        rows[source].won_amount = dict(amounts)
    return sorted(
        rows.values(),
        key=lambda r: (-r.leads, -r.opened, r.source is None, r.source or ""),
    )
