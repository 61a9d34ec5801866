"""Quotes: a deal's line items frozen into a numbered offer with a validity date.

A quote copies the lines as they are when it is made (later changes of the deal or of the
catalogue leave it alone). DRAFT -> SENT -> ACCEPTED or DECLINED (a draft may be accepted or
declined directly: the customer said yes on the phone); an expired quote is not accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from pipeline.domain.catalogue import LineItem, lines_sum
from pipeline.domain.errors import DomainError
from pipeline.domain.money import Money


class InvalidQuote(DomainError):
    def __init__(self, message: str, *, field: str = "id", reason: str = "INVALID_QUOTE") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


class QuoteStatus(StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"


_NEXT = {
    QuoteStatus.SENT: {QuoteStatus.DRAFT},
    QuoteStatus.ACCEPTED: {QuoteStatus.DRAFT, QuoteStatus.SENT},
    QuoteStatus.DECLINED: {QuoteStatus.DRAFT, QuoteStatus.SENT},
}


def quote_number(year: int, sequence: int) -> str:
    """``Q-2026-000042``: the year it was made and a counter that never repeats."""
    return f"Q-{year}-{sequence:06d}"


@dataclass(frozen=True, slots=True)
class Quote:
    id: str
    number: str
    opportunity_id: str
    opportunity_title: str
    customer_id: str
    owner_id: str
    team: str | None
    items: list[LineItem]
    total: Money
    valid_until: date
    status: QuoteStatus
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def freeze(
        cls,
        *,
        id: str,
        number: str,
        opportunity_id: str,
        opportunity_title: str,
        customer_id: str,
        owner_id: str,
        team: str | None,
        items: list[LineItem],
        valid_until: date,
        created_by: str,
        at: datetime,
    ) -> Quote:
        total = lines_sum(items)
        if total is None:
            raise InvalidQuote(
                "opportunityId: the deal has no line items to quote (setLineItems first)",
                field="opportunityId",
                reason="NO_LINE_ITEMS",
            )
        if valid_until < at.date():
            raise InvalidQuote(
                "validUntil: must not be in the past", field="validUntil", reason="IN_THE_PAST"
            )
        return cls(
            id=id,
            number=number,
            opportunity_id=opportunity_id,
            opportunity_title=opportunity_title,
            customer_id=customer_id,
            owner_id=owner_id,
            team=team,
            items=list(items),
            total=total,
            valid_until=valid_until,
            status=QuoteStatus.DRAFT,
            version=1,
            created_by=created_by,
            created_at=at,
            updated_at=at,
        )

    def moved_to(self, status: QuoteStatus, *, at: datetime) -> Quote:
        if self.status not in _NEXT[status]:
            raise InvalidQuote(
                f"quote {self.number} is {self.status}: it cannot become {status}",
                reason="INVALID_TRANSITION",
            )
        if status is QuoteStatus.ACCEPTED and at.date() > self.valid_until:
            raise InvalidQuote(
                f"quote {self.number} expired on {self.valid_until.isoformat()}",
                reason="QUOTE_EXPIRED",
            )
        return replace(self, status=status, version=self.version + 1, updated_at=at)
