"""The ports the use cases need; ``analytics.adapters`` implements them on MongoDB.

Tests substitute in-memory fakes (``analytics.adapters.memory``). Every write is a single,
idempotent storage operation, so that a use case interrupted at any point can be run again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from analytics.domain.audit import AuditQuery, AuditRecord
from analytics.domain.currency import ExchangeRate
from analytics.domain.deal import DealState
from analytics.domain.funnel import DealProgress
from analytics.domain.model import Stage
from analytics.domain.webhooks import Delivery, Webhook
from crm_common.access import Scope


class EventStore(Protocol):
    """Every event received, keyed by CloudEvent id; doubles as the processed-ids record."""

    async def append(self, event_id: str, envelope: Mapping[str, Any]) -> bool:
        """Record the event; ``False`` (and no change) if the id is already there."""
        ...

    async def append_many(self, items: list[tuple[str, Mapping[str, Any]]]) -> None:
        """Record many events (ids already there are left alone)."""
        ...

    async def find(self, subject: str, sequence: int) -> Mapping[str, Any] | None:
        """The stored envelope of ``subject``'s event number ``sequence``."""
        ...

    def replay(self, pipeline_id: str | None = None) -> AsyncIterator[Mapping[str, Any]]:
        """Every stored envelope (of one pipeline), ordered by subject, then sequence."""
        ...


class DealRepository(Protocol):
    """Per-opportunity states (``DealState``) and per-pipeline stage lists."""

    async def get(self, opportunity_id: str) -> tuple[DealState, int] | None:
        """The state and its revision (for an optimistic save)."""
        ...

    async def save(self, state: DealState, revision: int | None) -> None:
        """Write ``state``; ``revision`` None = new. Raises ``ConcurrentUpdate`` if stale."""
        ...

    async def get_many(self, opportunity_ids: set[str]) -> dict[str, tuple[DealState, int]]:
        """The states (and revisions) of those that exist."""
        ...

    async def save_many(self, states: list[tuple[DealState, int | None]]) -> set[str]:
        """Write many states (``save`` semantics); returns the ids that conflicted."""
        ...

    async def note_pipeline(
        self, pipeline_id: str, stages: tuple[Stage, ...] | None, as_of: datetime
    ) -> None:
        """Keep the latest stage list of the pipeline."""
        ...

    async def bump(self, pipeline_id: str) -> None:
        """Count a change of the pipeline's projections (cache key of derived figures)."""
        ...

    async def held_before(self, moment: datetime) -> list[str]:
        """Opportunities holding events since before ``moment`` (gaps to time out)."""
        ...


class ReadModel(Protocol):
    async def stages(self, pipeline_id: str) -> list[Stage] | None:
        """The latest known stage list of the pipeline, ``None`` if no event named it."""
        ...

    async def change_count(self, pipeline_id: str) -> int: ...

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

    async def deals(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        created_before: datetime | None = None,
        credited_to: str | None = None,
        moved_from: datetime | None = None,
        moved_to: datetime | None = None,
        open_only: bool = False,
        fields: tuple[str, ...] | None = None,
    ) -> list[DealState]:
        """The pipeline's deal states matching every given filter."""
        ...


class ExchangeRates(Protocol):
    """The exchange rates an admin keeps (one per currency and day)."""

    async def all(self) -> list[ExchangeRate]: ...

    async def put(self, rate: ExchangeRate, actor_id: str) -> None: ...


class ReportingStore(Protocol):
    """Reads over the event store for the reporting tools."""

    async def lead_counts(
        self, source_field: str, start: datetime | None, end: datetime | None
    ) -> dict[str | None, int]:
        """Customers created in [start, end) by the value of their source's field."""

    async def audit_records(
        self, query: AuditQuery, scope: Scope, *, limit: int, after: tuple[str, str] | None
    ) -> list[AuditRecord]:
        """The matching entries the scope admits, newest first."""


class WebhookStore(Protocol):
    """Webhooks and their deliveries (``analytics.adapters.mongo.webhooks``)."""

    async def add(self, webhook: Webhook) -> None: ...

    async def all(self) -> list[Webhook]: ...

    async def get(self, webhook_id: str) -> Webhook | None: ...

    async def delete(self, webhook_id: str) -> bool: ...

    async def disable(self, webhook_id: str, reason: str, at: datetime) -> None: ...

    async def note_attempt(self, webhook_id: str, succeeded: bool) -> int: ...

    async def enqueue(self, deliveries: list[dict[str, Any]]) -> None: ...

    async def pending(self, limit: int) -> list[Delivery]: ...

    async def bodies(self, delivery_ids: list[str]) -> dict[str, str]: ...

    async def delivered(self, delivery_id: str, status: int, at: datetime) -> None: ...

    async def failed_attempt(
        self, delivery_id: str, status: int | None, error: str, next_attempt_at: datetime | None
    ) -> None: ...

    async def page(
        self, webhook_id: str, first: int, after_seq: int | None
    ) -> tuple[list[Delivery], list[int]]: ...


class ConcurrentUpdate(Exception):
    """Another writer saved the same opportunity first: retry the use case."""
