"""The unit of work (Cosmic Python's pattern): what one use case reads and writes through.

It owns the repositories and the outbox: ``add`` and ``save`` write an opportunity and the
CloudEvents of its recorded domain events in ONE write, so a use case never maps events nor
wakes a relay. There is no ``commit``: every aggregate is one MongoDB document with its own
outbox, so each write is atomic by itself and nothing spans two documents.
"""

from __future__ import annotations

from typing import Protocol

from pipeline.domain.model import Opportunity
from pipeline.service_layer.ports import (
    Actor,
    KnownCustomers,
    OpportunityRepository,
    PipelineRepository,
    ProcessedEvents,
    ProductRepository,
    QuoteRepository,
)


class UnitOfWork(Protocol):
    @property
    def pipelines(self) -> PipelineRepository: ...

    @property
    def opportunities(self) -> OpportunityRepository:
        """Reads and positions; writes go through ``add`` and ``save``."""

    @property
    def customers(self) -> KnownCustomers: ...

    @property
    def products(self) -> ProductRepository: ...

    @property
    def quotes(self) -> QuoteRepository: ...

    @property
    def processed(self) -> ProcessedEvents: ...

    async def add(self, opportunity: Opportunity, *, by: Actor) -> None:
        """Insert a new opportunity with its events pending in its outbox."""

    async def save(self, opportunity: Opportunity, loaded_version: int, *, by: Actor) -> bool:
        """Write the opportunity and its new events only if its stored version is still
        ``loaded_version``; False when someone wrote meanwhile (nothing written)."""
