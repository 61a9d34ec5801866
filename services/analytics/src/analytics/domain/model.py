"""What analytics knows about deals: stages, and the facts one opportunity event carries.

The worker turns each ``pipeline.opportunity.*`` event into an ``OpportunityChange``. The
projection keeps, per opportunity, only facts that can be merged in any order and any number of
times (the highest OPEN stage order reached, whether a WON stage was reached, the earliest time
seen) plus the latest values by sequence. ``OpportunityChange`` exposes exactly those facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class StageKind(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


class DealStatus(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


class ConversionMethod(StrEnum):
    #: Each deal of the cohort (created in the window) counts once per stage it passed.
    COHORT = "COHORT"
    #: Stage exits (transitions out of each stage) that happened within the window.
    SNAPSHOT = "SNAPSHOT"


class ForecastMethod(StrEnum):
    WEIGHTED = "WEIGHTED"
    HISTORICAL = "HISTORICAL"
    MARKOV = "MARKOV"


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    name: str
    order: int
    kind: StageKind
    probability: float
    #: Days without activity after which a deal in this stage is idle ("rotting"), if set.
    rotting_days: int | None = None


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class LeadSource:
    """Where a deal's customer came from (each part ``None`` when unknown)."""

    channel: str | None = None
    campaign: str | None = None
    medium: str | None = None


@dataclass(frozen=True, slots=True)
class OpportunityChange:
    """One opportunity event, reduced to what the projections use.

    Optional fields are ``None`` when the event type does not carry them (only ``created`` and
    ``stage_changed`` have a documented payload; other types are applied for what they carry).
    """

    event_id: str
    event_type: str
    opportunity_id: str
    sequence: int
    changed_at: datetime
    pipeline_id: str | None = None
    owner_id: str | None = None
    customer_id: str | None = None
    title: str | None = None
    amount: Money | None = None
    status: DealStatus | None = None
    from_stage: Stage | None = None
    to_stage: Stage | None = None
    #: The pipeline's full stage list when the event happened.
    stages: tuple[Stage, ...] | None = None
    #: ``YYYY-MM-DD`` when the payload carries it (``None`` = not carried; ``""`` = cleared).
    expected_close_date: str | None = None
    lost_reason: str | None = None
    #: The owner's team (``""`` = carried as none; ``None`` = not carried).
    team: str | None = None
    #: The customer's lead source the deal took when opened (``None`` = not carried).
    source: LeadSource | None = None

    @property
    def reached_open_order(self) -> int | None:
        """The highest order of an OPEN stage this event shows the deal in (now or before)."""
        orders = [
            stage.order
            for stage in (self.from_stage, self.to_stage)
            if stage is not None and stage.kind is StageKind.OPEN
        ]
        return max(orders) if orders else None

    @property
    def reached_won(self) -> bool:
        """Whether this event shows the deal in a WON stage."""
        return self.status is DealStatus.WON or (
            self.to_stage is not None and self.to_stage.kind is StageKind.WON
        )


class InvalidEvent(ValueError):
    """An event that no retry can make usable (missing or malformed payload)."""
