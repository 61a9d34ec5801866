"""The analytics subgraph (Strawberry, Apollo Federation 2): reports over the projections.

Resolvers only translate between GraphQL and the service layer; the figures come from
``analytics.service_layer.services`` and the arithmetic from ``analytics.domain``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime
from enum import Enum
from functools import partial
from typing import Annotated, Final

import strawberry
from strawberry.types import Info

from analytics.domain import forecast as fc
from analytics.domain import model, reports
from analytics.entrypoints.context import Context
from analytics.entrypoints.graphql_common import (
    ExchangeRateType,
    Money,
    _money,
    converted_money,
    field,
    rates_used,
    unconverted,
)
from analytics.entrypoints.messages import stored_change
from analytics.entrypoints.reporting_schema import (
    OpportunityEntity,
    ReportingMutation,
    ReportingQuery,
)
from analytics.entrypoints.webhook_schema import WebhookMutation, WebhookQuery
from analytics.service_layer import reporting, services
from crm_common import access
from crm_common.access import Kind
from crm_common.events import utcnow
from crm_common.graphql import SubgraphSchema, subgraph_extensions


@strawberry.enum(description="How a funnel counts deals.")
class ConversionMethod(Enum):
    COHORT = strawberry.enum_value(
        "COHORT",
        description=(
            "The deals created in [from, to), followed to wherever they got: each deal counts "
            "once per OPEN stage, however often it re-entered it."
        ),
    )
    SNAPSHOT = strawberry.enum_value(
        "SNAPSHOT",
        description=(
            "The stage exits in [from, to): per OPEN stage, entered = transitions in the "
            "window that ended a stay in it or passed it, advanced = those that went forward. "
            "A deal that re-enters a stage counts again each time it leaves it."
        ),
    )


@strawberry.enum(description="How a forecast is computed.")
class ForecastMethod(Enum):
    WEIGHTED = strawberry.enum_value(
        "WEIGHTED",
        description=(
            "Amount x the configured probability of the deal's stage, for the open deals "
            "expected to close in the period (a deal without an expected close date counts as "
            "closing in it)."
        ),
    )
    HISTORICAL = strawberry.enum_value(
        "HISTORICAL",
        description=(
            "As WEIGHTED, with the stage's empirical win rate: of the closed deals that were "
            "ever in the stage, the share won (the configured probability without history)."
        ),
    )
    MARKOV = strawberry.enum_value(
        "MARKOV",
        description=(
            "An absorbing Markov chain (daily steps; states: the OPEN stages, WON, LOST) "
            "estimated with exposure: P(i→j per day) = transitions i→j / deal-days spent in "
            "i, where the days count every stay in i up to now, including the ongoing stays "
            "of the deals still there (censored), so slow deals still sitting in a stage "
            "lower its exit rate; P(i→i) = 1 - the row's exits (a stage nobody left keeps its "
            "deals). Every open deal counts with its probability of being won within the "
            "period."
        ),
    )


@strawberry.type(description="One OPEN stage of a funnel.")
class FunnelStep:
    stage_id: strawberry.ID
    stage_name: str
    entered: int = strawberry.field(
        description=(
            "COHORT: deals that reached the stage or skipped past it (a skipped stage counts "
            "as passed), once per deal whatever its re-entries. SNAPSHOT: transitions in the "
            "window that ended a stay in the stage or passed it."
        )
    )
    advanced: int = strawberry.field(
        description="Of those, the ones that reached a later OPEN stage or a WON stage."
    )
    conversion_rate: float = strawberry.field(description="advanced / entered; 0 if none.")
    cumulative_rate: float = strawberry.field(
        description=(
            "COHORT over all owners: entered / entered of the first step. SNAPSHOT, or one "
            "owner: the product of the conversion rates of the steps before (1 for the first "
            "step when it has deals). Both are in [0, 1] and never increase along the funnel; "
            "they agree whenever every deal of a step came from the step before."
        )
    )


@strawberry.type(
    description=(
        "Stage-to-stage conversion of a pipeline's deals. With ownerId, each transition counts "
        "for the owner at that moment (not today's owner); in COHORT a deal's stage counts for "
        "the owner who moved it past the stage, or, while it has not passed it, the owner at "
        "its latest exit or its current owner."
    )
)
class FunnelReport:
    pipeline_id: strawberry.ID
    method: ConversionMethod
    steps: list[FunnelStep]
    won: int = strawberry.field(
        description="COHORT: deals of the cohort now won. SNAPSHOT: wins in the window."
    )
    lost: int


@strawberry.type(description="Time spent in one OPEN stage (days), from completed stays.")
class StageDuration:
    stage_id: strawberry.ID
    stage_name: str
    deals: int = strawberry.field(
        description="Deals with a stay in the stage that ended in the window."
    )
    stays: int = strawberry.field(
        description="Their stays (more than deals when deals re-entered)."
    )
    mean_days: float = strawberry.field(description="Of each deal's latest stay.")
    median_days: float
    p90_days: float = strawberry.field(description="90th percentile (linear interpolation).")
    cumulative_mean_days: float = strawberry.field(
        description="Of each deal's total time over all its stays in the stage."
    )
    cumulative_median_days: float
    cumulative_p90_days: float
    current_deals: int = strawberry.field(description="Open deals in the stage now.")
    current_mean_age_days: float
    idle_deals: int = strawberry.field(
        description="Open deals in the stage idle longer than its rottingDays (default 30)."
    )
    bottleneck: bool = strawberry.field(
        description="The stage with the longest median (then mean) latest stay."
    )


@strawberry.type(description="An open deal without activity for too long (rotting).")
class IdleDeal:
    opportunity_id: strawberry.ID
    title: str | None
    owner_id: strawberry.ID | None
    stage_id: strawberry.ID | None
    stage_name: str | None
    idle_days: float
    last_activity_at: datetime | None
    amount: Money | None


@strawberry.type
class CurrencyRate:
    currency: str
    rate: float


@strawberry.type(
    description=(
        "Win rate, deal size, cycle and velocity. Closed deals count in the window of their "
        "closing, for the owner who closed them; open deals are today's, for their owner."
    )
)
class SalesPerformance:
    owner_id: strawberry.ID | None = strawberry.field(description="None for the overall figures.")
    open_deals: int
    won: int
    lost: int
    win_rate: float = strawberry.field(description="won / (won + lost) by count; 0 if none.")
    win_rate_by_value: list[CurrencyRate] = strawberry.field(
        description="won amount / (won + lost amount), per currency."
    )
    won_amount: list[Money]
    lost_amount: list[Money]
    avg_won_amount: list[Money]
    avg_cycle_days: float = strawberry.field(
        description="Mean sales cycle of the won deals: creation to win, in days."
    )
    median_cycle_days: float
    velocity: list[Money] = strawberry.field(
        description=(
            "Per currency and per day: open deals (in that currency) x win rate x average "
            "won amount ÷ average cycle days."
        )
    )
    owners: list[SalesPerformance] = strawberry.field(
        description="The same figures per owner (empty on an owner's own entry)."
    )
    converted_won_amount: Money | None = strawberry.field(
        default=None,
        description=(
            "With `currency`: the won amount in it, each deal at the rate valid on its close "
            "date (amounts of currencies without a rate are left out: `unconvertedCurrencies`)."
        ),
    )
    converted_lost_amount: Money | None = strawberry.field(
        default=None, description="With `currency`: the lost amount, at close-date rates."
    )
    converted_open_amount: Money | None = strawberry.field(
        default=None, description="With `currency`: the open deals' amount, at today's rates."
    )
    rates_used: list[ExchangeRateType] = strawberry.field(
        default_factory=list, description="The exchange rates the converted totals used."
    )
    unconverted_currencies: list[str] = strawberry.field(
        default_factory=list,
        description="Currencies with no rate valid on a day a converted total needed one.",
    )


@strawberry.type(
    description=(
        "Expected revenue of the period per currency, with a 95 % interval from the variance "
        "of independent outcomes (expected ∓ 1.96·√Σ p(1-p)·amount², low ≥ 0)."
    )
)
class Forecast:
    method: ForecastMethod
    expected: list[Money]
    low: list[Money]
    high: list[Money]
    deals: int = strawberry.field(description="Open deals the forecast includes.")
    converted_expected: Money | None = strawberry.field(
        default=None,
        description="With `currency`: each currency's figure at today's rate, summed.",
    )
    converted_low: Money | None = None
    converted_high: Money | None = None
    rates_used: list[ExchangeRateType] = strawberry.field(default_factory=list)
    unconverted_currencies: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class BacktestPeriod:
    period_start: date
    period_end: date
    expected: list[Money]
    low: list[Money]
    high: list[Money]
    actual: list[Money] = strawberry.field(description="Won in the period (per currency).")
    error: float | None = strawberry.field(
        description="|expected - actual| / actual, averaged over currencies; None if no win."
    )


@strawberry.type(description="How a forecast method did on past periods, replayed from events.")
class ForecastAccuracy:
    method: ForecastMethod
    mape: float | None = strawberry.field(
        description="Mean absolute percentage error over the periods that had wins."
    )
    periods: list[BacktestPeriod]


@strawberry.type(description="One stage of a pipeline at a past moment.")
class StageSnapshot:
    stage_id: strawberry.ID
    stage_name: str
    kind: str
    count: int
    amount: list[Money]
    weighted_amount: list[Money]
    converted_amount: Money | None = strawberry.field(
        default=None, description="With `currency`: the amounts at the rates valid on `at`."
    )
    converted_weighted_amount: Money | None = None
    rates_used: list[ExchangeRateType] = strawberry.field(default_factory=list)
    unconverted_currencies: list[str] = strawberry.field(default_factory=list)


@strawberry.type(description="A deal entered a stage (created, moved, won, lost, reopened).")
class StageChangeEvent:
    event_id: strawberry.ID
    type: str
    opportunity_id: strawberry.ID
    pipeline_id: strawberry.ID
    owner_id: strawberry.ID | None
    title: str | None
    status: str | None
    from_stage_id: strawberry.ID | None
    from_stage_name: str | None
    to_stage_id: strawberry.ID
    to_stage_name: str
    amount: Money | None
    changed_at: datetime
    sequence: int

    @field(
        "The deal itself, an entity reference the gateway resolves (e.g. "
        "`opportunity { title customer { name } }` in the same subscription)."
    )
    def opportunity(self) -> OpportunityEntity:
        return OpportunityEntity(id=self.opportunity_id)


def _utc(moment: datetime | None) -> datetime | None:
    """Client times without an offset are taken as UTC (API.md: times are UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _report(report: services.FunnelReport) -> FunnelReport:
    return FunnelReport(
        pipeline_id=strawberry.ID(report.pipeline_id),
        method=ConversionMethod[report.method.value],
        steps=[
            FunnelStep(
                stage_id=strawberry.ID(step.stage_id),
                stage_name=step.stage_name,
                entered=step.entered,
                advanced=step.advanced,
                conversion_rate=step.conversion_rate,
                cumulative_rate=step.cumulative_rate,
            )
            for step in report.steps
        ],
        won=report.won,
        lost=report.lost,
    )


def _id(value: str | None) -> str | None:
    return str(value) if value is not None else None


From = Annotated[datetime | None, strawberry.argument(name="from")]


async def _funnel(
    context: Context,
    pipeline_id: str,
    from_: datetime | None,
    to: datetime | None,
    method: ConversionMethod | None,
    owner_id: str | None,
) -> FunnelReport:
    report = await services.funnel_report(
        pipeline_id,
        viewer=context.identity,
        method=model.ConversionMethod((method or ConversionMethod.COHORT).name),
        created_from=_utc(from_),
        created_to=_utc(to),
        owner_id=owner_id,
        read_model=context.resources.read_model,
    )
    return _report(report)


async def resolve_funnel(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    from_: From = None,
    to: datetime | None = None,
    method: ConversionMethod | None = ConversionMethod.COHORT,
    owner_id: strawberry.ID | None = None,
) -> FunnelReport:
    return await _funnel(info.context, str(pipeline_id), from_, to, method, _id(owner_id))


def _duration(f: reports.StageDurationFigures) -> StageDuration:
    return StageDuration(
        stage_id=strawberry.ID(f.stage_id),
        stage_name=f.stage_name,
        deals=f.deals,
        stays=f.stays,
        mean_days=f.latest.mean,
        median_days=f.latest.median,
        p90_days=f.latest.p90,
        cumulative_mean_days=f.cumulative.mean,
        cumulative_median_days=f.cumulative.median,
        cumulative_p90_days=f.cumulative.p90,
        current_deals=f.current_deals,
        current_mean_age_days=f.current_mean_age_days,
        idle_deals=f.idle_deals,
        bottleneck=f.bottleneck,
    )


async def resolve_stage_durations(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    from_: From = None,
    to: datetime | None = None,
    owner_id: strawberry.ID | None = None,
) -> list[StageDuration]:
    figures = await services.stage_durations(
        str(pipeline_id),
        viewer=info.context.identity,
        start=_utc(from_),
        end=_utc(to),
        owner_id=_id(owner_id),
        read_model=info.context.resources.read_model,
        now=utcnow(),
    )
    return [_duration(f) for f in figures]


async def resolve_bottleneck(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    from_: From = None,
    to: datetime | None = None,
    owner_id: strawberry.ID | None = None,
) -> StageDuration | None:
    durations = await resolve_stage_durations(info, pipeline_id, from_, to, owner_id)
    return next((d for d in durations if d.bottleneck), None)


async def resolve_idle_deals(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    owner_id: strawberry.ID | None = None,
    days: int | None = None,
) -> list[IdleDeal]:
    found = await services.idle_deals(
        str(pipeline_id),
        viewer=info.context.identity,
        owner_id=_id(owner_id),
        days=days,
        read_model=info.context.resources.read_model,
        now=utcnow(),
    )
    return [
        IdleDeal(
            opportunity_id=strawberry.ID(deal.opportunity_id),
            title=deal.title,
            owner_id=strawberry.ID(deal.owner_id) if deal.owner_id else None,
            stage_id=strawberry.ID(stage.id) if stage else None,
            stage_name=stage.name if stage else None,
            idle_days=round(idle, 4),
            last_activity_at=deal.updated_at,
            amount=(
                Money(amount=deal.amount, currency=deal.currency)
                if deal.amount is not None and deal.currency
                else None
            ),
        )
        for deal, stage, idle in found
    ]


def _performance(f: reports.PerformanceFigures) -> SalesPerformance:
    return SalesPerformance(
        owner_id=strawberry.ID(f.owner_id) if f.owner_id else None,
        open_deals=f.open_deals,
        won=f.won,
        lost=f.lost,
        win_rate=f.win_rate,
        win_rate_by_value=[
            CurrencyRate(currency=c, rate=r) for c, r in sorted(f.win_rate_by_value.items()) if c
        ],
        won_amount=_money(f.won_amount),
        lost_amount=_money(f.lost_amount),
        avg_won_amount=_money(f.avg_won_amount),
        avg_cycle_days=f.avg_cycle_days,
        median_cycle_days=f.median_cycle_days,
        velocity=_money(f.velocity),
        owners=[_performance(o) for o in f.owners],
    )


async def resolve_sales_performance(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    from_: From = None,
    to: datetime | None = None,
    owner_id: strawberry.ID | None = None,
    currency: str | None = None,
) -> SalesPerformance:
    resources = info.context.resources
    figures = await services.sales_performance(
        str(pipeline_id),
        viewer=info.context.identity,
        start=_utc(from_),
        end=_utc(to),
        owner_id=_id(owner_id),
        read_model=resources.read_model,
    )
    performance = _performance(figures)
    converted = await reporting.converted_sales_performance(
        str(pipeline_id),
        currency,
        viewer=info.context.identity,
        start=_utc(from_),
        end=_utc(to),
        owner_id=_id(owner_id),
        read_model=resources.read_model,
        rates=resources.rates,
        base=resources.settings.base_currency,
        today=utcnow().date(),
    )
    if converted is not None:
        performance.converted_won_amount = converted_money(converted.won)
        performance.converted_lost_amount = converted_money(converted.lost)
        performance.converted_open_amount = converted_money(converted.open)
        performance.rates_used = rates_used(converted.won, converted.lost, converted.open)
        performance.unconverted_currencies = unconverted(
            converted.won, converted.lost, converted.open
        )
    return performance


def _forecast(f: fc.ForecastFigures) -> Forecast:
    return Forecast(
        method=ForecastMethod[f.method.value],
        expected=_money(f.expected),
        low=_money(f.low),
        high=_money(f.high),
        deals=f.deals,
    )


async def resolve_forecast(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    period_start: date,
    period_end: date,
    method: ForecastMethod | None = ForecastMethod.MARKOV,
    owner_id: strawberry.ID | None = None,
    currency: str | None = None,
) -> Forecast:
    resources = info.context.resources
    template = await reporting.conversion_to(
        currency, resources.rates, resources.settings.base_currency
    )
    figures = await services.forecast(
        str(pipeline_id),
        viewer=info.context.identity,
        period_start=period_start,
        period_end=period_end,
        method=model.ForecastMethod((method or ForecastMethod.MARKOV).name),
        owner_id=_id(owner_id),
        read_model=resources.read_model,
        cache=resources.history,
        now=utcnow(),
    )
    forecast = _forecast(figures)
    if template is not None:
        today = utcnow().date()
        parts = [
            reporting.converted(template, values, today)
            for values in (figures.expected, figures.low, figures.high)
        ]
        forecast.converted_expected, forecast.converted_low, forecast.converted_high = (
            converted_money(part) for part in parts
        )
        forecast.rates_used = rates_used(*parts)
        forecast.unconverted_currencies = unconverted(*parts)
    return forecast


async def resolve_forecast_backtest(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    periods: int = 4,
    period_days: int = 90,
) -> list[ForecastAccuracy]:
    resources = info.context.resources
    results = await services.forecast_backtest(
        str(pipeline_id),
        viewer=info.context.identity,
        periods=periods,
        period_days=period_days,
        events=resources.events,
        read_model=resources.read_model,
        parse=stored_change,
        today=utcnow().date(),
    )
    return [
        ForecastAccuracy(
            method=ForecastMethod[r.method.value],
            mape=r.mape,
            periods=[
                BacktestPeriod(
                    period_start=p.period_start,
                    period_end=p.period_end,
                    expected=_money(p.forecast.expected),
                    low=_money(p.forecast.low),
                    high=_money(p.forecast.high),
                    actual=_money(p.actual),
                    error=p.error,
                )
                for p in r.periods
            ],
        )
        for r in results
    ]


async def resolve_pipeline_as_of(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    at: datetime,
    owner_id: strawberry.ID | None = None,
    currency: str | None = None,
) -> list[StageSnapshot]:
    moment = _utc(at)
    assert moment is not None
    resources = info.context.resources
    template = await reporting.conversion_to(
        currency, resources.rates, resources.settings.base_currency
    )
    figures = await services.pipeline_as_of(
        str(pipeline_id),
        viewer=info.context.identity,
        at=moment,
        owner_id=_id(owner_id),
        read_model=info.context.resources.read_model,
    )
    stages = []
    for f in figures:
        stage = StageSnapshot(
            stage_id=strawberry.ID(f.stage_id),
            stage_name=f.stage_name,
            kind=f.kind.value,
            count=f.count,
            amount=_money(f.amount),
            weighted_amount=_money(f.weighted_amount),
        )
        if template is not None:
            amount = reporting.converted(template, f.amount, moment.date())
            weighted = reporting.converted(template, f.weighted_amount, moment.date())
            stage.converted_amount = converted_money(amount)
            stage.converted_weighted_amount = converted_money(weighted)
            stage.rates_used = rates_used(amount, weighted)
            stage.unconverted_currencies = unconverted(amount, weighted)
        stages.append(stage)
    return stages


@strawberry.type
class Query(ReportingQuery, WebhookQuery):
    funnel: FunnelReport | None = strawberry.field(
        resolver=resolve_funnel,
        description=(
            "The pipeline's funnel, one step per OPEN stage in stage order. COHORT: deals "
            "created in [from, to) (every deal when no bound is given); SNAPSHOT: transitions "
            "in [from, to). A skipped stage counts as passed; COHORT counts a deal once per "
            "stage whatever its re-entries, SNAPSHOT counts every exit. A pipeline analytics "
            "has never seen gives no steps. A rep sees only their own figures."
        ),
    )
    stage_durations: list[StageDuration] | None = strawberry.field(
        resolver=resolve_stage_durations,
        description=(
            "Time in each OPEN stage: stays that ended in [from, to), credited to the owner at "
            "the moment they ended. Per deal: its latest stay and, for deals that re-entered, "
            "the cumulative time over all its stays (mean, median, p90 of each)."
        ),
    )
    bottleneck_stage: StageDuration | None = strawberry.field(
        resolver=resolve_bottleneck,
        description="The stage with the longest median stay (None without completed stays).",
    )
    idle_deals: list[IdleDeal] | None = strawberry.field(
        resolver=resolve_idle_deals,
        description=(
            "Open deals without any event for longer than `days` (default: their stage's "
            "rottingDays, else 30), the longest idle first."
        ),
    )
    sales_performance: SalesPerformance | None = strawberry.field(
        resolver=resolve_sales_performance,
        description=(
            "Win rates, average won amount, sales cycle and velocity, with per-owner figures."
        ),
    )
    forecast: Forecast | None = strawberry.field(
        resolver=resolve_forecast,
        description=(
            "Revenue expected to be won in [periodStart, periodEnd] (dates, inclusive, UTC) "
            "from today's open deals, per currency."
        ),
    )
    forecast_backtest: list[ForecastAccuracy] | None = strawberry.field(
        resolver=resolve_forecast_backtest,
        description=(
            "Replays the `periods` past periods of `periodDays` days before today from the "
            "event store: each method forecasts each period from what was known at its start "
            "(each deal's stage, amount and expected close date as they were then; the "
            "chains and win rates from the history up to then) and is compared with what was "
            "won in it."
        ),
    )
    pipeline_as_of: list[StageSnapshot] | None = strawberry.field(
        resolver=resolve_pipeline_as_of,
        description=(
            "Every stage of the pipeline as it was at `at`: the deals in it and their amounts "
            "then (weighted by the stage's current probability)."
        ),
    )


STAGE_TYPES = frozenset(
    f"pipeline.opportunity.{name}"
    for name in ("created", "stage_changed", "won", "lost", "reopened")
)


def _visible(context: Context, change: model.OpportunityChange) -> bool:
    """``crm_common.access`` over deals, by the owner and team the event carries."""
    return access.can_read(context.identity, Kind.DEAL, change.owner_id, change.team)


async def subscribe_stage_changes(
    info: Info[Context, None], pipeline_id: strawberry.ID | None = None
) -> AsyncGenerator[StageChangeEvent, None]:
    context = info.context
    async with context.resources.live.listen(_id(pipeline_id)) as listener:
        while True:
            signal = await listener.queue.get()
            change = signal.change
            if change is None or change.to_stage is None or change.event_type not in STAGE_TYPES:
                continue
            if change.from_stage is not None and change.from_stage.id == change.to_stage.id:
                continue
            if not _visible(context, change):
                continue
            yield StageChangeEvent(
                event_id=strawberry.ID(change.event_id),
                type=change.event_type,
                opportunity_id=strawberry.ID(change.opportunity_id),
                pipeline_id=strawberry.ID(signal.pipeline_id),
                owner_id=strawberry.ID(change.owner_id) if change.owner_id else None,
                title=change.title,
                status=change.status.value if change.status else None,
                from_stage_id=strawberry.ID(change.from_stage.id) if change.from_stage else None,
                from_stage_name=change.from_stage.name if change.from_stage else None,
                to_stage_id=strawberry.ID(change.to_stage.id),
                to_stage_name=change.to_stage.name,
                amount=(
                    Money(amount=change.amount.amount, currency=change.amount.currency)
                    if change.amount
                    else None
                ),
                changed_at=change.changed_at,
                sequence=change.sequence,
            )


async def subscribe_funnel_updates(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    from_: From = None,
    to: datetime | None = None,
    method: ConversionMethod | None = ConversionMethod.COHORT,
    owner_id: strawberry.ID | None = None,
) -> AsyncGenerator[FunnelReport, None]:
    context = info.context
    debounce = context.resources.settings.funnel_debounce_seconds
    # The same arguments as the ``funnel`` query, so that a live funnel is the report the
    # client shows; a bad window fails the subscription at once, before anything is sent.
    report = partial(_funnel, context, str(pipeline_id), from_, to, method, _id(owner_id))
    async with context.resources.live.listen(str(pipeline_id)) as listener:
        last = await report()
        yield last
        while True:
            await listener.queue.get()
            await asyncio.sleep(debounce)
            while not listener.queue.empty():
                with contextlib.suppress(asyncio.QueueEmpty):
                    listener.queue.get_nowait()
            current = await report()
            if current != last:
                last = current
                yield current


@strawberry.type
class Subscription:
    stage_changes: AsyncGenerator[StageChangeEvent, None] = strawberry.subscription(
        resolver=subscribe_stage_changes,
        description=(
            "Every stage change (creation, move, win, loss, reopening) of the pipeline (of "
            "every pipeline without pipelineId), live. Reps only receive their own deals'."
        ),
    )
    funnel_updates: AsyncGenerator[FunnelReport, None] = strawberry.subscription(
        resolver=subscribe_funnel_updates,
        description=(
            "The funnel of the pipeline, with the arguments of the `funnel` query (from, to, "
            "method, ownerId: the same report), sent at once and then whenever it changed "
            "(debounced: at most one report per ANALYTICS_FUNNEL_DEBOUNCE_SECONDS, 1 s by "
            "default). A rep receives their own figures."
        ),
    )


#: Federation version of this subgraph (Strawberry's default; every subgraph speaks Fed 2).
FEDERATION_VERSION: Final = "2.11"


@strawberry.type
class Mutation(ReportingMutation, WebhookMutation):
    pass


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[OpportunityEntity],
    subscription=Subscription,
    extensions=subgraph_extensions(),
    federation_version=FEDERATION_VERSION,
)
