"""The ports the use cases need; ``analytics.adapters`` implements them on MongoDB.

Tests substitute in-memory fakes. Every method is a single, idempotent storage operation (or
a read), so that a use case interrupted at any point can simply be run again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from analytics.domain.funnel import DealProgress
from analytics.domain.model import OpportunityChange, Stage


class EventStore(Protocol):
    """Every event received, keyed by CloudEvent id; doubles as the processed-ids record."""

    async def contains(self, event_id: str) -> bool: ...

    async def append(self, event_id: str, envelope: Mapping[str, Any]) -> None:
        """Record the event; recording an id that is already there is a no-op."""
        ...


class OpportunityProjection(Protocol):
    """Per-opportunity funnel state and per-pipeline stage definitions, kept up to date."""

    async def apply(self, change: OpportunityChange) -> None:
        """Merge ``change``; applying it again, or out of order, gives the same state."""
        ...


class FunnelReadModel(Protocol):
    async def stages(self, pipeline_id: str) -> list[Stage] | None:
        """The latest known stage list of the pipeline, ``None`` if no event named it."""
        ...

    async def cohort(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        owner_id: str | None,
    ) -> list[DealProgress]:
        """The pipeline's deals created in ``[created_from, created_to)``, grouped by progress."""
        ...
