"""Domain events: facts recorded by the aggregate, published after the change is saved.

The service layer turns each into a CloudEvent (``pipeline.opportunity.<name>``) whose
``sequence`` is the snapshot's version.
"""

from __future__ import annotations

from dataclasses import dataclass
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

    name: ClassVar[str] = "event"


@dataclass(frozen=True, slots=True)
class OpportunityCreated(OpportunityEvent):
    name: ClassVar[str] = "created"


@dataclass(frozen=True, slots=True)
class StageChanged(OpportunityEvent):
    name: ClassVar[str] = "stage_changed"


DomainEvent = OpportunityCreated | StageChanged
