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
  (absorbing). From the completed stays before the forecast moment, per OPEN stage ``i``:
  ``n_ij`` transitions to ``j`` and ``E_i`` days spent in ``i``; the one-day transition
  probability is ``P_ij = n_ij / E_i`` and ``P_ii = 1 - Σ_j P_ij`` (rows whose daily exit rate
  exceeds 1 are normalised, ``P_ii = 0``). A stage without completed stays keeps its deals
  (``P_ii = 1``). With ``d_s``/``d_e`` the whole days from the forecast moment to the start /
  the end of the period, ``p = (P^d_e)[stage, WON] - (P^d_s)[stage, WON]``: won within the
  period, not before it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from analytics.domain.deal import DealState
from analytics.domain.model import DealStatus, ForecastMethod, Stage, StageKind

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
    """``counts[i][j]`` transitions and ``exposure[i]`` days, per OPEN stage ``i``."""

    counts: Mapping[str, Mapping[str, int]]
    exposure: Mapping[str, float]


def transition_stats(deals: Iterable[DealState], as_of: datetime | None) -> TransitionStats:
    """Completed stays in OPEN stages that ended by ``as_of`` (all when None)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    exposure: dict[str, float] = defaultdict(float)
    for deal in deals:
        for stay in deal.stays:
            if stay.kind is not StageKind.OPEN or stay.left_at is None:
                continue
            if as_of is not None and stay.left_at > as_of:
                continue
            exposure[stay.stage_id] += stay.days()
            if stay.next_kind is StageKind.WON:
                target = WON
            elif stay.next_kind is StageKind.LOST:
                target = LOST
            else:
                target = stay.next_stage_id or LOST
            counts[stay.stage_id][target] += 1
    return TransitionStats(counts={k: dict(v) for k, v in counts.items()}, exposure=dict(exposure))


def estimate_chain(stages: Sequence[Stage], stats: TransitionStats) -> Chain:
    opens = [
        s.id for s in sorted(stages, key=lambda s: (s.order, s.id)) if s.kind is StageKind.OPEN
    ]
    states = (*opens, WON, LOST)
    index = {state: i for i, state in enumerate(states)}
    size = len(states)
    matrix: Matrix = [[0.0] * size for _ in range(size)]
    for i, state in enumerate(states):
        rates: dict[int, float] = {}
        exposure = stats.exposure.get(state, 0.0)
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


def open_deals_at(deals: Iterable[DealState], as_of: datetime | None) -> list[OpenDeal]:
    """The deals open at ``as_of`` (now when None), with their stage and amount then."""
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
        if stay is None or stay.kind is not StageKind.OPEN or stay.amount is None:
            continue
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


def won_between(deals: Iterable[DealState], start: datetime, end: datetime) -> dict[str, Decimal]:
    """Per currency, the amounts of the wins (moves into a WON stage) in ``[start, end)``."""
    won: dict[str, Decimal] = defaultdict(Decimal)
    for deal in deals:
        for stay in deal.stays:
            if (
                stay.kind is StageKind.WON
                and start <= stay.entered_at < end
                and stay.amount is not None
                and stay.currency
            ):
                won[stay.currency] += stay.amount
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
) -> list[AccuracyFigures]:
    """Replays ``periods`` past periods of ``period_days`` ending at ``today`` (exclusive):
    each method forecasts each period from what was known at its start, and is compared with
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
                open_deals=open_deals_at(deals, as_of),
                period_start=start,
                period_end=end,
                as_of=as_of,
                history=deals,
            )
            actual = won_between(deals, as_of, end_at)
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
