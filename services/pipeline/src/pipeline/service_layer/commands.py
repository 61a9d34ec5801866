"""The commands the use cases take: what a caller asks for, and who asks (``actor``, from the
verified identity or, for a consumed event, the event's actor)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pipeline.domain.model import UNSET, Pipeline, Priority, StageSpec, Unset
from pipeline.service_layer.ports import Actor, CustomerFacts, CustomerOwner

# A rule of ``Pipeline`` applied to the loaded pipeline (rename, reorder, retire a stage...).
PipelineChange = Callable[[Pipeline], Pipeline]


@dataclass(frozen=True, slots=True)
class CreatePipeline:
    name: str
    stages: list[StageSpec]
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class ChangePipeline:
    pipeline_id: str
    change: PipelineChange
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class AddStage:
    pipeline_id: str
    spec: StageSpec
    position: int | None = None  # 1-based among the stages; default after the last OPEN one
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class CreateOpportunity:
    title: str
    customer_id: str
    amount: Decimal | str
    currency: str
    pipeline_id: str | None = None
    stage_id: str | None = None  # default: the pipeline's first stage
    owner_id: str | None = None  # default: the caller
    expected_close_date: date | None = None
    priority: Priority = Priority.MEDIUM
    next_step: str | None = None
    team: str | None = None  # an admin may name the team; otherwise the caller's
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class MoveOpportunity:
    opportunity_id: str
    stage_id: str
    before_id: str | None = None  # place the card just before this one (above it)
    after_id: str | None = None  # place the card just after this one (below it)
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class WinOpportunity:
    opportunity_id: str
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class LoseOpportunity:
    opportunity_id: str
    reason: str
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class ReopenOpportunity:
    opportunity_id: str
    stage_id: str
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class UpdateOpportunity:
    opportunity_id: str
    title: str | Unset = UNSET
    amount: tuple[Decimal | str, str] | Unset = UNSET  # (amount, currency)
    owner_id: str | Unset = UNSET
    team: str | Unset | None = UNSET
    expected_close_date: date | Unset | None = UNSET
    priority: Priority | Unset = UNSET
    next_step: str | Unset | None = UNSET
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)


# -- from the customers service's events (parsed in entrypoints/messages.py) ----------------


@dataclass(frozen=True, slots=True)
class RememberCustomer:
    """``customers.customer.created``: a customer deals may now be opened on."""

    facts: CustomerFacts


@dataclass(frozen=True, slots=True)
class ChangeCustomerOwner:
    """``customers.customer.updated``: whom the customer belongs to now, as of its
    ``version`` (an older announcement is ignored: events may arrive out of order)."""

    customer_id: str
    owner: CustomerOwner
    version: int


@dataclass(frozen=True, slots=True)
class MergeCustomers:
    """``customers.customer.merged``: the merged customers' deals move to the survivor, whose
    owner and team (as of ``version``) the event carries."""

    event_id: str
    survivor_id: str
    merged_ids: list[str]
    survivor_owner: CustomerOwner | None = None
    version: int = 0
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class TransferOwnership:
    """``customers.ownership.transferred``: the customers belong to the new owner; with
    ``include_open_opportunities``, the previous owner's OPEN deals go to the new owner: those
    of the moved customers and those on customers owned by others (of ``team`` if named)."""

    event_id: str
    from_owner_id: str
    to_owner_id: str
    customer_ids: list[str]
    include_open_opportunities: bool = True
    team: str | None = None  # a manager's transfer: only the deals of this team go
    actor: Actor = field(kw_only=True)


CustomerEvent = RememberCustomer | ChangeCustomerOwner | MergeCustomers | TransferOwnership


# -- the catalogue and line items (service_layer/catalogue.py) ------------------------------


@dataclass(frozen=True, slots=True)
class CreateProduct:
    sku: str
    name: str
    unit_price: tuple[Decimal | str, str]  # (amount, currency)
    tax_rate: Decimal | None = None
    active: bool = True
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class UpdateProduct:
    product_id: str
    name: str | None = None
    unit_price: tuple[Decimal | str, str] | None = None
    tax_rate: Decimal | Unset | None = UNSET
    active: bool | None = None
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class LineItemWanted:
    product_id: str
    quantity: Decimal
    unit_price: tuple[Decimal | str, str] | None = None
    discount_percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SetLineItems:
    opportunity_id: str
    items: list[LineItemWanted]
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)
