"""Pipelines, stages and opportunities, with the rules that keep them consistent.

An ``Opportunity`` is the aggregate: every command goes through one of its methods, which
checks the rules, changes the state, bumps ``version`` and records the domain events that the
service layer turns into CloudEvents (written atomically with the change: the outbox).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from crm_common.errors import RuleViolation
from crm_common.text import check_no_control, is_identifier
from pipeline.domain.catalogue import LineItem, lines_sum
from pipeline.domain.errors import (
    DomainError,
    InvalidOpportunity,
    InvalidPipeline,
    InvalidStage,
    OpportunityClosed,
)
from pipeline.domain.events import (
    OpportunityCreated,
    OpportunityEvent,
    OpportunityLost,
    OpportunityReopened,
    OpportunityUpdated,
    OpportunityWon,
    StageChanged,
)
from pipeline.domain.money import Money

MAX_TITLE_LENGTH = 200
MAX_NAME_LENGTH = 100
MAX_NEXT_STEP_LENGTH = 500
MAX_REASON_LENGTH = 1000
MAX_TEAM_LENGTH = 100
MAX_STAGES = 30
# Ids of other services' aggregates (customers, users): opaque strings, but of a sane shape.


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
    if not is_identifier(value):  # the suite's one id rule (crm_common.text)
        raise InvalidOpportunity(
            f"{what} {value!r} is not a valid id (1-128 characters: letters, digits, ._:@-)"
        )
    return value


def _clean_name(
    value: str, what: str, limit: int, error: type[DomainError] = InvalidOpportunity
) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise error(f"{what} must not be empty")
    if len(cleaned) > limit:
        raise error(f"{what} is longer than {limit} characters")
    _no_control(cleaned, what, error, lines=False)
    return cleaned


def _no_control(text: str, what: str, error: type[DomainError], *, lines: bool) -> None:
    """The suite's one text rule (crm_common.text): what the pipeline accepts, every consumer
    of its events accepts too."""
    try:
        check_no_control(text, what, lines=lines)
    except RuleViolation:
        raise error(f"{what} must not contain control characters") from None


def _clean_text(value: str | None, what: str, limit: int) -> str | None:
    """Free text (a next step, a reason): trimmed, None when empty, bounded."""
    if value is None:
        return None
    cleaned = value.strip()
    if len(cleaned) > limit:
        raise InvalidOpportunity(f"{what} is longer than {limit} characters")
    _no_control(cleaned, what, InvalidOpportunity, lines=True)
    return cleaned or None


class Unset:
    """Marks an optional argument that was not given (distinct from an explicit None)."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    name: str
    order: int
    probability: float
    kind: StageKind
    rotting_days: int | None = None
    # A retired stage takes no new deals and leaves the board, but stays in the pipeline so
    # that the deals and the history that name it stay readable.
    retired: bool = False

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
    """An ordered list of stages: OPEN stages first, then exactly one WON and one LOST.

    The rules apply to the active stages; retired stages stay listed (with their last order)
    so that deals in them and histories naming them stay readable. Changes return a new
    ``Pipeline`` with ``version`` bumped (optimistic concurrency in the repository).
    """

    id: str
    name: str
    stages: tuple[Stage, ...]
    version: int = 1

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidPipeline("a pipeline name must not be empty")
        ids = [s.id for s in self.stages]
        if len(set(ids)) != len(ids):
            raise InvalidPipeline("stage ids must be unique within a pipeline")
        active = self.active_stages
        if not active:
            raise InvalidPipeline("a pipeline needs stages")
        names = [s.name.casefold() for s in active]
        if len(set(names)) != len(names):
            raise InvalidPipeline("stage names must be unique within a pipeline")
        orders = [s.order for s in active]
        if orders != sorted(orders) or len(set(orders)) != len(orders):
            raise InvalidPipeline("stages must be listed in strictly increasing order")
        kinds = [s.kind for s in active]
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
        clean = _clean_name(name, "pipeline name", MAX_NAME_LENGTH, InvalidPipeline)
        if len(specs) > MAX_STAGES:
            raise InvalidPipeline(f"a pipeline has at most {MAX_STAGES} stages")
        prefix = stage_id_prefix or id
        stages: list[Stage] = []
        for order, spec in enumerate(specs, start=1):
            stage_name = _clean_name(spec.name, "stage name", MAX_NAME_LENGTH, InvalidStage)
            stages.append(
                Stage(
                    id=_unique_stage_id(prefix, stage_name, {s.id for s in stages}),
                    name=stage_name,
                    order=order,
                    probability=spec.probability,
                    kind=spec.kind,
                    rotting_days=spec.rotting_days,
                )
            )
        return cls(id=id, name=clean, stages=tuple(stages))

    @property
    def active_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if not s.retired)

    def stage(self, stage_id: str) -> Stage | None:
        """Any stage of the pipeline, retired ones included (for reading)."""
        return next((s for s in self.stages if s.id == stage_id), None)

    def require_stage(self, stage_id: str) -> Stage:
        """An active stage a deal may be put in."""
        stage = self.stage(stage_id)
        if stage is None:
            raise InvalidStage(f"stage {stage_id!r} does not belong to pipeline {self.id!r}")
        if stage.retired:
            raise InvalidStage(f"stage {stage.name!r} is retired: it takes no deals")
        return stage

    def stage_of_kind(self, kind: StageKind) -> Stage:
        return next(s for s in self.active_stages if s.kind is kind)

    @property
    def first_stage(self) -> Stage:
        return self.active_stages[0]  # OPEN by the invariant

    # -- changes (each returns a new pipeline, one version later) --

    def _with(self, stages: list[Stage], name: str | None = None) -> Pipeline:
        """Renumber the active stages 1..n in the given order; retired stages keep theirs."""
        renumbered: list[Stage] = []
        order = 0
        for stage in stages:
            if stage.retired:
                renumbered.append(stage)
            else:
                order += 1
                renumbered.append(replace(stage, order=order))
        return Pipeline(
            id=self.id,
            name=name if name is not None else self.name,
            stages=tuple(renumbered),
            version=self.version + 1,
        )

    def rename(self, name: str) -> Pipeline:
        return self._with(
            list(self.stages), _clean_name(name, "pipeline name", MAX_NAME_LENGTH, InvalidPipeline)
        )

    def add_stage(self, spec: StageSpec, position: int | None = None) -> tuple[Pipeline, Stage]:
        """A new OPEN stage at 1-based ``position`` among the active stages (default: after
        the last OPEN stage)."""
        if spec.kind is not StageKind.OPEN:
            raise InvalidStage("only OPEN stages can be added: a pipeline has one WON and one LOST")
        if len(self.stages) >= MAX_STAGES:
            raise InvalidPipeline(f"a pipeline has at most {MAX_STAGES} stages")
        name = _clean_name(spec.name, "stage name", MAX_NAME_LENGTH, InvalidStage)
        stage = Stage(
            id=_unique_stage_id(self.id, name, {s.id for s in self.stages}),
            name=name,
            order=0,
            probability=spec.probability,
            kind=StageKind.OPEN,
            rotting_days=spec.rotting_days,
        )
        active = list(self.active_stages)
        open_count = sum(1 for s in active if s.kind is StageKind.OPEN)
        index = open_count if position is None else position - 1
        if not 0 <= index <= open_count:
            raise InvalidStage(f"position must be between 1 and {open_count + 1}")
        active.insert(index, stage)
        retired = [s for s in self.stages if s.retired]
        updated = self._with([*active, *retired])
        added = updated.stage(stage.id)
        assert added is not None
        return updated, added

    def update_stage(
        self,
        stage_id: str,
        *,
        name: str | None = None,
        probability: float | None = None,
        rotting_days: int | Unset | None = UNSET,
    ) -> Pipeline:
        stage = self.require_stage(stage_id)
        changed = stage
        if name is not None:
            changed = replace(
                changed, name=_clean_name(name, "stage name", MAX_NAME_LENGTH, InvalidStage)
            )
        if probability is not None:
            changed = replace(changed, probability=probability)
        if not isinstance(rotting_days, Unset):
            changed = replace(changed, rotting_days=rotting_days)
        return self._with([changed if s.id == stage_id else s for s in self.stages])

    def reorder(self, stage_ids: list[str]) -> Pipeline:
        """Put the active OPEN stages in the given order (WON and LOST stay last)."""
        open_ids = [s.id for s in self.active_stages if s.kind is StageKind.OPEN]
        if sorted(stage_ids) != sorted(open_ids) or len(set(stage_ids)) != len(stage_ids):
            raise InvalidStage(
                f"reorder lists every active OPEN stage of the pipeline exactly once: {open_ids}"
            )
        by_id = {s.id: s for s in self.stages}
        closed = [s for s in self.active_stages if s.kind is not StageKind.OPEN]
        retired = [s for s in self.stages if s.retired]
        return self._with([*(by_id[i] for i in stage_ids), *closed, *retired])

    def retire_stage(self, stage_id: str) -> Pipeline:
        stage = self.require_stage(stage_id)
        if stage.kind is not StageKind.OPEN:
            raise InvalidStage("the WON and LOST stages cannot be retired")
        if sum(1 for s in self.active_stages if s.kind is StageKind.OPEN) == 1:
            raise InvalidStage("the last OPEN stage of a pipeline cannot be retired")
        return self._with(
            [replace(s, retired=True) if s.id == stage_id else s for s in self.stages]
        )


