"""GraphQL types and inputs of the follow-ups (tasks)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm_common import relay
from crm_common.pagination import Page
from crm_common.relay import PageInfo
from customers.domain import tasks
from customers.service_layer.ports import TaskPage

TaskStatus = strawberry.enum(tasks.TaskStatus, name="TaskStatus")
TaskPriority = strawberry.enum(tasks.TaskPriority, name="TaskPriority")
DueBucket = strawberry.enum(
    tasks.DueBucket,
    name="DueBucket",
    description="OVERDUE: due before now; TODAY: during today (UTC); THIS_WEEK: from now to "
    "Sunday's end (UTC); LATER: after this week.",
)


@strawberry.type
class Task:
    id: strawberry.ID
    title: str
    due_at: datetime
    assignee_id: strawberry.ID
    team: str | None
    customer_id: strawberry.ID | None
    opportunity_id: strawberry.ID | None
    priority: TaskPriority  # type: ignore[valid-type]
    notes: str | None
    status: TaskStatus  # type: ignore[valid-type]
    completed_at: datetime | None
    completed_by: strawberry.ID | None
    created_by: strawberry.ID
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, task: tasks.Task) -> Task:
        return cls(
            id=strawberry.ID(task.id),
            title=task.title,
            due_at=task.due_at,
            assignee_id=strawberry.ID(task.assignee_id),
            team=task.team,
            customer_id=strawberry.ID(task.customer_id) if task.customer_id else None,
            opportunity_id=strawberry.ID(task.opportunity_id) if task.opportunity_id else None,
            priority=task.priority,
            notes=task.notes,
            status=task.status,
            completed_at=task.completed_at,
            completed_by=strawberry.ID(task.completed_by) if task.completed_by else None,
            created_by=strawberry.ID(task.created_by),
            version=task.version,
            created_at=task.created_at,
            updated_at=task.updated_at,
        )


@strawberry.type
class TaskEdge:
    cursor: str
    node: Task


@strawberry.type
class TaskConnection:
    edges: list[TaskEdge]
    page_info: PageInfo


def task_connection(page: TaskPage, after: str | None) -> TaskConnection:
    edges, page_info = relay.connection(
        Page(page.items, page.has_next, after is not None),
        lambda cursor, task: TaskEdge(cursor=cursor, node=Task.from_domain(task)),
    )
    return TaskConnection(edges=edges, page_info=page_info)


@strawberry.input
class TaskFilter:
    assignee_id: strawberry.ID | None = None
    customer_id: strawberry.ID | None = None
    opportunity_id: strawberry.ID | None = None
    status: TaskStatus | None = None  # type: ignore[valid-type]
    due: DueBucket | None = None  # type: ignore[valid-type]
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Due at or after."
    )
    to: datetime | None = strawberry.field(default=None, description="Due before.")


@strawberry.input
class CreateTaskInput:
    title: str
    due_at: datetime
    customer_id: strawberry.ID | None = None
    opportunity_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the caller."
    )
    priority: TaskPriority = tasks.TaskPriority.MEDIUM  # type: ignore[valid-type]
    notes: str | None = None


@strawberry.input(description="Only the fields given change; notes null clears them.")
class UpdateTaskInput:
    title: str | None = strawberry.UNSET
    due_at: datetime | None = strawberry.UNSET
    assignee_id: strawberry.ID | None = strawberry.UNSET
    priority: TaskPriority | None = strawberry.UNSET  # type: ignore[valid-type]
    notes: str | None = strawberry.UNSET
