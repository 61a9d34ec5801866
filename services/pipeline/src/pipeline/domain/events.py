"""Domain events: facts recorded by the aggregate, published after the change is saved.

The service layer turns each into a CloudEvent (``pipeline.opportunity.<name>``) whose
``sequence`` is the snapshot's version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from pipeline.domain.model import OpportunitySnapshot, Pipeline, Stage


@dataclass(frozen=True, slots=True)
class OpportunityEvent:
    snapshot: OpportunitySnapshot
    pipeline: Pipeline
    from_stage: Stage | None
    to_stage: Stage
    actor_id: str | None
    at: datetime
    # ``updated`` only: {field: (previous value, new value)} with event field names.
    changes: dict[str, tuple[object, object]] = field(default_factory=dict)

    name: ClassVar[str] = "event"


@dataclass(frozen=True, slots=True)
class OpportunityCreated(OpportunityEvent):
    name: ClassVar[str] = "created"


@dataclass(frozen=True, slots=True)
class StageChanged(OpportunityEvent):
    name: ClassVar[str] = "stage_changed"


@dataclass(frozen=True, slots=True)
class OpportunityWon(OpportunityEvent):
    name: ClassVar[str] = "won"


@dataclass(frozen=True, slots=True)
class OpportunityLost(OpportunityEvent):
    name: ClassVar[str] = "lost"


@dataclass(frozen=True, slots=True)
class OpportunityReopened(OpportunityEvent):
    name: ClassVar[str] = "reopened"


@dataclass(frozen=True, slots=True)
class OpportunityUpdated(OpportunityEvent):
    name: ClassVar[str] = "updated"


DomainEvent = (
    OpportunityCreated
    | StageChanged
    | OpportunityWon
    | OpportunityLost
    | OpportunityReopened
    | OpportunityUpdated
)