def _unique_stage_id(prefix: str, name: str, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "stage"
    candidate = f"{prefix}-{slug}"
    n = 2
    while candidate in taken:
        candidate = f"{prefix}-{slug}-{n}"
        n += 1
    return candidate


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


class Priority(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


# Fields that ``Opportunity.update`` may change, as named in events (``changes``).
UPDATABLE_FIELDS = (
    "title",
    "customerId",
    "amount",
    "ownerId",
    "team",
    "expectedCloseDate",
    "priority",
    "nextStep",
)


@dataclass(frozen=True, slots=True)
class OpportunityChanges:
    """What an update asks for; ``UNSET`` leaves a field as it is."""

    title: str | Unset = UNSET
    customer_id: str | Unset = UNSET
    amount: Money | Unset = UNSET
    owner_id: str | Unset = UNSET
    team: str | Unset | None = UNSET
    expected_close_date: date | Unset | None = UNSET
    priority: Priority | Unset = UNSET
    next_step: str | Unset | None = UNSET


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
    team: str | None = None
    priority: Priority = Priority.MEDIUM
    next_step: str | None = None
    closed_at: datetime | None = None
    # When set, the amount is their sum (``catalogue.price_lines``) and is not set freely.
    line_items: list[LineItem] = field(default_factory=list)
    #: The customer's lead source when the deal was opened (``channel``, ``campaign``,
    #: ``medium``, ``referrer``); it rides on every event so reports group by source.
    source: dict[str, str] | None = None
    # Events recorded by the last command, not yet saved; never persisted as such.
    events: list[OpportunityEvent] = field(default_factory=list, compare=False, repr=False)

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
        team: str | None = None,
        priority: Priority = Priority.MEDIUM,
        next_step: str | None = None,
        source: dict[str, str] | None = None,
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
            team=_clean_team(team),
            priority=priority,
            next_step=_clean_text(next_step, "next step", MAX_NEXT_STEP_LENGTH),
            source=dict(source) if source else None,
        )
        opportunity._record(OpportunityCreated, pipeline, None, stage, actor_id, at)
        return opportunity

    @property
    def is_closed(self) -> bool:
        return self.status is not OpportunityStatus.OPEN

    def is_idle(self, stage: Stage | None, now: datetime) -> bool:
        """Open, and unchanged for longer than its stage's rotting threshold."""
        if self.is_closed or stage is None or stage.rotting_days is None:
            return False
        return (now - self.updated_at).total_seconds() > stage.rotting_days * 86400

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
            team=self.team,
            priority=self.priority,
            next_step=self.next_step,
            expected_close_date=self.expected_close_date,
            lost_reason=self.lost_reason,
            source=self.source,
        )

    def _record(
        self,
        kind: type[OpportunityEvent],
        pipeline: Pipeline,
        from_stage: Stage | None,
        to_stage: Stage,
        actor_id: str | None,
        at: datetime,
        changes: dict[str, tuple[object, object]] | None = None,
    ) -> None:
        self.events.append(
            kind(
                snapshot=self.snapshot(),
                pipeline=pipeline,
                from_stage=from_stage,
                to_stage=to_stage,
                actor_id=actor_id,
                at=at,
                changes=changes or {},
            )
        )

    def _check_pipeline(self, pipeline: Pipeline) -> None:
        if pipeline.id != self.pipeline_id:
            raise InvalidStage(f"opportunity {self.id} belongs to pipeline {self.pipeline_id!r}")

    def require_open(self, verb: str) -> None:
        if self.is_closed:
            raise OpportunityClosed(
                f"opportunity {self.id} is {self.status}: a closed deal cannot be {verb} "
                "(reopen it first)"
            )

    def _transition(
        self,
        pipeline: Pipeline,
        to_stage: Stage,
        position: str,
        actor_id: str | None,
        at: datetime,
    ) -> Stage | None:
        from_stage = pipeline.stage(self.stage_id)
        self.stage_history.append(
            StageTransition(self.stage_id, to_stage.id, at, actor_id, self.owner_id, self.amount)
        )
        self.stage_id = to_stage.id
        self.position = position
        self.status = _STATUS_OF_KIND[to_stage.kind]
        self.closed_at = at if to_stage.is_closed else None
        self.version += 1
        self.updated_at = at
        return from_stage

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
        self._check_pipeline(pipeline)
        self.require_open("moved")
        if to_stage_id == self.stage_id:
            self.position = position
            self.updated_at = at
            return False
        to_stage = pipeline.require_stage(to_stage_id)
        from_stage = self._transition(pipeline, to_stage, position, actor_id, at)
        self._record(StageChanged, pipeline, from_stage, to_stage, actor_id, at)
        return True

    def win(self, *, pipeline: Pipeline, position: str, actor_id: str | None, at: datetime) -> None:
        self._check_pipeline(pipeline)
        self.require_open("won")
        to_stage = pipeline.stage_of_kind(StageKind.WON)
        from_stage = self._transition(pipeline, to_stage, position, actor_id, at)
        self._record(OpportunityWon, pipeline, from_stage, to_stage, actor_id, at)

    def lose(
        self,
        *,
        pipeline: Pipeline,
        reason: str,
        position: str,
        actor_id: str | None,
        at: datetime,
    ) -> None:
        self._check_pipeline(pipeline)
        self.require_open("lost")
        clean = _clean_text(reason, "lost reason", MAX_REASON_LENGTH)
        if clean is None:
            raise InvalidOpportunity("a lost reason is required to lose a deal")
        to_stage = pipeline.stage_of_kind(StageKind.LOST)
        self.lost_reason = clean
        from_stage = self._transition(pipeline, to_stage, position, actor_id, at)
        self._record(OpportunityLost, pipeline, from_stage, to_stage, actor_id, at)

    def reopen(
        self,
        *,
        pipeline: Pipeline,
        to_stage_id: str,
        position: str,
        actor_id: str | None,
        at: datetime,
    ) -> None:
        self._check_pipeline(pipeline)
        if not self.is_closed:
            raise InvalidOpportunity(f"opportunity {self.id} is OPEN: only a closed deal reopens")
        to_stage = pipeline.require_stage(to_stage_id)
        if to_stage.is_closed:
            raise InvalidStage(f"a deal reopens into an OPEN stage, not {to_stage.name!r}")
        self.lost_reason = None
        from_stage = self._transition(pipeline, to_stage, position, actor_id, at)
        self._record(OpportunityReopened, pipeline, from_stage, to_stage, actor_id, at)

    def update(
        self, changes: OpportunityChanges, *, pipeline: Pipeline, actor_id: str | None, at: datetime
    ) -> dict[str, tuple[object, object]]:
        """Apply the given field changes; returns ``{field: (old, new)}`` of those that really
        changed (none: no new version, no event)."""
        self._check_pipeline(pipeline)
        wanted: dict[str, object] = {}
        if not isinstance(changes.title, Unset):
            wanted["title"] = _clean_name(changes.title, "title", MAX_TITLE_LENGTH)
        if not isinstance(changes.customer_id, Unset):
            wanted["customer_id"] = check_id_shape(changes.customer_id, "customer id")
        if not isinstance(changes.amount, Unset):
            if self.line_items and changes.amount != self.amount:
                raise InvalidOpportunity(
                    "amount: the deal's amount is the sum of its line items; "
                    "clear them (setLineItems with no items) to set it freely"
                )
            wanted["amount"] = changes.amount
        if not isinstance(changes.owner_id, Unset):
            wanted["owner_id"] = check_id_shape(changes.owner_id, "owner id")
        if not isinstance(changes.team, Unset):
            wanted["team"] = _clean_team(changes.team)
        if not isinstance(changes.expected_close_date, Unset):
            wanted["expected_close_date"] = changes.expected_close_date
        if not isinstance(changes.priority, Unset):
            wanted["priority"] = changes.priority
        if not isinstance(changes.next_step, Unset):
            wanted["next_step"] = _clean_text(changes.next_step, "next step", MAX_NEXT_STEP_LENGTH)
        done: dict[str, tuple[object, object]] = {}
        for attribute, value in wanted.items():
            old = getattr(self, attribute)
            if old != value:
                done[_EVENT_NAMES[attribute]] = (old, value)
                setattr(self, attribute, value)
        if done:
            self.version += 1
            self.updated_at = at
            stage = pipeline.stage(self.stage_id)
            assert stage is not None
            self._record(OpportunityUpdated, pipeline, None, stage, actor_id, at, done)
        return done

    def set_line_items(
        self, lines: list[LineItem], *, pipeline: Pipeline, actor_id: str | None, at: datetime
    ) -> dict[str, tuple[object, object]]:
        """Replace the line items; the amount becomes their exact sum (no items: the amount
        stays and may be set freely again). An ``updated`` event with before and after."""
        self._check_pipeline(pipeline)
        if self.is_closed:
            raise OpportunityClosed(f"opportunity {self.id} is {self.status}: reopen it first")
        done: dict[str, tuple[object, object]] = {}
        if lines != self.line_items:
            done["lineItems"] = (list(self.line_items), list(lines))
            self.line_items = list(lines)
        total = lines_sum(lines)
        if total is not None and total != self.amount:
            done["amount"] = (self.amount, total)
            self.amount = total
        if done:
            self.version += 1
            self.updated_at = at
            stage = pipeline.stage(self.stage_id)
            assert stage is not None
            self._record(OpportunityUpdated, pipeline, None, stage, actor_id, at, done)
        return done


_EVENT_NAMES = {
    "title": "title",
    "customer_id": "customerId",
    "amount": "amount",
    "owner_id": "ownerId",
    "team": "team",
    "expected_close_date": "expectedCloseDate",
    "priority": "priority",
    "next_step": "nextStep",
}


def _clean_team(team: str | None) -> str | None:
    if team is None:
        return None
    cleaned = team.strip()
    if len(cleaned) > MAX_TEAM_LENGTH:
        raise InvalidOpportunity(f"team is longer than {MAX_TEAM_LENGTH} characters")
    return cleaned or None


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
    team: str | None = None
    priority: Priority = Priority.MEDIUM
    next_step: str | None = None
    expected_close_date: date | None = None
    lost_reason: str | None = None
    source: dict[str, str] | None = None
