"""Commands: what a caller asks the archive to do, as plain data (not yet validated)."""

from __future__ import annotations

from dataclasses import dataclass

from customers.domain.model import CustomerKind, LeadSource, LifecycleStage


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
