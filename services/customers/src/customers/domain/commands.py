"""Commands: what a caller asks the archive to do, as plain data (not yet validated)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class PipelineEvent:
    """A ``pipeline.opportunity.*`` event as the archive reads it (the envelope's facts)."""

    id: str
    type: str
    sequence: int
    time: str
    data: dict[str, Any]
    actor_id: str | None = None
    actor_name: str | None = None
