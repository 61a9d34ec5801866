"""The entries of a customer's timeline (calls, e-mails, meetings, notes and deal steps)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# A pure syntax check (no DNS), kept in the domain because it is a value-object rule.
from customers.domain.model import InteractionKind
from customers.domain.values import (
    clean_multiline,
    invalid_value,
    new_id,
    normalise_attributes,
    utcnow,
)

INTERACTION_SUMMARY_MAX = 2000


@dataclass(frozen=True, slots=True)
class Interaction:
    """One entry of a customer's timeline."""

    id: str
    customer_id: str
    kind: InteractionKind
    occurred_at: datetime
    recorded_at: datetime
    summary: str
    details: dict[str, Any] | None
    actor_id: str | None
    actor_name: str | None
    opportunity_id: str | None = None
    merged_from: str | None = None

    @classmethod
    def log(
        cls,
        *,
        customer_id: str,
        kind: InteractionKind,
        summary: str | None,
        details: object = None,
        occurred_at: datetime | None = None,
        actor_id: str | None = None,
        actor_name: str | None = None,
        opportunity_id: str | None = None,
        interaction_id: str | None = None,
        now: datetime | None = None,
    ) -> Interaction:
        moment = now or utcnow()
        text = clean_multiline(summary, "summary", INTERACTION_SUMMARY_MAX)
        if text is None:
            raise invalid_value("summary", "is required and must not be blank")
        when = occurred_at or moment
        if when.tzinfo is None:
            raise invalid_value("occurredAt", "must carry a time zone")
        when = when.astimezone(UTC)
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)
        return cls(
            id=interaction_id or new_id(),
            customer_id=customer_id,
            kind=InteractionKind(kind),
            occurred_at=when,
            recorded_at=moment,
            summary=text,
            details=normalise_attributes(details),
            actor_id=actor_id,
            actor_name=actor_name,
            opportunity_id=opportunity_id,
        )
