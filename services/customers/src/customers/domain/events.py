"""Domain events: facts the archive records, before any envelope or transport."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CustomerCreated:
    customer_id: str
    name: str
    kind: str
    owner_id: str
    lifecycle: str
    version: int
    occurred_at: datetime
    actor_id: str | None = None
    actor_name: str | None = None


# Widened to a union as the archive learns more facts (lifecycle changes, merges, transfers).
DomainEvent = CustomerCreated
