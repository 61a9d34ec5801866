"""What the use cases need from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from customers.domain.model import Customer, CustomerKind, LifecycleStage


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """A filter over the archive; every given criterion must hold."""

    lifecycles: tuple[LifecycleStage, ...] = ()
    owner_id: str | None = None
    kind: CustomerKind | None = None
    name_contains: str | None = None  # case-insensitive fragment of the name
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Customer]
    has_next: bool


class CustomerRepository(Protocol):
    async def add(self, customer: Customer) -> None:
        """Stores a new customer together with its pending events (the outbox), atomically,
        and has them published (at least once, in order) after the write."""

    async def get(self, customer_id: str) -> Customer | None: ...

    async def get_many(self, customer_ids: Sequence[str]) -> list[Customer]:
        """The customers that exist among ``customer_ids``, in any order, in one query."""

    async def contacts_of(self, company_ids: Sequence[str]) -> list[Customer]:
        """Every customer whose ``company_id`` is among ``company_ids``, in one query."""

    async def page(self, query: CustomerQuery, first: int, after_id: str | None) -> Page:
        """Up to ``first`` customers with ``id > after_id`` in id order."""

    async def count(self, query: CustomerQuery) -> int: ...
