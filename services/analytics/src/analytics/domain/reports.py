"""Report arithmetic over deal states (pure): funnels, durations, performance, time travel.

Every function takes the deals already selected by the caller (pipeline, owner scope) and
computes one report; none reads an event. Definitions (also in the GraphQL descriptions):

- COHORT funnel: deals created in the window; per OPEN stage each deal counts once (entered =
  it reached or skipped past the stage, advanced = it passed it), whatever its re-entries.
- SNAPSHOT funnel: stage *exits* in the window: per OPEN stage, ``entered`` = transitions in the
  window that ended a stay in the stage or passed it (a skipped stage counts as passed, a
  re-entry counts again when it leaves again), ``advanced`` = those that went forward (to a
  later OPEN stage or a WON stage).
- Per owner: a transition is credited to the owner at that moment (``Move.owner_id``); in
  COHORT a deal's stage is credited as ``Credit`` says (see ``analytics.domain.deal``).
- ``cumulative_rate``: COHORT over all owners: entered / entered of the first step; otherwise
  the product of the conversion rates of the steps before (the same figure whenever every deal
  of a step comes from the step before, which holds for an all-owner cohort).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from analytics.domain.deal import DealState, Stay, passed_stages
from analytics.domain.funnel import FunnelFigures, FunnelStep, open_stages
from analytics.domain.model import DealStatus, Stage, StageKind

DAY = 86400.0


def in_window(moment: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if moment is None:
        return False
    if start is not None and moment < start:
        return False
    return not (end is not None and moment >= end)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def steps_with_product(
    stages: Sequence[Stage], counts: dict[str, tuple[int, int]]
) -> tuple[FunnelStep, ...]:
    steps: list[FunnelStep] = []
    cumulative = 1.0
    for index, stage in enumerate(open_stages(stages)):
        entered, advanced = counts.get(stage.id, (0, 0))
        advanced = min(advanced, entered)
        rate = _ratio(advanced, entered)
        if index == 0:
            cumulative = 1.0 if entered else 0.0
        steps.append(
            FunnelStep(
                stage_id=stage.id,
                stage_name=stage.name,
                entered=entered,
                advanced=advanced,
                conversion_rate=rate,
                cumulative_rate=cumulative,
            )
        )
        cumulative *= rate
    return tuple(steps)


def cohort_by_credits(
    stages: Sequence[Stage], deals: Iterable[DealState], owner_id: str | None
) -> FunnelFigures:
    """COHORT for one owner (``owner_id``) or all (None), from each deal's stage credits."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    won = lost = 0
    for deal in deals:
        for stage_id, credit in deal.credits.items():
            if owner_id is None or credit.owner_id == owner_id:
                counts[stage_id][0] += 1
                counts[stage_id][1] += int(credit.advanced)
        closer = deal.closed_by
        if owner_id is None or closer == owner_id:
            won += deal.status is DealStatus.WON
            lost += deal.status is DealStatus.LOST
    return FunnelFigures(
        steps=steps_with_product(stages, {k: (v[0], v[1]) for k, v in counts.items()}),
        won=won,
        lost=lost,
    )


def snapshot_funnel(
    stages: Sequence[Stage],
    deals: Iterable[DealState],
    start: datetime | None,
    end: datetime | None,
    owner_id: str | None,
) -> FunnelFigures:
    opens = [s for s in stages if s.kind is StageKind.OPEN]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    won = lost = 0
    for deal in deals:
        for move in deal.moves:
            if not in_window(move.at, start, end):
                continue
            if owner_id is not None and move.owner_id != owner_id:
                continue
            source = (
                Stage(move.from_stage_id, "", move.from_order or 0, move.from_kind, 0.0)
                if move.from_stage_id is not None and move.from_kind is not None
                else None
            )
            to = Stage(move.to_stage_id, "", move.to_order, move.to_kind, 0.0)
            passed = {s.id for s in passed_stages(source, to, opens)}
            for stage_id in passed:
                counts[stage_id][0] += 1
                counts[stage_id][1] += 1
            if source is not None and source.kind is StageKind.OPEN and source.id not in passed:
                counts[source.id][0] += 1
            won += move.to_kind is StageKind.WON
            lost += move.to_kind is StageKind.LOST
    return FunnelFigures(
        steps=steps_with_product(stages, {k: (v[0], v[1]) for k, v in counts.items()}),
        won=won,
        lost=lost,
    )


