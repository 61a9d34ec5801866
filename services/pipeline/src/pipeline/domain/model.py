"""Pipelines, stages and opportunities, with the rules that keep them consistent.

An ``Opportunity`` is the aggregate: every command goes through one of its methods, which
checks the rules, changes the state, bumps ``version`` and records the domain events that the
service layer turns into CloudEvents (written atomically with the change: the outbox).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from pipeline.domain.errors import (
    InvalidOpportunity,
    InvalidPipeline,
    InvalidStage,
    OpportunityClosed,
)
from pipeline.domain.events import DomainEvent, OpportunityCreated, StageChanged
from pipeline.domain.money import Money

MAX_TITLE_LENGTH = 200
MAX_NAME_LENGTH = 100
# Ids of other services' aggregates (customers, users): opaque strings, but of a sane shape.
_ID_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class StageKind(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


class OpportunityStatus(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


_STATUS_OF_KIND = {
    StageKind.OPEN: OpportunityStatus.OPEN,
    StageKind.WON: OpportunityStatus.WON,
    StageKind.LOST: OpportunityStatus.LOST,
}


def check_id_shape(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID_SHAPE.match(value):
        raise InvalidOpportunity(
            f"{what} {value!r} is not a valid id (1-128 characters: letters, digits, ._:@-)"
        )
    return value


def _clean_name(value: str, what: str, limit: int) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidOpportunity(f"{what} must not be empty")
    if len(cleaned) > limit:
        raise InvalidOpportunity(f"{what} is longer than {limit} characters")
    return cleaned


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    name: str
    order: int
    probability: float
    kind: StageKind
    rotting_days: int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidStage("a stage name must not be empty")
        if not 0.0 <= self.probability <= 1.0:
            raise InvalidStage(
                f"stage {self.name!r}: probability {self.probability} is not between 0 and 1"
            )
        if self.rotting_days is not None and self.rotting_days < 1:
            raise InvalidStage(f"stage {self.name!r}: rotting days must be at least 1")
        if self.kind is StageKind.WON and self.probability != 1.0:
            raise InvalidStage(f"stage {self.name!r}: a WON stage has probability 1")
        if self.kind is StageKind.LOST and self.probability != 0.0:
            raise InvalidStage(f"stage {self.name!r}: a LOST stage has probability 0")

    @property
    def is_closed(self) -> bool:
        return self.kind is not StageKind.OPEN


@dataclass(frozen=True, slots=True)
class StageSpec:
    """What a user gives to define a stage; ``order`` and ``id`` come from the pipeline."""

    name: str
    probability: float
    kind: StageKind
    rotting_days: int | None = None


@dataclass(frozen=True, slots=True)
class Pipeline:
    """An ordered list of stages: OPEN stages first, then exactly one WON and one LOST."""

    id: str
    name: str
    stages: tuple[Stage, ...]

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidPipeline("a pipeline name must not be empty")
        if not self.stages:
            raise InvalidPipeline("a pipeline needs stages")
        ids = [s.id for s in self.stages]
        if len(set(ids)) != len(ids):
            raise InvalidPipeline("stage ids must be unique within a pipeline")
        names = [s.name.casefold() for s in self.stages]
        if len(set(names)) != len(names):
            raise InvalidPipeline("stage names must be unique within a pipeline")
        orders = [s.order for s in self.stages]
        if orders != sorted(orders) or len(set(orders)) != len(orders):
            raise InvalidPipeline("stages must be listed in strictly increasing order")
        kinds = [s.kind for s in self.stages]
        if StageKind.OPEN not in kinds:
            raise InvalidPipeline("a pipeline needs at least one OPEN stage")
        if kinds.count(StageKind.WON) != 1 or kinds.count(StageKind.LOST) != 1:
            raise InvalidPipeline("a pipeline needs exactly one WON and one LOST stage")
        first_closed = next(i for i, k in enumerate(kinds) if k is not StageKind.OPEN)
        if any(k is StageKind.OPEN for k in kinds[first_closed:]):
            raise InvalidPipeline("OPEN stages come before the WON and LOST stages")

    @classmethod
    def define(
        cls, *, id: str, name: str, specs: list[StageSpec], stage_id_prefix: str | None = None
    ) -> Pipeline:
        """A new pipeline from user input: stage ids derive from the pipeline id and the
        stage names (``<prefix>-<slug>``), stage orders are the 1-based positions in ``specs``."""
        clean = _clean_name(name, "pipeline name", MAX_NAME_LENGTH)
        prefix = stage_id_prefix or id
        stages = []
        for order, spec in enumerate(specs, start=1):
            stage_name = _clean_name(spec.name, "stage name", MAX_NAME_LENGTH)
            slug = re.sub(r"[^a-z0-9]+", "-", stage_name.lower()).strip("-") or str(order)
            stages.append(
                Stage(
                    id=f"{prefix}-{slug}",
                    name=stage_name,
                    order=order,
                    probability=spec.probability,
                    kind=spec.kind,
                    rotting_days=spec.rotting_days,
                )
            )
        return cls(id=id, name=clean, stages=tuple(stages))

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def require_stage(self, stage_id: str) -> Stage:
        stage = self.stage(stage_id)
        if stage is None:
            raise InvalidStage(f"stage {stage_id!r} does not belong to pipeline {self.id!r}")
        return stage

    @property
    def first_stage(self) -> Stage:
        return self.stages[0]  # OPEN by the invariant


DEFAULT_PIPELINE_ID = "default"


def default_pipeline() -> Pipeline:
    """The pipeline every installation starts with: a typical B2B funnel."""
    return Pipeline.define(
        id=DEFAULT_PIPELINE_ID,
        name="Sales pipeline",
        specs=[
            StageSpec("Initial contact", 0.1, StageKind.OPEN, rotting_days=14),
            StageSpec("Needs analysis", 0.25, StageKind.OPEN, rotting_days=21),
            StageSpec("Proposal", 0.5, StageKind.OPEN, rotting_days=21),
            StageSpec("Negotiation", 0.75, StageKind.OPEN, rotting_days=14),
            StageSpec("Won", 1.0, StageKind.WON),
            StageSpec("Lost", 0.0, StageKind.LOST),
        ],
    )


@dataclass(frozen=True, slots=True)
class StageTransition:
    """One entry of an opportunity's stage history, with the facts of that moment."""

    from_stage_id: str | None
    to_stage_id: str
    at: datetime
    actor_id: str | None
    owner_id: str
    amount: Money


