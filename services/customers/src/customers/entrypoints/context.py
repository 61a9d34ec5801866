"""The request context of the customers subgraph: identity, ports and per-request DataLoaders,
and the typed field and mutation decorators the resolvers use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import strawberry
from strawberry.dataloader import DataLoader

from crm_common.identity import Identity
from customers.domain import model
from customers.domain.interactions import Interaction
from customers.domain.tasks import Task
from customers.service_layer import importing, services
from customers.service_layer import tasks as task_cases
from customers.service_layer.ports import (
    AuditRepository,
    CustomerRepository,
    InteractionRepository,
    OperationLog,
    TaskRepository,
    TransferRepository,
)


@dataclass
class TaskLoaders:
    """Per-request batches of the follow-ups of customers and deals, and of deals' entries."""

    by_customer: DataLoader[str, list[Task]]
    by_opportunity: DataLoader[str, list[Task]]
    interactions_by_opportunity: DataLoader[str, list[Interaction]]


OPPORTUNITY_ENTRIES_MAX = 200


def task_loaders(
    identity: Identity, tasks_repository: TaskRepository, interactions: InteractionRepository
) -> TaskLoaders:
    async def by_customer(ids: list[str]) -> list[list[Task]]:
        return await task_cases.tasks_by("customer_id", ids, identity, tasks_repository)

    async def by_opportunity(ids: list[str]) -> list[list[Task]]:
        return await task_cases.tasks_by("opportunity_id", ids, identity, tasks_repository)

    async def entries(ids: list[str]) -> list[list[Interaction]]:
        found = await interactions.by_opportunities(ids, OPPORTUNITY_ENTRIES_MAX)
        return [found.get(i, []) for i in ids]

    return TaskLoaders(
        DataLoader(load_fn=by_customer),
        DataLoader(load_fn=by_opportunity),
        DataLoader(load_fn=entries),
    )


@dataclass
class Context:
    """What every resolver of one request shares; built by the app for each request."""

    identity: Identity
    repository: CustomerRepository
    customer_loader: DataLoader[str, model.Customer | None]
    contacts_loader: DataLoader[str, list[model.Customer]]
    interactions: InteractionRepository | None = None
    audit: AuditRepository | None = None
    transfers: TransferRepository | None = None
    phone_region: str | None = None
    request: Any = None
    response: Any = None
    operations: OperationLog | None = None
    import_max_chars: int = importing.GRAPHQL_IMPORT_MAX_CHARS
    tasks: TaskRepository | None = None
    task_loaders: TaskLoaders | None = None

    def need_tasks(self) -> TaskRepository:
        assert self.tasks is not None
        return self.tasks

    def need_task_loaders(self) -> TaskLoaders:
        assert self.task_loaders is not None
        return self.task_loaders

    def task_repositories(self) -> task_cases.TaskRepositories:
        return task_cases.TaskRepositories(
            self.need_tasks(), self.repository, self.need_interactions()
        )

    def need_interactions(self) -> InteractionRepository:
        assert self.interactions is not None
        return self.interactions

    def need_audit(self) -> AuditRepository:
        assert self.audit is not None
        return self.audit

    def need_transfers(self) -> TransferRepository:
        assert self.transfers is not None
        return self.transfers

    def need_operations(self) -> OperationLog:
        assert self.operations is not None
        return self.operations


def build_context(
    identity: Identity,
    repository: CustomerRepository,
    *,
    interactions: InteractionRepository | None = None,
    audit: AuditRepository | None = None,
    transfers: TransferRepository | None = None,
    phone_region: str | None = None,
    request: Any = None,
    response: Any = None,
    operations: OperationLog | None = None,
    import_max_chars: int = importing.GRAPHQL_IMPORT_MAX_CHARS,
    tasks_repository: TaskRepository | None = None,
) -> Context:
    async def load_customers(ids: list[str]) -> list[model.Customer | None]:
        return await services.customers_by_ids(ids, repository)

    async def load_contacts(company_ids: list[str]) -> list[list[model.Customer]]:
        return await services.contacts_by_company(company_ids, repository)

    return Context(
        identity=identity,
        repository=repository,
        customer_loader=DataLoader(load_fn=load_customers),
        contacts_loader=DataLoader(load_fn=load_contacts),
        interactions=interactions,
        audit=audit,
        transfers=transfers,
        phone_region=phone_region,
        request=request,
        response=response,
        operations=operations,
        import_max_chars=import_max_chars,
        tasks=tasks_repository,
        task_loaders=task_loaders(identity, tasks_repository, interactions)
        if tasks_repository is not None and interactions is not None
        else None,
    )


Info = strawberry.Info[Context, None]
F = TypeVar("F", bound=Callable[..., Any])


def field(description: str) -> Callable[[F], F]:
    """``@strawberry.field(description=...)`` with the resolver's type kept for mypy."""
    return cast("Callable[[F], F]", strawberry.field(description=description))


def mutation(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.mutation(description=description))