# -- time -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class DurationStats:
    mean: float
    median: float
    p90: float

    @classmethod
    def of(cls, values: Sequence[float]) -> DurationStats:
        if not values:
            return cls(0.0, 0.0, 0.0)
        return cls(statistics.fmean(values), statistics.median(values), percentile(values, 0.9))


@dataclass(frozen=True, slots=True)
class StageDurationFigures:
    stage_id: str
    stage_name: str
    deals: int
    stays: int
    latest: DurationStats
    cumulative: DurationStats
    current_deals: int
    current_mean_age_days: float
    idle_deals: int
    bottleneck: bool


DEFAULT_ROTTING_DAYS = 30


def rotting_threshold(stage: Stage | None, days: int | None) -> int:
    if days is not None:
        return days
    if stage is not None and stage.rotting_days:
        return stage.rotting_days
    return DEFAULT_ROTTING_DAYS


def is_idle(deal: DealState, stage: Stage | None, now: datetime, days: int | None) -> bool:
    if not deal.is_open or deal.updated_at is None:
        return False
    return now - deal.updated_at > timedelta(days=rotting_threshold(stage, days))


def stage_durations(
    stages: Sequence[Stage],
    deals: Iterable[DealState],
    start: datetime | None,
    end: datetime | None,
    owner_id: str | None,
    now: datetime,
) -> list[StageDurationFigures]:
    """Completed stays that ended in the window (by the owner at the moment they ended)."""
    latest: dict[str, list[float]] = defaultdict(list)
    cumulative: dict[str, list[float]] = defaultdict(list)
    stays_count: dict[str, int] = defaultdict(int)
    current: dict[str, list[float]] = defaultdict(list)
    idle: dict[str, int] = defaultdict(int)
    by_id = {s.id: s for s in stages}
    for deal in deals:
        per_stage: dict[str, list[Stay]] = defaultdict(list)
        for stay in deal.stays:
            if stay.left_at is None:
                continue
            if not in_window(stay.left_at, start, end):
                continue
            if owner_id is not None and stay.owner_id != owner_id:
                continue
            per_stage[stay.stage_id].append(stay)
        for stage_id, stays in per_stage.items():
            latest[stage_id].append(stays[-1].days())
            cumulative[stage_id].append(sum(s.days() for s in stays))
            stays_count[stage_id] += len(stays)
        if (
            deal.is_open
            and deal.stays
            and deal.stays[-1].left_at is None
            and (owner_id is None or deal.owner_id == owner_id)
        ):
            stay = deal.stays[-1]
            current[stay.stage_id].append(stay.days(now))
            idle[stay.stage_id] += is_idle(deal, by_id.get(stay.stage_id), now, None)
    figures = [
        StageDurationFigures(
            stage_id=stage.id,
            stage_name=stage.name,
            deals=len(latest[stage.id]),
            stays=stays_count[stage.id],
            latest=DurationStats.of(latest[stage.id]),
            cumulative=DurationStats.of(cumulative[stage.id]),
            current_deals=len(current[stage.id]),
            current_mean_age_days=statistics.fmean(current[stage.id]) if current[stage.id] else 0,
            idle_deals=idle[stage.id],
            bottleneck=False,
        )
        for stage in open_stages(stages)
    ]
    candidates = [f for f in figures if f.deals]
    if candidates:
        worst = max(candidates, key=lambda f: (f.latest.median, f.latest.mean))
        figures = [f if f is not worst else replace(f, bottleneck=True) for f in figures]
    return figures


# -- performance ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerformanceFigures:
    owner_id: str | None
    open_deals: int
    won: int
    lost: int
    win_rate: float
    win_rate_by_value: dict[str, float]
    won_amount: dict[str, Decimal]
    lost_amount: dict[str, Decimal]
    avg_won_amount: dict[str, Decimal]
    avg_cycle_days: float
    median_cycle_days: float
    velocity: dict[str, Decimal]
    owners: tuple[PerformanceFigures, ...] = ()


CENT = Decimal("0.01")


