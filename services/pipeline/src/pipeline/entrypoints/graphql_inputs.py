"""The pipeline subgraph's input types and filters, and how absent input reads as the
service layer's ``UNSET``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from pipeline.domain import model
from pipeline.entrypoints.graphql_types import (
    OpportunityStatus,
    Priority,
    StageKind,
)


@strawberry.input
class MoneyInput:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")


@strawberry.input
class CreateOpportunityInput:
    title: str
    customer_id: strawberry.ID
    amount: MoneyInput
    pipeline_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the default pipeline."
    )
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the pipeline's first stage."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the caller."
    )
    expected_close_date: date | None = None
    priority: Priority = Priority.MEDIUM
    next_step: str | None = None
    team: str | None = strawberry.field(
        default=None, description="Admins only: the team; otherwise the caller's team."
    )


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class UpdateOpportunityInput:
    title: str | None = strawberry.UNSET
    amount: MoneyInput | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    team: str | None = strawberry.UNSET
    expected_close_date: date | None = strawberry.UNSET
    priority: Priority | None = strawberry.UNSET
    next_step: str | None = strawberry.UNSET


@strawberry.input
class StageInput:
    name: str
    probability: float
    kind: StageKind
    rotting_days: int | None = None


@strawberry.input(description="Only the fields given change; rottingDays null removes it.")
class UpdateStageInput:
    name: str | None = strawberry.UNSET
    probability: float | None = strawberry.UNSET
    rotting_days: int | None = strawberry.UNSET


@strawberry.input
class CreatePipelineInput:
    name: str
    stages: list[StageInput]


@strawberry.input
class OpportunityFilter:
    status: OpportunityStatus | None = None
    owner_id: strawberry.ID | None = None
    customer_id: strawberry.ID | None = None
    pipeline_id: strawberry.ID | None = None
    stage_id: strawberry.ID | None = None
    idle: bool | None = strawberry.field(
        default=None, description="true: only idle (rotting) open deals."
    )
    title_contains: str | None = strawberry.field(
        default=None,
        description="A fragment of the title (case and accents ignored; CJK: 2+ characters).",
    )
    currency: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    expected_close_from: date | None = None
    expected_close_to: date | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None


@strawberry.enum
class OpportunitySortField(Enum):
    AMOUNT = "AMOUNT"
    EXPECTED_CLOSE = "EXPECTED_CLOSE"
    UPDATED = "UPDATED"
    CREATED = "CREATED"
    TITLE = "TITLE"


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input(description="Ties are broken by id; every order has a stable cursor.")
class OpportunitySort:
    field: OpportunitySortField = OpportunitySortField.CREATED
    direction: SortDirection = SortDirection.DESC


@strawberry.input
class BoardFilter:
    owner_id: strawberry.ID | None = None
    idle: bool | None = strawberry.field(
        default=None,
        description="true: only open deals unchanged for longer than their stage's rotting days.",
    )


def optional_id(value: strawberry.ID | None) -> str | None:
    return str(value) if value is not None else None


def unset_if_absent(value: Any) -> Any:
    return model.UNSET if value is strawberry.UNSET else value
