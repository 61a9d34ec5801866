"""Funnel arithmetic (API.md, ``FunnelReport``), as a pure function.

One step per OPEN stage, in stage order. ``entered``: deals that reached the stage; ``advanced``:
those of them that reached a later OPEN stage or a WON stage; ``conversionRate`` =
advanced / entered (0 when entered is 0); ``cumulativeRate`` = entered / entered of the first
step (0 when that is 0). A deal that skips a stage counts as having passed it, so a deal is
fully described by the highest OPEN stage order it reached and whether it ever reached a WON
stage (a WON deal has passed every OPEN stage). COHORT counts each deal once per stage,
whatever its re-entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from analytics.domain.model import DealStatus, Stage, StageKind


@dataclass(frozen=True, slots=True)
class DealProgress:
    """How far a group of ``count`` identical deals went (one deal when ``count`` is 1)."""

    status: DealStatus
    #: Highest order of an OPEN stage the deals were in; ``None`` if they never were.
    max_open_order: int | None
    #: Whether the deals were ever in a WON stage (a reopened won deal keeps this).
    reached_won: bool = False
    count: int = 1

    @property
    def passed_every_open_stage(self) -> bool:
        return self.reached_won or self.status is DealStatus.WON

    def entered(self, stage: Stage) -> bool:
        if self.passed_every_open_stage:
            return True
        return self.max_open_order is not None and self.max_open_order >= stage.order

    def advanced(self, stage: Stage) -> bool:
        if self.passed_every_open_stage:
            return True
        return self.max_open_order is not None and self.max_open_order > stage.order


@dataclass(frozen=True, slots=True)
class FunnelStep:
    stage_id: str
    stage_name: str
    entered: int
    advanced: int
    conversion_rate: float
    cumulative_rate: float


@dataclass(frozen=True, slots=True)
class FunnelFigures:
    steps: tuple[FunnelStep, ...]
    won: int
    lost: int


def open_stages(stages: Iterable[Stage]) -> list[Stage]:
    """The OPEN stages in funnel order (by ``order``, then id for a stable tie-break)."""
    return sorted(
        (stage for stage in stages if stage.kind is StageKind.OPEN),
        key=lambda stage: (stage.order, stage.id),
    )


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def cohort_funnel(stages: Sequence[Stage], deals: Iterable[DealProgress]) -> FunnelFigures:
    """The COHORT funnel of ``deals`` over the pipeline whose stages are ``stages``."""
    deals = list(deals)
    counts: list[tuple[Stage, int, int]] = []
    for stage in open_stages(stages):
        entered = sum(deal.count for deal in deals if deal.entered(stage))
        advanced = sum(deal.count for deal in deals if deal.advanced(stage))
        counts.append((stage, entered, advanced))
    first_entered = counts[0][1] if counts else 0
    steps = tuple(
        FunnelStep(
            stage_id=stage.id,
            stage_name=stage.name,
            entered=entered,
            advanced=advanced,
            conversion_rate=_ratio(advanced, entered),
            cumulative_rate=_ratio(entered, first_entered),
        )
        for stage, entered, advanced in counts
    )
    return FunnelFigures(
        steps=steps,
        won=sum(deal.count for deal in deals if deal.status is DealStatus.WON),
        lost=sum(deal.count for deal in deals if deal.status is DealStatus.LOST),
    )
