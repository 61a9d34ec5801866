"""Domain events: facts the archive records, before any envelope or transport."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    team: str | None = None
    #: Where the lead came from (``channel``, ``campaign``, ``medium``, ``referrer``): deals
    #: opened on the customer take it, so reports can group deals by source.
    source: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class CustomerUpdated:
    """Who the customer belongs to changed (its owner or its team): other services that
    decide who may see the customer (the pipeline) keep their copy current."""

    customer_id: str
    owner_id: str
    team: str | None
    version: int
    occurred_at: datetime
    actor_id: str | None = None
    actor_name: str | None = None


@dataclass(frozen=True, slots=True)
class LifecycleChanged:
    customer_id: str
    from_stage: str
    to_stage: str
    reason: str | None
    cause: dict[str, Any] | None
    version: int
    occurred_at: datetime
    actor_id: str | None = None
    actor_name: str | None = None


@dataclass(frozen=True, slots=True)
class CustomersMerged:
    survivor_id: str
    merged_ids: tuple[str, ...]
    version: int
    occurred_at: datetime
    actor_id: str | None = None
    actor_name: str | None = None
    survivor_owner_id: str | None = None
    survivor_team: str | None = None


@dataclass(frozen=True, slots=True)
class OwnershipTransferred:
    transfer_id: str
    from_owner_id: str
    to_owner_id: str
    include_open_opportunities: bool
    customer_ids: tuple[str, ...]
    version: int
    occurred_at: datetime
    actor_id: str | None = None
    actor_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The team a manager's transfer is limited to (None: an admin's, every team).
    team: str | None = None


DomainEvent = (
    CustomerCreated | CustomerUpdated | LifecycleChanged | CustomersMerged | OwnershipTransferred
)
