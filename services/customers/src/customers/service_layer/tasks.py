"""Use cases of the follow-ups (tasks), beside the timeline they write into when done.

Who sees a task: whoever sees its assignee and team, or its customer (``crm_common.access``
over customers, the rule of the archive). Who changes it: a writer who sees it. Assigning to
somebody else is for managers and admins (as giving a customer away). Completing writes a
``TASK_DONE`` entry into the customer's timeline (with the task's deal), idempotently: the
entry's id is derived from the task and its completion, so a retry writes it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from crm_common import access
from crm_common.access import Kind
from crm_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from crm_common.events import CloudEvent, new_event
from crm_common.identity import Identity
from customers.domain.interactions import Interaction
from customers.domain.model import InteractionKind
from customers.domain.tasks import DueBucket, Task, TaskPriority, TaskStatus, due_window
from customers.domain.values import invalid_value, new_id, normalise_id, utcnow
from customers.service_layer.ports import (
    CustomerRepository,
    InteractionRepository,
    TaskPage,
    TaskQuery,
    TaskRepository,
    TaskSortField,
)
from customers.service_layer.services import may_assign, require_writer, visible_customer

TASK_DUE = "customers.task.due"
SOURCE = "crm/customers"
TASK_DONE_NAMESPACE = uuid.UUID("5b0f3c8e-8d4e-4c0c-9a57-6d1f0e3b7a21")


def visibility_of(actor: Identity) -> list[str] | None:
    """The visibility keys of the tasks ``actor`` may see (None: all)."""
    scope = access.read_scope(actor, Kind.CUSTOMER)
    if scope.all:
        return None
    keys = []
    if scope.owner_id is not None:
        keys.append(f"owner:{scope.owner_id}")
    if scope.team is not None:
        keys.append(f"team:{scope.team}")
    return keys


def can_see(actor: Identity, task: Task) -> bool:
    return access.can_read(actor, Kind.CUSTOMER, task.assignee_id, task.team) or (
        task.customer_owner_id is not None
        and access.can_read(actor, Kind.CUSTOMER, task.customer_owner_id, task.customer_team)
    )


@dataclass(frozen=True, slots=True)
class TaskRepositories:
    tasks: TaskRepository
    customers: CustomerRepository
    interactions: InteractionRepository


def _assignee(actor: Identity, wanted: str | None) -> str:
    if wanted is None or wanted == actor.user_id:
        return actor.user_id
    if not may_assign(actor):
        raise Forbidden("only a manager or an admin assigns a task to somebody else")
    assignee = normalise_id(wanted, "assigneeId")
    if assignee is None:
        raise invalid_value("assigneeId", "must not be blank")
    return assignee


async def create_task(
    *,
    title: str,
    due_at: datetime,
    customer_id: str | None,
    opportunity_id: str | None,
    assignee_id: str | None,
    priority: TaskPriority,
    notes: str | None,
    actor: Identity,
    repos: TaskRepositories,
) -> Task:
    require_writer(actor)
    assignee = _assignee(actor, assignee_id)
    if opportunity_id is not None:
        # The deal's customer, as its timeline entries tell (None: not heard of yet).
        deal_customer = await repos.interactions.customer_of_opportunity(opportunity_id)
        if customer_id is None:
            if deal_customer is None:
                raise BadUserInput(
                    "customerId: required for a deal this service has not heard of yet",
                    field="customerId",
                )
            customer_id = deal_customer
        elif deal_customer is not None and deal_customer != customer_id:
            raise BadUserInput(
                f"opportunityId: deal {opportunity_id} is not a deal of customer {customer_id}",
                field="opportunityId",
            )
    customer = await visible_customer(customer_id, actor, repos.customers) if customer_id else None
    task = Task.create(
        id=new_id(),
        title=title,
        due_at=due_at,
        assignee_id=assignee,
        team=actor.team,
        customer_id=customer.id if customer else None,
        customer_owner_id=customer.owner_id if customer else None,
        customer_team=customer.team if customer else None,
        opportunity_id=opportunity_id,
        priority=priority,
        notes=notes,
        created_by=actor.user_id,
        at=utcnow(),
    )
    await repos.tasks.add(task)
    return task


async def _visible_task(task_id: str, actor: Identity, tasks: TaskRepository) -> Task:
    task = await tasks.get(task_id)
    if task is None or not can_see(actor, task):
        raise NotFound(f"no task has the id {task_id}", field="id")
    return task


def _conflict(task: Task) -> Conflict:
    return Conflict(
        f"task {task.id} is at version {task.version}: reload it and try again",
        currentVersion=task.version,
    )


async def _change(
    task_id: str,
    expected_version: int | None,
    actor: Identity,
    tasks: TaskRepository,
    change: Callable[[Task], Task],
) -> tuple[Task, Task]:
    require_writer(actor)
    task = await _visible_task(task_id, actor, tasks)
    if expected_version is not None and expected_version != task.version:
        raise _conflict(task)
    changed = change(task)
    due_changed = changed.due_at != task.due_at or changed.status != task.status
    if not await tasks.save(changed, task.version, due_changed=due_changed):
        current = await tasks.get(task_id)
        raise _conflict(current or task)
    return task, changed


async def update_task(
    task_id: str,
    *,
    title: str | None,
    due_at: datetime | None,
    assignee_id: str | None,
    priority: TaskPriority | None,
    notes: str | None,
    clear_notes: bool,
    expected_version: int | None,
    actor: Identity,
    repos: TaskRepositories,
) -> Task:
    assignee = _assignee(actor, assignee_id) if assignee_id is not None else None
    _, changed = await _change(
        task_id,
        expected_version,
        actor,
        repos.tasks,
        lambda task: task.changed(
            title=title,
            due_at=due_at,
            assignee_id=assignee,
            priority=priority,
            notes=notes,
            clear_notes=clear_notes,
            at=utcnow(),
        ),
    )
    return changed


async def complete_task(
    task_id: str, expected_version: int | None, actor: Identity, repos: TaskRepositories
) -> Task:
    _, done = await _change(
        task_id,
        expected_version,
        actor,
        repos.tasks,
        lambda task: task.completed(by=actor.user_id, at=utcnow()),
    )
    if done.customer_id is not None:
        entry_id = uuid.uuid5(TASK_DONE_NAMESPACE, f"{done.id}:{done.version}")
        await repos.interactions.add(
            Interaction.log(
                customer_id=done.customer_id,
                kind=InteractionKind.TASK_DONE,
                summary=f"Task done: {done.title}",
                details={"taskId": done.id, "dueAt": done.due_at.isoformat()},
                occurred_at=done.completed_at,
                actor_id=actor.user_id,
                actor_name=actor.name,
                opportunity_id=done.opportunity_id,
                interaction_id=str(entry_id),
            )
        )
    return done


async def reopen_task(
    task_id: str, expected_version: int | None, actor: Identity, repos: TaskRepositories
) -> Task:
    _, reopened = await _change(
        task_id, expected_version, actor, repos.tasks, lambda task: task.reopened(at=utcnow())
    )
    return reopened


async def delete_task(
    task_id: str, expected_version: int | None, actor: Identity, repos: TaskRepositories
) -> Task:
    require_writer(actor)
    task = await _visible_task(task_id, actor, repos.tasks)
    if expected_version is not None and expected_version != task.version:
        raise _conflict(task)
    if not await repos.tasks.delete(task_id, task.version):
        current = await repos.tasks.get(task_id)
        raise _conflict(current or task)
    return task


@dataclass(frozen=True, slots=True)
class TaskListFilter:
    assignee_id: str | None = None
    customer_id: str | None = None
    opportunity_id: str | None = None
    status: TaskStatus | None = None
    due: DueBucket | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    sort: TaskSortField = TaskSortField.DUE_AT
    descending: bool = False


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


async def list_tasks(
    where: TaskListFilter,
    first: int,
    after: str | None,
    actor: Identity,
    tasks: TaskRepository,
    *,
    now: datetime | None = None,
) -> TaskPage:
    """A rep's "today" list is ``due: TODAY`` (or OVERDUE) with ``status: OPEN``, one query."""
    low, high = where.due_from, where.due_to
    if low is not None and high is not None and low > high:
        raise BadUserInput("from: must not be after to", field="from")
    if where.due is not None:
        bucket_from, bucket_to = due_window(where.due, now or utcnow())
        low, high = _latest(low, bucket_from), _earliest(high, bucket_to)
    query = TaskQuery(
        visibility=visibility_of(actor),
        assignee_id=where.assignee_id,
        customer_id=where.customer_id,
        opportunity_id=where.opportunity_id,
        status=where.status,
        due_from=low,
        due_to=high,
        sort=where.sort,
        descending=where.descending,
    )
    return await tasks.page(query, first, after)


async def tasks_by(
    name: str, values: Sequence[str], actor: Identity, tasks: TaskRepository
) -> list[list[Task]]:
    found = await tasks.by_field(name, values, visibility_of(actor))
    return [found.get(value, []) for value in values]


def due_event(task: Task, now: datetime) -> CloudEvent:
    return new_event(
        source=SOURCE,
        type=TASK_DUE,
        subject=task.id,
        sequence=task.version,
        data={
            "taskId": task.id,
            "title": task.title,
            "dueAt": task.due_at.isoformat(),
            "overdue": task.due_at < now,
            "assigneeId": task.assignee_id,
            "team": task.team,
            "customerId": task.customer_id,
            "opportunityId": task.opportunity_id,
        },
        at=now,
    )


async def announce_due_tasks(tasks: TaskRepository, *, batch: int = 500) -> int:
    """Publish (through each task's outbox) the open tasks that came due; once per due time."""
    now = utcnow()
    announced = 0
    for task in await tasks.due_unannounced(now, batch):
        if task.status is TaskStatus.OPEN and await tasks.announce(task, due_event(task, now)):
            announced += 1
    return announced
