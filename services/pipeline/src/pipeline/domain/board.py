"""The board's figures as rules of the domain: which columns a board shows, a column's count
and totals per currency, its weighted total, and when an open deal is idle (rotting)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from pipeline.domain.model import Pipeline, Stage, StageKind
from pipeline.domain.money import Money


def weighted(total: Money, probability: float) -> Money:
    """The expected value of a column: total times the stage's probability, rounded half-even
    to the currency's minor unit (never to a float)."""
    quantum = Decimal(1).scaleb(-total.minor_units)
    value = (total.amount * Decimal(str(probability))).quantize(quantum, rounding=ROUND_HALF_EVEN)
    return Money(value, total.currency)


def idle_cutoffs(pipeline: Pipeline, at: datetime) -> dict[str, datetime]:
    """Per OPEN stage with a rotting threshold: a deal last changed before this is idle."""
    return {
        s.id: at - timedelta(days=s.rotting_days)
        for s in pipeline.stages
        if s.rotting_days is not None and s.kind is StageKind.OPEN
    }


@dataclass(frozen=True, slots=True)
class StageSum:
    """What storage counted for one (stage, currency) of the board's deals."""

    stage_id: str
    currency: str
    count: int
    total: Decimal


@dataclass(frozen=True, slots=True)
class ColumnFigures:
    stage: Stage
    count: int
    totals: list[Money] = field(default_factory=list)  # per currency, sorted by code
    weighted: list[Money] = field(default_factory=list)


def columns(
    pipeline: Pipeline, sums: Iterable[StageSum], *, include_closed: bool
) -> list[ColumnFigures]:
    """One column per stage in pipeline order: OPEN stages (WON and LOST too with
    ``include_closed``); a retired stage only while deals still sit in it."""
    by_stage: dict[str, list[StageSum]] = {}
    for s in sums:
        by_stage.setdefault(s.stage_id, []).append(s)
    shown = []
    for stage in pipeline.stages:
        found = sorted(by_stage.get(stage.id, []), key=lambda s: s.currency)
        if stage.is_closed and not include_closed:
            continue
        if stage.retired and not found:
            continue
        totals = [Money(s.total, s.currency) for s in found]
        shown.append(
            ColumnFigures(
                stage=stage,
                count=sum(s.count for s in found),
                totals=totals,
                weighted=[weighted(t, stage.probability) for t in totals],
            )
        )
    return shown
