"""Commands: what a caller asks the archive to do, as plain data (not yet validated)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from customers.domain.model import CustomerKind, LifecycleStage
from customers.domain.values import Address, LeadSource


@dataclass(frozen=True, slots=True)
class CreateCustomer:
    kind: CustomerKind
    name: str
    email: str | None = None
    phone: str | None = None
    company_id: str | None = None
    source: LeadSource | None = None
    lifecycle: LifecycleStage = LifecycleStage.LEAD
    owner_id: str | None = None  # None: the caller owns the new customer
    tags: tuple[str, ...] | None = None
    attributes: object = None
    emails: tuple[str, ...] | None = None
    phones: tuple[str, ...] | None = None
    address: Address | None = None
    external_id: str | None = None
    team: str | None = None  # only an admin names a team; otherwise the caller's


class StepKind(Enum):
    OPENED = "OPENED"
    MOVED = "MOVED"
    WON = "WON"
    LOST = "LOST"
    REOPENED = "REOPENED"


@dataclass(frozen=True, slots=True)
class DealStep:
    """A step of a deal in the funnel, as the archive records it (parsed from a
    ``pipeline.opportunity.*`` event in ``entrypoints/messages.py``)."""

    kind: StepKind
    event_type: str  # the event's type, kept in the timeline entry's details
    opportunity_id: str
    customer_id: str
    sequence: int  # the deal's version: with its id, the key that makes a redelivery harmless
    at: datetime
    title: str
    from_stage: dict[str, Any] | None = None  # {id, name, kind}
    to_stage: dict[str, Any] | None = None
    status: str | None = None
    amount: dict[str, Any] | None = None
    lost_reason: str | None = None
    actor_id: str | None = None
    actor_name: str | None = None
