"""The unit of work over any repositories that implement the ports (MongoDB in the process,
in-memory fakes in the use-case tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from pipeline.adapters.catalogue import MongoProductRepository
from pipeline.adapters.mongo import (
    MongoKnownCustomers,
    MongoOpportunityRepository,
    MongoPipelineRepository,
    MongoProcessedEvents,
)
from pipeline.adapters.outbox import outbox_events
from pipeline.adapters.quotes import MongoQuoteRepository
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


@dataclass(frozen=True, slots=True)
class RepositoryUnitOfWork:
    pipelines: PipelineRepository
    opportunities: OpportunityRepository
    customers: KnownCustomers
    processed: ProcessedEvents
    products: ProductRepository
    quotes: QuoteRepository

    async def add(self, opportunity: Opportunity, *, by: Actor) -> None:
        await self.opportunities.add(opportunity, outbox_events(opportunity, by))

    async def save(self, opportunity: Opportunity, loaded_version: int, *, by: Actor) -> bool:
        return await self.opportunities.save(
            opportunity, loaded_version, outbox_events(opportunity, by)
        )


@dataclass(frozen=True, slots=True)
class MongoUnitOfWork(RepositoryUnitOfWork):
    """The process's unit of work: the MongoDB repositories of one database."""

    pipelines: MongoPipelineRepository
    opportunities: MongoOpportunityRepository
    customers: MongoKnownCustomers
    processed: MongoProcessedEvents
    products: MongoProductRepository
    quotes: MongoQuoteRepository

    @classmethod
    def of(cls, db: AsyncDatabase[dict[str, Any]]) -> MongoUnitOfWork:
        return cls(
            pipelines=MongoPipelineRepository(db),
            opportunities=MongoOpportunityRepository(db),
            customers=MongoKnownCustomers(db),
            processed=MongoProcessedEvents(db),
            products=MongoProductRepository(db),
            quotes=MongoQuoteRepository(db),
        )