def _performance(
    deals: Sequence[DealState],
    start: datetime | None,
    end: datetime | None,
    owner_id: str | None,
) -> PerformanceFigures:
    won = lost = 0
    won_amount: dict[str, Decimal] = defaultdict(Decimal)
    lost_amount: dict[str, Decimal] = defaultdict(Decimal)
    cycles: list[float] = []
    open_by_currency: dict[str, int] = defaultdict(int)
    open_deals = 0
    for deal in deals:
        if deal.is_open:
            if owner_id is None or deal.owner_id == owner_id:
                open_deals += 1
                open_by_currency[deal.currency or ""] += 1
            continue
        if not in_window(deal.closed_at, start, end):
            continue
        if owner_id is not None and deal.closed_by != owner_id:
            continue
        currency = deal.currency or ""
        amount = deal.amount or Decimal(0)
        if deal.status is DealStatus.WON:
            won += 1
            won_amount[currency] += amount
            if deal.created_at is not None and deal.closed_at is not None:
                cycles.append((deal.closed_at - deal.created_at).total_seconds() / DAY)
        elif deal.status is DealStatus.LOST:
            lost += 1
            lost_amount[currency] += amount
    win_rate = _ratio(won, won + lost)
    won_counts: dict[str, int] = defaultdict(int)
    for deal in deals:
        if (
            deal.status is DealStatus.WON
            and in_window(deal.closed_at, start, end)
            and (owner_id is None or deal.closed_by == owner_id)
        ):
            won_counts[deal.currency or ""] += 1
    avg_won = {
        c: (won_amount[c] / won_counts[c]).quantize(CENT) for c in won_amount if won_counts[c]
    }
    avg_cycle = statistics.fmean(cycles) if cycles else 0.0
    currencies = sorted(set(won_amount) | set(lost_amount))
    by_value = {
        c: _ratio(float(won_amount[c]), float(won_amount[c] + lost_amount[c])) for c in currencies
    }
    velocity: dict[str, Decimal] = {}
    for currency in sorted(set(avg_won) | set(open_by_currency)):
        average = avg_won.get(currency, Decimal(0))
        if avg_cycle > 0:
            value = Decimal(open_by_currency[currency]) * Decimal(repr(win_rate)) * average
            velocity[currency] = (value / Decimal(repr(avg_cycle))).quantize(CENT)
        else:
            velocity[currency] = Decimal("0.00")
    return PerformanceFigures(
        owner_id=owner_id,
        open_deals=open_deals,
        won=won,
        lost=lost,
        win_rate=win_rate,
        win_rate_by_value=by_value,
        won_amount=dict(won_amount),
        lost_amount=dict(lost_amount),
        avg_won_amount=avg_won,
        avg_cycle_days=avg_cycle,
        median_cycle_days=statistics.median(cycles) if cycles else 0.0,
        velocity={c: v for c, v in velocity.items() if c},
    )


def sales_performance(
    deals: Iterable[DealState],
    start: datetime | None,
    end: datetime | None,
    owner_id: str | None,
) -> PerformanceFigures:
    """Overall (or one owner's) figures, with the per-owner breakdown.

    Closed deals count in the window of their closing, for the owner who closed them; open
    deals are today's, for their current owner. Win rate = won / (won + lost); by value, per
    currency. Velocity (per currency, per day) = open deals x win rate x average won amount ÷
    average cycle days (creation to win), 0 when no deal was won.
    """
    deals = list(deals)
    overall = _performance(deals, start, end, owner_id)
    owners = sorted(
        {d.owner_id for d in deals if d.is_open and d.owner_id}
        | {d.closed_by for d in deals if not d.is_open and d.closed_by}
    )
    if owner_id is not None:
        owners = [owner_id]
    breakdown = tuple(_performance(deals, start, end, owner) for owner in owners)
    return replace(overall, owners=breakdown)


# -- time travel ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageSnapshotFigures:
    stage_id: str
    stage_name: str
    kind: StageKind
    count: int
    amount: dict[str, Decimal]
    weighted_amount: dict[str, Decimal]


def pipeline_as_of(
    stages: Sequence[Stage], deals: Iterable[DealState], at: datetime
) -> list[StageSnapshotFigures]:
    """Per stage (every stage, in order): the deals that were in it at ``at`` and their
    amounts at that moment (total and weighted by the stage's probability)."""
    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for deal in deals:
        stay = deal.stage_at(at)
        if stay is None:
            continue
        counts[stay.stage_id] += 1
        if stay.amount is not None and stay.currency:
            amounts[stay.stage_id][stay.currency] += stay.amount
    ordered = sorted(stages, key=lambda s: (s.order, s.id))
    return [
        StageSnapshotFigures(
            stage_id=stage.id,
            stage_name=stage.name,
            kind=stage.kind,
            count=counts[stage.id],
            amount=dict(amounts[stage.id]),
            weighted_amount={
                c: (a * Decimal(repr(stage.probability))).quantize(CENT)
                for c, a in amounts[stage.id].items()
            },
        )
        for stage in ordered
    ]
