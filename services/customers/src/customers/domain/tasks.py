"""Follow-ups (tasks): what a rep plans to do about a customer or a deal, and by when.

A task is its own small aggregate (one document, with its version for ``expectedVersion``). It
is assigned to one user (by default its creator) and seen by whoever sees its assignee and
team, or its customer (``crm_common.access`` over customers; the customer's owner and team are
copied onto it when it is created). Due buckets are computed in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from customers.domain.values import clean_multiline, clean_text, invalid_value

TASK_TITLE_MAX = 300
TASK_NOTES_MAX = 5000


class TaskStatus(StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"


class TaskPriority(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class DueBucket(StrEnum):
    OVERDUE = "OVERDUE"  # due before now
    TODAY = "TODAY"  # due during today (UTC), earlier today included
    THIS_WEEK = "THIS_WEEK"  # due from now to the end of this week (Sunday, UTC)
    LATER = "LATER"  # due after this week


def due_window(bucket: DueBucket, now: datetime) -> tuple[datetime | None, datetime | None]:
    """``[from, to)`` of the due time of a bucket at ``now``."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    next_week = today + timedelta(days=7 - today.weekday())
    if bucket is DueBucket.OVERDUE:
        return None, now
    if bucket is DueBucket.TODAY:
        return today, today + timedelta(days=1)
    if bucket is DueBucket.THIS_WEEK:
        return now, next_week
    return next_week, None


def _title(value: str | None) -> str:
    title = clean_text(value, "title", TASK_TITLE_MAX)
    if title is None:
        raise invalid_value("title", "is required and must not be blank")
    return title


def _due(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise invalid_value("dueAt", "must carry a time zone")
    moment = value.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    title: str
    due_at: datetime
    assignee_id: str
    team: str | None
    customer_id: str | None
    customer_owner_id: str | None
    customer_team: str | None
    opportunity_id: str | None
    priority: TaskPriority
    notes: str | None
    status: TaskStatus
    completed_at: datetime | None
    completed_by: str | None
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def create(
        cls,
        *,
        id: str,
        title: str,
        due_at: datetime,
        assignee_id: str,
        team: str | None,
        customer_id: str | None,
        customer_owner_id: str | None,
        customer_team: str | None,
        opportunity_id: str | None,
        priority: TaskPriority,
        notes: str | None,
        created_by: str,
        at: datetime,
    ) -> Task:
        return cls(
            id=id,
            title=_title(title),
            due_at=_due(due_at),
            assignee_id=assignee_id,
            team=team,
            customer_id=customer_id,
            customer_owner_id=customer_owner_id,
            customer_team=customer_team,
            opportunity_id=opportunity_id,
            priority=priority,
            notes=clean_multiline(notes, "notes", TASK_NOTES_MAX),
            status=TaskStatus.OPEN,
            completed_at=None,
            completed_by=None,
            created_by=created_by,
            version=1,
            created_at=at,
            updated_at=at,
        )

    def changed(
        self,
        *,
        title: str | None = None,
        due_at: datetime | None = None,
        assignee_id: str | None = None,
        priority: TaskPriority | None = None,
        notes: str | None = None,
        clear_notes: bool = False,
        at: datetime,
    ) -> Task:
        return replace(
            self,
            title=self.title if title is None else _title(title),
            due_at=self.due_at if due_at is None else _due(due_at),
            assignee_id=self.assignee_id if assignee_id is None else assignee_id,
            priority=self.priority if priority is None else priority,
            notes=None
            if clear_notes
            else (self.notes if notes is None else clean_multiline(notes, "notes", TASK_NOTES_MAX)),
            version=self.version + 1,
            updated_at=at,
        )

    def completed(self, *, by: str, at: datetime) -> Task:
        if self.status is TaskStatus.DONE:
            raise invalid_value("id", f"task {self.id} is done already")
        return replace(
            self,
            status=TaskStatus.DONE,
            completed_at=at,
            completed_by=by,
            version=self.version + 1,
            updated_at=at,
        )

    def reopened(self, *, at: datetime) -> Task:
        if self.status is TaskStatus.OPEN:
            raise invalid_value("id", f"task {self.id} is open")
        return replace(
            self,
            status=TaskStatus.OPEN,
            completed_at=None,
            completed_by=None,
            version=self.version + 1,
            updated_at=at,
        )

    def due_bucket(self, now: datetime) -> DueBucket:
        if self.due_at < now:
            return DueBucket.OVERDUE
        _, end_of_today = due_window(DueBucket.TODAY, now)
        _, end_of_week = due_window(DueBucket.THIS_WEEK, now)
        assert end_of_today is not None
        assert end_of_week is not None
        if self.due_at < end_of_today:
            return DueBucket.TODAY
        if self.due_at < end_of_week:
            return DueBucket.THIS_WEEK
        return DueBucket.LATER
