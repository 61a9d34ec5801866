"""What resolvers reach: the process's services (built once in the lifespan) and, per
request, the caller's identity and the DataLoaders that batch MongoDB reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from strawberry.dataloader import DataLoader

from crm_common.errors import Forbidden
from crm_common.identity import Identity
from crm_common.shell import Readiness
from pipeline.adapters.unit_of_work import MongoUnitOfWork
from pipeline.domain import access
from pipeline.domain.access import Scope
from pipeline.domain.model import Opportunity, Pipeline
from pipeline.service_layer.ports import Actor
from pipeline.settings import Settings


@dataclass(slots=True)
class Services:
    """The composition root's products, shared by every request of the process."""

    settings: Settings
    readiness: Readiness
    db: AsyncDatabase[dict[str, Any]]
    # Every use case runs through it; resolvers read through its repositories.
    uow: MongoUnitOfWork


class Loaders:
    """Per-request DataLoaders: N entity lookups in one resolver pass cost one query each."""

    def __init__(self, services: Services, scope: Scope) -> None:
        async def load_pipelines(ids: list[str]) -> Sequence[Pipeline | None]:
            found = await services.uow.pipelines.get_many(ids)
            return [found.get(i) for i in ids]

        async def load_opportunities(ids: list[str]) -> Sequence[Opportunity | None]:
            found = await services.uow.opportunities.get_many(ids)
            return [found.get(i) for i in ids]

        async def load_by_customer(ids: list[str]) -> Sequence[list[Opportunity]]:
            found = await services.uow.opportunities.by_customers(ids, scope)
            return [found.get(i, []) for i in ids]

        self.pipeline = DataLoader(load_fn=load_pipelines)
        self.opportunity = DataLoader(load_fn=load_opportunities)
        self.opportunities_by_customer = DataLoader(load_fn=load_by_customer)


@dataclass(slots=True)
class PipelineContext:
    services: Services
    identity: Identity
    traceparent: str | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services, self.scope)

    @property
    def actor(self) -> Actor:
        return Actor(
            user_id=self.identity.user_id,
            name=self.identity.name,
            traceparent=self.traceparent,
            roles=self.identity.roles,
            team=self.identity.team,
        )

    @property
    def scope(self) -> Scope:
        return access.read_scope(self.actor.viewer)

    def readable(self, opportunity: Opportunity) -> Opportunity:
        """The opportunity if the caller may see it; FORBIDDEN otherwise."""
        if not access.can_read(self.actor.viewer, opportunity.owner_id, opportunity.team):
            raise Forbidden(f"you may not see opportunity {opportunity.id}")
        return opportunity
