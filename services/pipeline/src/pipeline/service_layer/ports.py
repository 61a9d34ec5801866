"""What the use cases need from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from crm_common.events import CloudEvent
from pipeline.domain.access import ALL, Scope, Viewer
from pipeline.domain.board import StageSum
from pipeline.domain.catalogue import Product
from pipeline.domain.model import Opportunity, OpportunityStatus, Pipeline
from pipeline.domain.quotes import Quote


class PipelineRepository(Protocol):
    async def get(self, pipeline_id: str) -> Pipeline | None: ...

    async def list_all(self) -> list[Pipeline]: ...

    async def add(self, pipeline: Pipeline) -> None:
        """Insert a new pipeline; raises ``DuplicatePipeline`` when the id exists."""

    async def ensure(self, pipeline: Pipeline) -> None:
        """Insert the pipeline unless one with its id exists (idempotent seeding)."""

    async def save(self, pipeline: Pipeline, loaded_version: int) -> bool:
        """Replace the pipeline only if its stored version is still ``loaded_version``."""


@dataclass(frozen=True, slots=True)
class ProductFilter:
    active: bool | None = None
    name_contains: str | None = None


@dataclass(frozen=True, slots=True)
class ProductPage:
    items: list[tuple[str, Product]]  # (cursor, product), by sku
    has_next_page: bool


class ProductRepository(Protocol):
    async def add(self, product: Product) -> None:
        """Insert; raises ``DuplicateSku`` when another product has the sku."""

    async def get(self, product_id: str) -> Product | None: ...

    async def get_many(self, product_ids: Sequence[str]) -> dict[str, Product]: ...

    async def save(self, product: Product, loaded_version: int) -> bool:
        """Replace only if the stored version is still ``loaded_version``."""

    async def page(self, where: ProductFilter, first: int, after: str | None) -> ProductPage: ...


class QuoteRepository(Protocol):
    async def next_number(self, year: int) -> int: ...

    async def add(self, quote: Quote, *, by: Actor) -> None:
        """Insert with its ``created`` event in its outbox, in one write."""

    async def get(self, quote_id: str) -> Quote | None: ...

    async def save(self, quote: Quote, loaded_version: int, *, by: Actor) -> bool:
        """Write with its event only if the stored version is still ``loaded_version``."""

    async def of_opportunities(self, opportunity_ids: list[str]) -> dict[str, list[Quote]]: ...


class OpportunityRepository(Protocol):
    async def get(self, opportunity_id: str) -> Opportunity | None: ...

    async def add(self, opportunity: Opportunity, events: Sequence[CloudEvent]) -> None:
        """Insert the opportunity with ``events`` pending in its outbox, in one write."""

    async def save(
        self, opportunity: Opportunity, loaded_version: int, events: Sequence[CloudEvent]
    ) -> bool:
        """Write the opportunity's state and append ``events`` to its outbox, in one write,
        only if the stored version is still ``loaded_version``; False when it is not."""

    async def position_before(
        self, pipeline_id: str, stage_id: str, rank: str | None, exclude_id: str
    ) -> str | None:
        """The highest rank in a stage's column below ``rank`` (None: the highest of all),
        ignoring opportunity ``exclude_id``; None when there is none."""

    async def position_after(
        self, pipeline_id: str, stage_id: str, rank: str, exclude_id: str
    ) -> str | None:
        """The lowest rank in a stage's column above ``rank``, ignoring ``exclude_id``."""

    async def ids_of_customers(
        self, customer_ids: Sequence[str], *, owner_id: str | None = None, open_only: bool = False
    ) -> list[str]:
        """Ids of the opportunities of these customers (optionally of one owner, open only)."""

    async def open_ids_of_owner(self, owner_id: str, *, team: str | None = None) -> list[str]:
        """Ids of the OPEN opportunities of ``owner_id``, whoever's customers they are
        (optionally only those of ``team``)."""


class ProcessedEvents(Protocol):
    """Ids of consumed events whose effects are fully written (idempotent consumers)."""

    async def seen(self, event_id: str) -> bool: ...

    async def mark(self, event_id: str, event_type: str) -> None: ...


