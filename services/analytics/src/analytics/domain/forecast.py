"""Revenue forecasts for a period (pure): WEIGHTED, HISTORICAL and MARKOV, and their backtest.

Every method gives each open deal a probability ``p`` of being won within the period; per
currency the forecast is ``expected = Σ p·a`` with the variance of a sum of independent
Bernoulli outcomes ``Σ p(1-p)·a²``, and the interval ``expected ∓ 1.96·√variance`` (95 %
normal approximation; ``low`` is never below 0).

- WEIGHTED: deals expected to close in the period (``expectedCloseDate`` within it; a deal
  without an expected close date is taken as closing in the period), ``p`` = the configured
  probability of the deal's stage.
- HISTORICAL: the same deals, ``p`` = the stage's empirical win rate: of the deals closed
  before the forecast moment that were ever in the stage, the share that was won (the
  configured probability when the stage has no closed history).
- MARKOV: every open deal. The chain's states are the OPEN stages plus WON and LOST
  (absorbing). It is estimated with exposure, as of the forecast moment: per OPEN stage ``i``,
  ``n_ij`` = the transitions ``i -> j`` that happened by then and ``E_i`` = every deal-day
  spent in ``i`` by then, the ongoing (censored) stays of the deals still there included up to
  that moment. Counting only completed stays would drop the deals still sitting in a stage,
  the slow ones, and overstate how fast stages are left. The one-day transition probability
  is ``P_ij = n_ij / E_i`` and ``P_ii = 1 - sum_j P_ij`` (a row whose daily exit rate exceeds
  1 is normalised, ``P_ii = 0``); a stage nobody left keeps its deals (``P_ii = 1``). With
  ``d_s``/``d_e`` the whole days from the forecast moment to the start / the end of the
  period, ``p = (P^d_e)[stage, WON] - (P^d_s)[stage, WON]``: won within the period, not
  before it.

The backtest replays each past moment with the values deals had then: stage, amount and
expected close date as of that moment (``Version``), not today's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from analytics.domain.deal import DealState, Stay
from analytics.domain.model import (
    DealStatus,
    ForecastMethod,
    Money,
    OpportunityChange,
    Stage,
    StageKind,
)

WON = "__WON__"
LOST = "__LOST__"
Z95 = 1.96
CENT = Decimal("0.01")
Matrix = list[list[float]]


@dataclass(frozen=True, slots=True)
class OpenDeal:
    """An open deal as of the forecast moment."""

    stage_id: str
    amount: Decimal
    currency: str
    expected_close_date: str | None = None


@dataclass(frozen=True, slots=True)
class ForecastFigures:
    method: ForecastMethod
    expected: dict[str, Decimal]
    low: dict[str, Decimal]
    high: dict[str, Decimal]
    deals: int


@dataclass(frozen=True, slots=True)
class Chain:
    """The estimated daily chain: ``states`` = OPEN stage ids + WON + LOST."""

    states: tuple[str, ...]
    matrix: Matrix

    def win_within(self, stage_id: str, days: int) -> float:
        if stage_id not in self.states or days <= 0:
            return 0.0
        power = matrix_power(self.matrix, days)
        return power[self.states.index(stage_id)][self.states.index(WON)]


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """``[start 00:00, (end + 1 day) 00:00)`` in UTC: ``end`` is inclusive."""
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
    )


def whole_days(since: datetime, until: datetime) -> int:
    return max(0, math.ceil((until - since).total_seconds() / 86400.0))


def matrix_multiply(a: Matrix, b: Matrix) -> Matrix:
    size = len(a)
    columns = list(zip(*b, strict=True))
    return [
        [sum(x * y for x, y in zip(a[i], columns[j], strict=True)) for j in range(size)]
        for i in range(size)
    ]


def matrix_power(matrix: Matrix, exponent: int) -> Matrix:
    size = len(matrix)
    result: Matrix = [[1.0 if i == j else 0.0 for j in range(size)] for i in range(size)]
    base = matrix
    while exponent > 0:
        if exponent & 1:
            result = matrix_multiply(result, base)
        base = matrix_multiply(base, base)
        exponent >>= 1
    return result


@dataclass(frozen=True, slots=True)
class TransitionStats:
    """Per OPEN stage ``i``: ``counts[i][j]`` transitions and ``exposure[i]`` deal-days, plus
    the stays still running when the statistics were taken (``open_stays[i]``: how many, and
    the sum of their entry times in epoch days), whose exposure grows with the moment the
    chain is estimated at (``exposure_at``)."""

    counts: Mapping[str, Mapping[str, int]]
    exposure: Mapping[str, float]
    open_stays: Mapping[str, tuple[int, float]] = field(default_factory=dict)

    def exposure_at(self, stage_id: str, moment: datetime | None) -> float:
        days = self.exposure.get(stage_id, 0.0)
        running, entered = self.open_stays.get(stage_id, (0, 0.0))
        if moment is not None and running:
            days += max(0.0, running * _epoch_days(moment) - entered)
        return days


def _epoch_days(moment: datetime) -> float:
    return moment.timestamp() / 86400.0


def transition_stats(deals: Iterable[DealState], as_of: datetime | None) -> TransitionStats:
    """The exposure statistics of the stays in OPEN stages as known at ``as_of``.

    With ``as_of``: the transitions made by then, and the days spent by then (a stay still
    running at ``as_of``, or left after it, counts up to ``as_of``; stays entered after it do
    not count). Without: every transition, and the stays still running kept in ``open_stays``
    so that ``estimate_chain`` counts them up to the moment it is given (a cache can keep
    these statistics and estimate the chain at each request's moment)."""
    if as_of is None:
        tally = HistoryTally()
        for deal in deals:
            tally.add(deal)
        return tally.stats()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    exposure: dict[str, float] = defaultdict(float)
    running: dict[str, int] = defaultdict(int)
    entered: dict[str, float] = defaultdict(float)
    for deal in deals:
        for stay in deal.stays:
            if stay.kind is not StageKind.OPEN:
                continue
            if as_of is not None and stay.entered_at >= as_of:
                continue
            if stay.left_at is None or (as_of is not None and stay.left_at > as_of):
                # Censored: still in the stage at the moment of the estimate.
                if as_of is not None:
                    exposure[stay.stage_id] += (as_of - stay.entered_at).total_seconds() / 86400.0
                else:
                    running[stay.stage_id] += 1
                    entered[stay.stage_id] += _epoch_days(stay.entered_at)
                continue
            exposure[stay.stage_id] += stay.days()
            counts[stay.stage_id][_target(stay)] += 1
    return TransitionStats(
        counts={k: dict(v) for k, v in counts.items()},
        exposure=dict(exposure),
        open_stays={k: (n, entered[k]) for k, n in running.items()},
    )


def _target(stay: Stay) -> str:
    """Where a completed stay in an OPEN stage went: a stage, WON or LOST."""
    if stay.next_kind is StageKind.WON:
        return WON
    if stay.next_kind is StageKind.LOST:
        return LOST
    return stay.next_stage_id or LOST


_MICROS_PER_DAY = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


@dataclass(slots=True)
class HistoryTally:
    """The history statistics of MARKOV and HISTORICAL as of now, kept as integer sums so that
    one deal's contribution can be taken away exactly and added again when it changes: a
    cache then updates them for the few deals that changed instead of re-reading a pipeline's
    whole history (seconds at 100,000 deals) after every event. Durations are microseconds,
    exact in any order of addition, so a tally equals one built afresh."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    exposure: dict[str, int] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)
    entered: dict[str, int] = field(default_factory=dict)
    won: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)

    def add(self, deal: DealState, sign: int = 1) -> None:
        """Adds a deal's stays and outcome (``sign=-1`` takes them away)."""
        for stay in deal.stays:
            if stay.kind is not StageKind.OPEN:
                continue
            stage = stay.stage_id
            if stay.left_at is None:
                _bump(self.running, stage, sign)
                _bump(self.entered, stage, sign * _micros(stay.entered_at - _EPOCH))
                continue
            _bump(self.exposure, stage, sign * max(0, _micros(stay.left_at - stay.entered_at)))
            _bump(self.counts.setdefault(stage, {}), _target(stay), sign)
        if deal.status in (DealStatus.WON, DealStatus.LOST):
            won = sign if deal.status is DealStatus.WON else 0
            for stage in {s.stage_id for s in deal.stays if s.kind is StageKind.OPEN}:
                _bump(self.closed, stage, sign)
                _bump(self.won, stage, won)

    def stats(self) -> TransitionStats:
        return TransitionStats(
            counts={i: {j: n for j, n in row.items() if n} for i, row in self.counts.items()},
            exposure={i: e / _MICROS_PER_DAY for i, e in self.exposure.items()},
            open_stays={
                i: (n, self.entered.get(i, 0) / _MICROS_PER_DAY)
                for i, n in self.running.items()
                if n
            },
        )

    def win_rates(self) -> dict[str, float]:
        """Per OPEN stage: of the closed deals that were ever in it, the share won."""
        return {i: self.won.get(i, 0) / n for i, n in self.closed.items() if n}


def _bump(totals: dict[str, int], key: str, amount: int) -> None:
    totals[key] = totals.get(key, 0) + amount


def estimate_chain(
    stages: Sequence[Stage], stats: TransitionStats, at: datetime | None = None
) -> Chain:
    """The daily chain; ``at`` is the moment the running stays of ``stats.open_stays`` are
    counted up to (statistics taken with an ``as_of`` have none)."""
    opens = [
        s.id for s in sorted(stages, key=lambda s: (s.order, s.id)) if s.kind is StageKind.OPEN
    ]
    states = (*opens, WON, LOST)
    index = {state: i for i, state in enumerate(states)}
    size = len(states)
    matrix: Matrix = [[0.0] * size for _ in range(size)]
    for i, state in enumerate(states):
        rates: dict[int, float] = {}
        exposure = stats.exposure_at(state, at)
        if state in opens and exposure > 0:
            for target, count in stats.counts.get(state, {}).items():
                if target in index and target != state:
                    rates[index[target]] = rates.get(index[target], 0.0) + count / exposure
        total = sum(rates.values())
        if total > 1.0:
            rates = {j: r / total for j, r in rates.items()}
            total = 1.0
        for j, rate in rates.items():
            matrix[i][j] = rate
        matrix[i][i] = 1.0 - total
    return Chain(states=states, matrix=matrix)


def historical_win_rates(deals: Iterable[DealState], as_of: datetime | None) -> dict[str, float]:
    """Per OPEN stage: of the deals closed by ``as_of`` that were ever in it, the share won."""
    won: dict[str, int] = defaultdict(int)
    closed: dict[str, int] = defaultdict(int)
    for deal in deals:
        outcome = _outcome_at(deal, as_of)
        if outcome is None:
            continue
        visited = {
            s.stage_id
            for s in deal.stays
            if s.kind is StageKind.OPEN and (as_of is None or s.entered_at <= as_of)
        }
        for stage_id in visited:
            closed[stage_id] += 1
            won[stage_id] += outcome is DealStatus.WON
    return {stage_id: won[stage_id] / n for stage_id, n in closed.items() if n}


def _outcome_at(deal: DealState, as_of: datetime | None) -> DealStatus | None:
    if as_of is None:
        return deal.status if deal.status in (DealStatus.WON, DealStatus.LOST) else None
    stay = deal.stage_at(as_of)
    if stay is None or stay.kind is StageKind.OPEN:
        return None
    return DealStatus(stay.kind.value)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """What one event says about the fields a backtest replays (a slim copy of the change:
    a backtest keeps one per stored event of the pipeline)."""

    sequence: int
    at: datetime
    amount: Money | None
    expected_close_date: str | None
    owner_id: str | None

    @classmethod
    def of(cls, change: OpportunityChange) -> FieldChange:
        return cls(
            change.sequence,
            change.changed_at,
            change.amount,
            change.expected_close_date,
            change.owner_id,
        )


@dataclass(frozen=True, slots=True)
class Version:
    """What a deal's events said about it from ``at`` on (until its next version)."""

    at: datetime
    amount: Decimal | None
    currency: str | None
    expected_close_date: str | None
    owner_id: str | None


def versions(changes: Iterable[FieldChange]) -> list[Version]:
    """A deal's successive field values, folded in ``sequence`` order (duplicates ignored)
    with the projection's rules: a field an event does not carry keeps its value, an empty
    expected close date clears it. Every pipeline event carries the current values, and
    ``updated`` events carry the change itself, so these are the values at each moment. A
    new version starts only where a value changed."""
    found: list[Version] = []
    amount: Decimal | None = None
    currency: str | None = None
    expected: str | None = None
    owner: str | None = None
    seen: set[int] = set()
    for change in sorted(changes, key=lambda c: c.sequence):
        if change.sequence in seen:
            continue
        seen.add(change.sequence)
        if change.amount is not None:
            amount, currency = change.amount.amount, change.amount.currency
        if change.expected_close_date is not None:
            expected = change.expected_close_date or None
        if change.owner_id is not None:
            owner = change.owner_id
        version = Version(change.at, amount, currency, expected, owner)
        if not found or replace(found[-1], at=change.at) != version:
            found.append(version)
    return found


def version_at(timeline: Sequence[Version], moment: datetime) -> Version | None:
    """The version in force at ``moment`` (the last one that happened by then)."""
    found: Version | None = None
    for version in timeline:
        if version.at <= moment:
            found = version
    return found


def open_deals_at(
    deals: Iterable[DealState],
    as_of: datetime | None,
    timelines: Mapping[str, Sequence[Version]] | None = None,
) -> list[OpenDeal]:
    """The deals open at ``as_of`` (now when None), with their stage then; their amount and
    expected close date then from ``timelines`` (per opportunity id, see ``versions``) when
    given, else the stay's amount and today's expected close date."""
    found: list[OpenDeal] = []
    for deal in deals:
        if as_of is None:
            if not deal.is_open or deal.stage is None or deal.amount is None:
                continue
            found.append(
                OpenDeal(deal.stage.id, deal.amount, deal.currency or "", deal.expected_close_date)
            )
            continue
        stay = deal.stage_at(as_of)
        if stay is None or stay.kind is not StageKind.OPEN:
            continue
        then = version_at(timelines.get(deal.opportunity_id, ()), as_of) if timelines else None
        if then is not None and then.amount is not None:
            found.append(
                OpenDeal(stay.stage_id, then.amount, then.currency or "", then.expected_close_date)
            )
        elif stay.amount is not None:
            found.append(
                OpenDeal(stay.stage_id, stay.amount, stay.currency or "", deal.expected_close_date)
            )
    return found


def expected_in_period(deal: OpenDeal, start: date, end: date) -> bool:
    if not deal.expected_close_date:
        return True
    try:
        expected = date.fromisoformat(deal.expected_close_date[:10])
    except ValueError:
        return True
    return start <= expected <= end


def combine(method: ForecastMethod, weighted: Iterable[tuple[OpenDeal, float]]) -> ForecastFigures:
    expected: dict[str, float] = defaultdict(float)
    variance: dict[str, float] = defaultdict(float)
    exact: dict[str, Decimal] = defaultdict(Decimal)
    deals = 0
    for deal, probability in weighted:
        deals += 1
        amount = float(deal.amount)
        exact[deal.currency] += deal.amount * Decimal(repr(probability))
        expected[deal.currency] += probability * amount
        variance[deal.currency] += probability * (1 - probability) * amount * amount
    low: dict[str, Decimal] = {}
    high: dict[str, Decimal] = {}
    for currency, value in expected.items():
        spread = Z95 * math.sqrt(max(variance[currency], 0.0))
        low[currency] = Decimal(repr(max(0.0, value - spread))).quantize(CENT)
        high[currency] = Decimal(repr(value + spread)).quantize(CENT)
    return ForecastFigures(
        method=method,
        expected={c: v.quantize(CENT) for c, v in exact.items()},
        low=low,
        high=high,
        deals=deals,
    )


def forecast(
    method: ForecastMethod,
    *,
    stages: Sequence[Stage],
    open_deals: Sequence[OpenDeal],
    period_start: date,
    period_end: date,
    as_of: datetime,
    history: Sequence[DealState] | None = None,
    chain: Chain | None = None,
    win_rates: Mapping[str, float] | None = None,
) -> ForecastFigures:
    """The forecast of ``open_deals`` (as of ``as_of``) for ``[period_start, period_end]``."""
    configured = {s.id: s.probability for s in stages}
    if method is ForecastMethod.WEIGHTED:
        return combine(
            method,
            (
                (d, configured.get(d.stage_id, 0.0))
                for d in open_deals
                if expected_in_period(d, period_start, period_end)
            ),
        )
    if method is ForecastMethod.HISTORICAL:
        rates = win_rates if win_rates is not None else historical_win_rates(history or (), as_of)
        return combine(
            method,
            (
                (d, rates.get(d.stage_id, configured.get(d.stage_id, 0.0)))
                for d in open_deals
                if expected_in_period(d, period_start, period_end)
            ),
        )
    if chain is None:
        chain = estimate_chain(stages, transition_stats(history or (), as_of))
    start, end = period_bounds(period_start, period_end)
    days_end = whole_days(as_of, end)
    days_start = whole_days(as_of, start)
    by_stage: dict[str, float] = {}
    for stage_id in {d.stage_id for d in open_deals}:
        by_stage[stage_id] = max(
            0.0, chain.win_within(stage_id, days_end) - chain.win_within(stage_id, days_start)
        )
    return combine(method, ((d, by_stage[d.stage_id]) for d in open_deals))


# -- backtest ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BacktestPeriod:
    period_start: date
    period_end: date
    forecast: ForecastFigures
    actual: dict[str, Decimal]
    error: float | None  # absolute percentage error over currencies with actual > 0


@dataclass(frozen=True, slots=True)
class AccuracyFigures:
    method: ForecastMethod
    mape: float | None
    periods: tuple[BacktestPeriod, ...]


def won_between(
    deals: Iterable[DealState],
    start: datetime,
    end: datetime,
    timelines: Mapping[str, Sequence[Version]] | None = None,
) -> dict[str, Decimal]:
    """Per currency, the amounts of the wins (moves into a WON stage) in ``[start, end)``: the
    amount when the deal was won (from ``timelines`` when given)."""
    won: dict[str, Decimal] = defaultdict(Decimal)
    for deal in deals:
        for stay in deal.stays:
            if stay.kind is not StageKind.WON or not start <= stay.entered_at < end:
                continue
            then = (
                version_at(timelines.get(deal.opportunity_id, ()), stay.entered_at)
                if timelines
                else None
            )
            amount, currency = (then.amount, then.currency) if then else (None, None)
            if amount is None:
                amount, currency = stay.amount, stay.currency
            if amount is not None and currency:
                won[currency] += amount
    return dict(won)


def percentage_error(
    forecast: Mapping[str, Decimal], actual: Mapping[str, Decimal]
) -> float | None:
    errors = [
        abs(float(forecast.get(c, Decimal(0)) - a)) / float(a) for c, a in actual.items() if a > 0
    ]
    return sum(errors) / len(errors) if errors else None


def backtest(
    stages: Sequence[Stage],
    deals: Sequence[DealState],
    *,
    periods: int,
    period_days: int,
    today: date,
    timelines: Mapping[str, Sequence[Version]] | None = None,
) -> list[AccuracyFigures]:
    """Replays ``periods`` past periods of ``period_days`` ending at ``today`` (exclusive):
    each method forecasts each period from what was known at its start (stages, and with
    ``timelines`` amounts and expected close dates as they were then), and is compared with
    the wins that happened in it. MAPE = mean of the periods' errors (periods without a win
    are left out; None when every period is)."""
    bounds: list[tuple[date, date]] = []
    for k in range(periods, 0, -1):
        end_exclusive = today - timedelta(days=(k - 1) * period_days)
        start = end_exclusive - timedelta(days=period_days)
        bounds.append((start, end_exclusive - timedelta(days=1)))
    results: list[AccuracyFigures] = []
    for method in ForecastMethod:
        rows: list[BacktestPeriod] = []
        for start, end in bounds:
            as_of, end_at = period_bounds(start, end)
            figures = forecast(
                method,
                stages=stages,
                open_deals=open_deals_at(deals, as_of, timelines),
                period_start=start,
                period_end=end,
                as_of=as_of,
                history=deals,
            )
            actual = won_between(deals, as_of, end_at, timelines)
            rows.append(
                BacktestPeriod(
                    start, end, figures, actual, percentage_error(figures.expected, actual)
                )
            )
        errors = [row.error for row in rows if row.error is not None]
        results.append(
            AccuracyFigures(
                method=method,
                mape=sum(errors) / len(errors) if errors else None,
                periods=tuple(rows),
            )
        )
    return results