@dataclass(slots=True)
class Opportunity:
    id: str
    title: str
    customer_id: str
    amount: Money
    owner_id: str
    pipeline_id: str
    stage_id: str
    status: OpportunityStatus
    position: str
    expected_close_date: date | None
    lost_reason: str | None
    stage_history: list[StageTransition]
    version: int
    created_at: datetime
    updated_at: datetime
    # Events recorded by the last command, not yet saved; never persisted as such.
    events: list[DomainEvent] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def create(
        cls,
        *,
        id: str,
        title: str,
        customer_id: str,
        amount: Money,
        owner_id: str,
        pipeline: Pipeline,
        stage: Stage,
        position: str,
        expected_close_date: date | None,
        actor_id: str | None,
        at: datetime,
    ) -> Opportunity:
        clean_title = _clean_name(title, "title", MAX_TITLE_LENGTH)
        check_id_shape(customer_id, "customer id")
        check_id_shape(owner_id, "owner id")
        pipeline.require_stage(stage.id)
        if stage.is_closed:
            raise InvalidStage(
                f"a new opportunity starts in an OPEN stage, not in {stage.name!r} ({stage.kind})"
            )
        opportunity = cls(
            id=id,
            title=clean_title,
            customer_id=customer_id,
            amount=amount,
            owner_id=owner_id,
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            status=OpportunityStatus.OPEN,
            position=position,
            expected_close_date=expected_close_date,
            lost_reason=None,
            stage_history=[
                StageTransition(None, stage.id, at, actor_id, owner_id, amount),
            ],
            version=1,
            created_at=at,
            updated_at=at,
        )
        opportunity.events.append(
            OpportunityCreated(
                snapshot=opportunity.snapshot(),
                pipeline=pipeline,
                from_stage=None,
                to_stage=stage,
                actor_id=actor_id,
                at=at,
            )
        )
        return opportunity

    @property
    def is_closed(self) -> bool:
        return self.status is not OpportunityStatus.OPEN

    def snapshot(self) -> OpportunitySnapshot:
        return OpportunitySnapshot(
            id=self.id,
            title=self.title,
            customer_id=self.customer_id,
            amount=self.amount,
            owner_id=self.owner_id,
            pipeline_id=self.pipeline_id,
            stage_id=self.stage_id,
            status=self.status,
            version=self.version,
        )

    def move(
        self,
        *,
        pipeline: Pipeline,
        to_stage_id: str,
        position: str,
        actor_id: str | None,
        at: datetime,
    ) -> bool:
        """Move to a stage of this opportunity's pipeline, at ``position`` in its column.

        Returns whether the stage changed. A move within the same column only repositions
        the card: no history entry, no new version, no event (a rank is presentation, not a
        business fact). Moving into the WON or LOST stage closes the deal with that status.
        """
        if pipeline.id != self.pipeline_id:
            raise InvalidStage(f"opportunity {self.id} belongs to pipeline {self.pipeline_id!r}")
        if self.is_closed:
            raise OpportunityClosed(
                f"opportunity {self.id} is {self.status}: a closed deal cannot be moved "
                "(reopen it first)"
            )
        to_stage = pipeline.require_stage(to_stage_id)
        from_stage = pipeline.stage(self.stage_id)
        self.position = position
        if to_stage.id == self.stage_id:
            self.updated_at = at
            return False
        self.stage_history.append(
            StageTransition(self.stage_id, to_stage.id, at, actor_id, self.owner_id, self.amount)
        )
        self.stage_id = to_stage.id
        self.status = _STATUS_OF_KIND[to_stage.kind]
        self.version += 1
        self.updated_at = at
        self.events.append(
            StageChanged(
                snapshot=self.snapshot(),
                pipeline=pipeline,
                from_stage=from_stage,
                to_stage=to_stage,
                actor_id=actor_id,
                at=at,
            )
        )
        return True


@dataclass(frozen=True, slots=True)
class OpportunitySnapshot:
    """The opportunity's facts at the moment an event happened (events outlive the entity's
    later changes)."""

    id: str
    title: str
    customer_id: str
    amount: Money
    owner_id: str
    pipeline_id: str
    stage_id: str
    status: OpportunityStatus
    version: int