class KnownCustomers(Protocol):
    """The customers this service has heard of through ``customers.customer.*`` events, with
    whom each belongs to (who may see it decides who may open or move deals on it)."""

    async def exists(self, customer_id: str) -> bool: ...

    async def owner_of(self, customer_id: str) -> CustomerOwner | None:
        """The customer's owner and team as last announced; None for an unknown customer."""

    async def remember(self, customer: CustomerFacts) -> None:
        """A created customer; its owner and team only if no newer ones (by ``version``)
        are known (events may arrive out of order)."""

    async def belongs_to(self, customer_id: str, owner: CustomerOwner, version: int) -> None:
        """The customer's owner and team changed at its ``version``; an older one is ignored."""

    async def transferred(
        self, customer_ids: Sequence[str], from_owner: str, to_owner: str
    ) -> None:
        """The customers still owned by ``from_owner`` now belong to ``to_owner``."""

    async def merged(self, survivor_id: str, merged_ids: Sequence[str]) -> None:
        """Record that ``merged_ids`` now live on as ``survivor_id``."""

    async def source_of(self, customer_id: str) -> dict[str, str] | None:
        """The customer's lead source as announced at its creation; None when unknown."""

    async def survivor_of(self, customer_id: str) -> str | None:
        """The customer a merged customer lives on as; None when it was not merged."""


@dataclass(frozen=True, slots=True)
class CustomerOwner:
    """Whom a customer belongs to: what ``crm_common.access`` decides its visibility by."""

    owner_id: str | None
    team: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    customer_id: str
    name: str | None
    kind: str | None
    owner_id: str | None
    lifecycle: str | None
    event_id: str
    team: str | None = None
    version: int = 1
    source: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who issues a command (from the verified identity) and the trace it belongs to."""

    user_id: str
    name: str | None = None
    traceparent: str | None = None
    roles: frozenset[str] = frozenset()
    team: str | None = None

    @property
    def viewer(self) -> Viewer:
        return Viewer(user_id=self.user_id, roles=self.roles, team=self.team)


# -- reads: lists and board columns --


@dataclass(frozen=True, slots=True)
class OpportunityFilter:
    status: OpportunityStatus | None = None
    owner_id: str | None = None
    customer_id: str | None = None
    pipeline_id: str | None = None
    stage_id: str | None = None
    scope: Scope = ALL
    # Idle (rotting) deals: open, last changed before the cut-off of their stage.
    idle_before: dict[str, datetime] | None = None
    title_contains: str | None = None
    currency: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    expected_close_from: date | None = None
    expected_close_to: date | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None


class SortField(StrEnum):
    AMOUNT = "AMOUNT"
    EXPECTED_CLOSE = "EXPECTED_CLOSE"
    UPDATED = "UPDATED"
    CREATED = "CREATED"
    TITLE = "TITLE"


@dataclass(frozen=True, slots=True)
class OpportunitySort:
    """A list's order; the id breaks ties (in the same direction), so every order is total and
    its keyset cursor stable."""

    field: SortField = SortField.CREATED
    descending: bool = True


@dataclass(frozen=True, slots=True)
class OpportunityPage:
    items: list[tuple[str, Opportunity]]  # (cursor, opportunity)
    total_count: int
    has_next_page: bool


class OpportunityReads(Protocol):
    """The read side of the opportunities (lists, board columns, entity batches)."""

    async def get_many(self, opportunity_ids: Sequence[str]) -> dict[str, Opportunity]: ...

    async def page(
        self,
        where: OpportunityFilter,
        first: int,
        after: str | None,
        sort: OpportunitySort | None = None,
    ) -> OpportunityPage:
        """Ordered by ``sort`` (default: newest first)."""

    async def column_page(
        self, where: OpportunityFilter, first: int, after: str | None
    ) -> OpportunityPage:
        """A board column's cards in board order."""

    async def column_totals(self, where: OpportunityFilter) -> list[StageSum]:
        """Count and exact total per (stage, currency)."""
