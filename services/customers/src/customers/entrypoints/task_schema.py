"""The follow-ups' queries and mutations, and the fields this subgraph adds to the pipeline's
``Opportunity`` (its tasks and the timeline entries about it), merged into the root types."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from crm_common.errors import BadUserInput
from crm_common.pagination import page_size
from customers.domain import tasks as domain
from customers.entrypoints.context import Info, field, mutation
from customers.entrypoints.graphql_inputs import SortDirection
from customers.entrypoints.graphql_types import Interaction
from customers.entrypoints.task_types import (
    CreateTaskInput,
    Task,
    TaskConnection,
    TaskFilter,
    UpdateTaskInput,
    task_connection,
)
from customers.service_layer import services, tasks
from customers.service_layer.ports import TaskSortField

OPPORTUNITY_INTERACTIONS_MAX = 200


@strawberry.enum(name="TaskSortField")
class TaskSortOrder(Enum):
    DUE_AT = "DUE_AT"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


@strawberry.input
class TaskSort:
    field: TaskSortOrder = TaskSortOrder.DUE_AT
    direction: SortDirection = SortDirection.ASC


def given(value: Any) -> Any:
    """An optional input field's value; absent (UNSET) reads as None (unchanged)."""
    return None if value is strawberry.UNSET else value


def _id(value: strawberry.ID | None) -> str | None:
    return None if value is None else str(value)


@strawberry.federation.type(name="Opportunity", keys=["id"])
class OpportunityTasks:
    """The pipeline's deal; this subgraph adds its follow-ups and the entries about it."""

    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> OpportunityTasks:
        return cls(id=id)

    @field("The deal's follow-ups the caller may see, by due time.")
    async def tasks(self, info: Info, status: domain.TaskStatus | None = None) -> list[Task] | None:
        found = await info.context.need_task_loaders().by_opportunity.load(str(self.id))
        return [Task.from_domain(t) for t in found if status is None or t.status is status]

    @field("Notes, calls and meetings about the deal (and its steps), newest first.")
    async def interactions(self, info: Info, first: int | None = 50) -> list[Interaction] | None:
        size = page_size(first, maximum=OPPORTUNITY_INTERACTIONS_MAX)
        loaders = info.context.need_task_loaders()
        entries = await loaders.interactions_by_opportunity.load(str(self.id))
        if not entries:
            return []
        customer = await info.context.customer_loader.load(entries[0].customer_id)
        if customer is None or not services.can_see(info.context.identity, customer):
            return []
        return [Interaction.from_domain(e) for e in entries[:size]]


@strawberry.type
class TaskQuery:
    @field(
        "Follow-ups the caller may see (their own, their team's for managers, those of the "
        "customers they see), by due time unless sorted; a rep's today list is "
        "tasks(filter: { due: TODAY, status: OPEN })."
    )
    async def tasks(
        self,
        info: Info,
        filter: TaskFilter | None = None,
        sort: TaskSort | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> TaskConnection | None:
        size = page_size(first)
        where = tasks.TaskListFilter(
            assignee_id=_id(filter.assignee_id) if filter else None,
            customer_id=_id(filter.customer_id) if filter else None,
            opportunity_id=_id(filter.opportunity_id) if filter else None,
            status=filter.status if filter else None,
            due=filter.due if filter else None,
            due_from=filter.from_ if filter else None,
            due_to=filter.to if filter else None,
            sort=TaskSortField(sort.field.value) if sort else TaskSortField.DUE_AT,
            descending=bool(sort and sort.direction is SortDirection.DESC),
        )
        page = await tasks.list_tasks(
            where, size, after, info.context.identity, info.context.need_tasks()
        )
        return task_connection(page, after)

    @strawberry.field
    async def task(self, info: Info, id: strawberry.ID) -> Task | None:
        found = await info.context.need_tasks().get(str(id))
        if found is None or not tasks.can_see(info.context.identity, found):
            return None
        return Task.from_domain(found)


@strawberry.type
class TaskMutation:
    @mutation("Plan a follow-up; the assignee defaults to the caller.")
    async def create_task(self, info: Info, input: CreateTaskInput) -> Task:
        created = await tasks.create_task(
            title=input.title,
            due_at=input.due_at,
            customer_id=_id(input.customer_id),
            opportunity_id=_id(input.opportunity_id),
            assignee_id=_id(input.assignee_id),
            priority=input.priority,
            notes=input.notes,
            actor=info.context.identity,
            repos=info.context.task_repositories(),
        )
        return Task.from_domain(created)

    @mutation("Change a follow-up; a new due time is announced again when it comes.")
    async def update_task(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateTaskInput,
        expected_version: int | None = None,
    ) -> Task:
        for required in ("title", "due_at", "assignee_id", "priority"):
            if getattr(input, required) is None:
                raise BadUserInput(f"{required} cannot be null", field=required)

        changed = await tasks.update_task(
            str(id),
            title=given(input.title),
            due_at=given(input.due_at),
            assignee_id=_id(given(input.assignee_id)),
            priority=given(input.priority),
            notes=given(input.notes),
            clear_notes=input.notes is None,
            expected_version=expected_version,
            actor=info.context.identity,
            repos=info.context.task_repositories(),
        )
        return Task.from_domain(changed)

    @mutation("Mark a follow-up done: a TASK_DONE entry goes into the customer's timeline.")
    async def complete_task(
        self, info: Info, id: strawberry.ID, expected_version: int | None = None
    ) -> Task:
        done = await tasks.complete_task(
            str(id), expected_version, info.context.identity, info.context.task_repositories()
        )
        return Task.from_domain(done)

    @mutation("Open a done follow-up again.")
    async def reopen_task(
        self, info: Info, id: strawberry.ID, expected_version: int | None = None
    ) -> Task:
        reopened = await tasks.reopen_task(
            str(id), expected_version, info.context.identity, info.context.task_repositories()
        )
        return Task.from_domain(reopened)

    @mutation("Delete a follow-up; returns it as it was.")
    async def delete_task(
        self, info: Info, id: strawberry.ID, expected_version: int | None = None
    ) -> Task:
        deleted = await tasks.delete_task(
            str(id), expected_version, info.context.identity, info.context.task_repositories()
        )
        return Task.from_domain(deleted)
