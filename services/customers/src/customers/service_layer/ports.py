"""What the use cases need from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from crm_common.access import Scope as Scope
from crm_common.events import CloudEvent
from customers.domain.interactions import Interaction
from customers.domain.model import (
    AuditEntry,
    Customer,
    CustomerKind,
    InteractionKind,
    LifecycleStage,
)
from customers.domain.tasks import Task, TaskStatus


class SortField(StrEnum):
    ID = "ID"
    NAME = "NAME"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """A filter over the archive; every given criterion must hold."""

    lifecycles: tuple[LifecycleStage, ...] = ()
    owner_id: str | None = None
    kind: CustomerKind | None = None
    name_contains: str | None = None  # case- and accent-insensitive fragment of the name
    email_contains: str | None = None
    phone_contains: str | None = None  # digits
    search: str | None = None  # word prefixes over name, e-mails and phones (indexed)
    tag: str | None = None
    source_channel: str | None = None
    source_campaign: str | None = None
    company_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    scope: Scope | None = None


@dataclass(frozen=True, slots=True)
class Sort:
    field: SortField = SortField.ID
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Customer]
    has_next: bool


class CustomerRepository(Protocol):
    async def add(self, customer: Customer) -> None:
        """Stores a new customer together with its pending events (the outbox), atomically,
        and has them published (at least once, in order) after the write."""

    async def add_many(self, customers: Sequence[Customer]) -> list[Customer]:
        """Stores new customers in one batch; their events are published by the relay's
        sweep (no per-customer hand-over, so that memory stays flat). Returns those not
        stored because another customer already has their external id (all others are)."""

    async def save(
        self,
        customer: Customer,
        expected_version: int,
        carried_outbox: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Writes the changed customer and its pending events if its stored version is still
        ``expected_version``; raises ``Conflict`` otherwise (nothing written).
        ``carried_outbox``: unpublished events of merged customers, kept before the new ones."""

    async def get(self, customer_id: str) -> Customer | None: ...

    async def get_many(self, customer_ids: Sequence[str]) -> list[Customer]:
        """The customers that exist among ``customer_ids``, in any order, in one query."""

    async def resolve_many(self, customer_ids: Sequence[str]) -> dict[str, Customer]:
        """Each id that names a customer, or a customer merged into another (then: the
        survivor), mapped to that customer; one query."""

    async def contacts_of(self, company_ids: Sequence[str]) -> list[Customer]:
        """Every customer whose ``company_id`` is among ``company_ids``, in one query."""

    async def page(
        self, query: CustomerQuery, sort: Sort, first: int, after: tuple[Any, str] | None
    ) -> Page:
        """Up to ``first`` customers after the key ``(sort value, id)`` in sort order."""

    async def count(self, query: CustomerQuery) -> int: ...

    def iterate(self, query: CustomerQuery) -> AsyncIterator[Customer]:
        """Every matching customer in id order, streamed."""

    async def duplicates_of(self, customer: Customer, limit: int) -> list[Customer]:
        """Customers sharing an e-mail or phone, or in the same company, or (companies)
        sharing the first name word: candidates, to be scored by the caller."""

    async def find_for_import(
        self, ids: Sequence[str], external_ids: Sequence[str], emails: Sequence[str]
    ) -> list[Customer]:
        """Customers with one of these ids, external ids or e-mails (one query)."""

    async def owned_by(self, owner_id: str, team: str | None) -> list[str]:
        """Ids of the customers of an owner (restricted to a team when given)."""

    async def transfer(
        self,
        customer_ids: Sequence[str],
        from_owner: str,
        to_owner: str,
        now: datetime,
        actor_id: str | None = None,
        actor_name: str | None = None,
        note: str | None = None,
    ) -> list[Customer]:
        """Gives the customers still owned by ``from_owner`` to ``to_owner`` (version + 1,
        with a TRANSFER audit entry in the same write); returns the customers as they were
        before."""

    async def retire_merged(
        self, sources: Sequence[Customer], survivor_id: str, now: datetime
    ) -> int:
        """Re-points contacts of the sources to the survivor, archives the source documents
        and removes them; returns how many contacts moved."""

    async def pending_outbox(self, customer_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The unpublished outbox entries of these customers, in order."""


@dataclass(frozen=True, slots=True)
class TimelinePage:
    items: list[Interaction]
    has_next: bool


class TaskSortField(StrEnum):
    DUE_AT = "DUE_AT"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """A task list's filter and order; ``visibility``: the caller's visibility keys (None:
    every task)."""

    visibility: Sequence[str] | None = None
    assignee_id: str | None = None
    customer_id: str | None = None
    opportunity_id: str | None = None
    status: TaskStatus | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    sort: TaskSortField = TaskSortField.DUE_AT
    descending: bool = False


@dataclass(frozen=True, slots=True)
class TaskPage:
    items: list[tuple[str, Task]]  # (cursor, task)
    has_next: bool


class TaskRepository(Protocol):
    async def add(self, task: Task) -> None: ...

    async def get(self, task_id: str) -> Task | None: ...

    async def save(self, task: Task, loaded_version: int, *, due_changed: bool) -> bool: ...

    async def delete(self, task_id: str, loaded_version: int) -> bool: ...

    async def page(self, query: TaskQuery, first: int, after: str | None) -> TaskPage: ...

    async def by_field(
        self, name: str, values: Sequence[str], visibility: Sequence[str] | None
    ) -> dict[str, list[Task]]: ...

    async def due_unannounced(self, now: datetime, limit: int) -> list[Task]: ...

    async def announce(self, task: Task, event: CloudEvent) -> bool: ...


class InteractionRepository(Protocol):
    async def add(self, interaction: Interaction) -> bool:
        """Stores the interaction unless one with its id exists; returns whether it was new."""

    async def customer_of_opportunity(self, opportunity_id: str) -> str | None:
        """The customer whose timeline holds entries of this deal (its opening, at least)."""

    async def by_opportunities(
        self, opportunity_ids: Sequence[str], limit: int
    ) -> dict[str, list[Interaction]]:
        """The newest entries about each deal, newest first, in one query."""

    async def page(
        self,
        customer_id: str,
        kinds: Sequence[InteractionKind],
        occurred_from: datetime | None,
        occurred_to: datetime | None,
        first: int,
        after: tuple[datetime, str] | None,
    ) -> TimelinePage:
        """Newest first (occurredAt, then id, descending)."""

    async def count(
        self,
        customer_id: str,
        kinds: Sequence[InteractionKind],
        occurred_from: datetime | None,
        occurred_to: datetime | None,
    ) -> int: ...

    async def repoint(self, from_ids: Sequence[str], to_id: str) -> int:
        """Moves the timelines of ``from_ids`` to ``to_id`` (merge); returns how many."""

    async def count_for(self, customer_ids: Sequence[str]) -> int: ...


class AuditRepository(Protocol):
    async def add(self, entries: Sequence[AuditEntry]) -> None:
        """Idempotent (an entry's id is customer id + version)."""

    async def page(
        self, customer_ids: Sequence[str], first: int, after: str | None
    ) -> tuple[list[AuditEntry], bool]:
        """The entries of these customers (one and those merged into it), newest first,
        after the key ``after`` (see ``audit_key``)."""


@dataclass(frozen=True, slots=True)
class TransferRecord:
    transfer_id: str
    customer_ids: list[str]
    runs: int


class TransferRepository(Protocol):
    async def record(
        self,
        transfer_id: str,
        run_id: str,
        from_owner: str,
        to_owner: str,
        include_open_opportunities: bool,
        moved_ids: Sequence[str],
        actor_id: str | None,
        actor_name: str | None,
        now: datetime,
        team: str | None = None,
    ) -> TransferRecord:
        """Records one run of the transfer (every customer it ever moved, who ran it and
        when) and, when it moved someone or no event was ever emitted, puts a
        ``customers.ownership.transferred`` event into its outbox in the same write. A run
        recorded before (same ``run_id``) is not recorded again: no second event."""


@dataclass
class Operation:
    """A command that spans several writes (merge, transfer), recorded before its first
    write with everything needed to finish it, so that a crash leaves work to be finished,
    not a half-done change. ``state``: PENDING, DONE or FAILED."""

    id: str
    kind: str
    plan: dict[str, Any]
    state: str = "PENDING"
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime | None = None


class OperationLog(Protocol):
    async def begin(self, operation: Operation) -> Operation:
        """Stores a new operation; if one with its id exists (PENDING or DONE), returns that
        one instead. A FAILED one is replaced."""

    async def get(self, operation_id: str) -> Operation | None: ...

    async def progress(self, operation_id: str, progress: dict[str, Any], step: str) -> None:
        """Records what a step decided, before the step's write (read back on resumption)."""

    async def finish(self, operation_id: str, result: dict[str, Any]) -> None: ...

    async def fail(self, operation_id: str, error: str) -> None: ...

    async def unfinished(self, idle_seconds: float) -> list[Operation]:
        """PENDING operations not touched for ``idle_seconds`` (0: all), oldest first."""
