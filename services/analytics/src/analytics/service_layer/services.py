"""Use cases: record an incoming event (in sequence order), time out gaps, rebuild, reports."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from analytics.domain import forecast as fc
from analytics.domain import reports
from analytics.domain.deal import DealState, Verdict
from analytics.domain.funnel import DealProgress, FunnelFigures, FunnelStep, cohort_funnel
from analytics.domain.model import ConversionMethod, ForecastMethod, OpportunityChange, Stage
from analytics.service_layer.ports import (
    ConcurrentUpdate,
    DealRepository,
    EventStore,
    ReadModel,
)
from crm_common import access
from crm_common.access import Kind, Reach
from crm_common.errors import BadUserInput, Forbidden
from crm_common.identity import Identity

log = logging.getLogger(__name__)

Parse = Callable[[Mapping[str, Any]], OpportunityChange | None]

_SAVE_ATTEMPTS = 10


# -- writing ----------------------------------------------------------------------------------


async def _drain(state: DealState, events: EventStore, parse: Parse) -> list[OpportunityChange]:
    """Apply the held events that are now in line."""
    applied: list[OpportunityChange] = []
    while (sequence := state.next_held()) is not None:
        envelope = await events.find(state.opportunity_id, sequence)
        change = parse(envelope) if envelope is not None else None
        if change is None:
            state.last_sequence = sequence
        else:
            state.apply(change)
            applied.append(change)
        state.unhold(sequence)
    return applied


async def _note(deals: DealRepository, changes: Iterable[OpportunityChange]) -> None:
    latest: dict[str, OpportunityChange] = {}
    for change in changes:
        if change.pipeline_id is not None:
            known = latest.get(change.pipeline_id)
            if known is None or change.stages is not None:
                latest[change.pipeline_id] = change
    for pipeline_id, change in latest.items():
        await deals.note_pipeline(pipeline_id, change.stages, change.changed_at)


async def record_event(
    event_id: str,
    envelope: Mapping[str, Any],
    change: OpportunityChange | None,
    *,
    events: EventStore,
    deals: DealRepository,
    parse: Parse,
    now: datetime,
) -> list[OpportunityChange]:
    """Store the event, then fold it into its opportunity's state in sequence order.

    Returns the changes applied now (this event and the held ones it released; empty for a
    duplicate, a stale or a held event). The event is stored first: a crash before the state
    is saved leaves it stored and unapplied, and the redelivery applies it (the state's
    ``last_sequence`` makes applying idempotent). Held events are read back from the store.
    """
    new = await events.append(event_id, envelope)
    if not new:
        log.info("duplicate event id", extra={"event_id": event_id})
    if change is None:
        return []
    for _ in range(_SAVE_ATTEMPTS):
        loaded = await deals.get(change.opportunity_id)
        state, revision = loaded if loaded else (DealState(change.opportunity_id), None)
        verdict = state.offer(change.sequence)
        if verdict is Verdict.STALE:
            refolded = await late_event_refold(state, events, parse)
            if refolded is None:
                return []
            try:
                await _note(deals, [change])
                await deals.save(refolded, revision)
            except ConcurrentUpdate:
                continue
            return [change]
        if verdict is Verdict.HOLD:
            if not state.hold(change.sequence, now):
                return []
            log.info(
                "event held behind a sequence gap",
                extra={"event_id": event_id, "sequence": change.sequence},
            )
            applied: list[OpportunityChange] = []
        else:
            state.apply(change)
            state.unhold(change.sequence)
            applied = [change, *await _drain(state, events, parse)]
        try:
            await _note(deals, applied)
            await deals.save(state, revision)
        except ConcurrentUpdate:
            continue
        return applied
    raise ConcurrentUpdate(change.opportunity_id)


async def late_event_refold(state: DealState, events: EventStore, parse: Parse) -> DealState | None:
    """A deal whose state skipped a gap (timed out) is folded again from its stored events
    when an event arrives after its sequence was passed: if the stored events now fill more
    of the gaps, the new state (the late event where it belongs) replaces the old one;
    otherwise (a plain duplicate) None. Only deals that skipped a gap pay for this."""
    if state.gaps_skipped == 0:
        return None
    fresh = DealState(state.opportunity_id)
    for sequence in range(1, state.last_sequence + 1):
        envelope = await events.find(state.opportunity_id, sequence)
        change = parse(envelope) if envelope is not None else None
        if change is None:
            continue  # still missing: skipped again, as the gap timeout did
        if change.sequence > fresh.last_sequence + 1:
            fresh.gaps_skipped += change.sequence - fresh.last_sequence - 1
        fresh.apply(change)
    fresh.gaps_skipped += state.last_sequence - fresh.last_sequence
    fresh.last_sequence = max(fresh.last_sequence, state.last_sequence)
    fresh.held, fresh.held_since = list(state.held), state.held_since
    if fresh.gaps_skipped >= state.gaps_skipped:
        return None
    log.info(
        "late event folded in",
        extra={"opportunity_id": state.opportunity_id, "gaps_skipped": fresh.gaps_skipped},
    )
    return fresh


@dataclass(frozen=True, slots=True)
class Incoming:
    event_id: str
    envelope: Mapping[str, Any]
    change: OpportunityChange | None


async def record_batch(
    items: list[Incoming],
    *,
    events: EventStore,
    deals: DealRepository,
    parse: Parse,
    now: datetime,
) -> list[list[OpportunityChange] | Exception]:
    """``record_event`` for many events at once, with the same rules and the same crash
    safety (events stored first, states written after): one write of the events, one read
    of the states, one write of the states. Per item: the changes applied, or the exception
    (``ConcurrentUpdate``) of an opportunity that another writer changed meanwhile."""
    await events.append_many([(item.event_id, item.envelope) for item in items])
    wanted = {item.change.opportunity_id for item in items if item.change is not None}
    loaded = await deals.get_many(wanted)
    states: dict[str, tuple[DealState, int | None]] = {
        key: loaded.get(key) or (DealState(key), None) for key in wanted
    }
    results: list[list[OpportunityChange] | Exception] = [[] for _ in items]
    dirty: set[str] = set()
    for index, item in enumerate(items):
        change = item.change
        if change is None:
            continue
        state, revision = states[change.opportunity_id]
        verdict = state.offer(change.sequence)
        if verdict is Verdict.STALE:
            refolded = await late_event_refold(state, events, parse)
            if refolded is not None:  # a late event that fills a skipped gap
                states[change.opportunity_id] = (refolded, revision)
                results[index] = [change]
                dirty.add(change.opportunity_id)
            continue
        if verdict is Verdict.HOLD:
            if state.hold(change.sequence, now):
                dirty.add(change.opportunity_id)
            continue
        state.apply(change)
        state.unhold(change.sequence)
        results[index] = [change, *await _drain(state, events, parse)]
        dirty.add(change.opportunity_id)
    applied = [c for r in results if isinstance(r, list) for c in r]
    await _note(deals, applied)
    conflicts = await deals.save_many([states[key] for key in sorted(dirty)])
    for index, item in enumerate(items):
        if item.change is not None and item.change.opportunity_id in conflicts:
            results[index] = ConcurrentUpdate(item.change.opportunity_id)
    return results


async def release_gaps(
    *,
    older_than: datetime,
    events: EventStore,
    deals: DealRepository,
    parse: Parse,
    on_applied: Callable[[list[OpportunityChange]], None] | None = None,
) -> int:
    """Timeout policy: apply the events held since before ``older_than``, skipping the
    missing sequences. Returns how many opportunities were released."""
    released = 0
    for opportunity_id in await deals.held_before(older_than):
        loaded = await deals.get(opportunity_id)
        if loaded is None:
            continue
        state, revision = loaded
        if state.held_since is None or state.held_since >= older_than:
            continue
        applied: list[OpportunityChange] = []
        while state.held:
            state.skip_gap()
            applied += await _drain(state, events, parse)
        log.warning(
            "sequence gap timed out; held events applied",
            extra={"opportunity_id": opportunity_id, "gaps_skipped": state.gaps_skipped},
        )
        try:
            await _note(deals, applied)
            await deals.save(state, revision)
        except ConcurrentUpdate:
            continue  # changed meanwhile: the next sweep looks again
        released += 1
        if on_applied is not None:
            on_applied(applied)
    return released


@dataclass
class Rebuilt:
    deals: int = 0
    events: int = 0
    pipelines: dict[str, tuple[tuple[Stage, ...], datetime]] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)


def _finish(state: DealState, held: dict[int, OpportunityChange]) -> None:
    while state.held:
        state.skip_gap()
        while (sequence := state.next_held()) is not None:
            state.apply(held[sequence])
            state.unhold(sequence)


async def replay_states(
    envelopes: AsyncIterator[Mapping[str, Any]], parse: Parse, summary: Rebuilt | None = None
) -> AsyncIterator[DealState]:
    """Fold stored envelopes (ordered by subject, then sequence) into deal states, with the
    live worker's rules (held events, gaps skipped at the end as if timed out)."""
    state: DealState | None = None
    held: dict[int, OpportunityChange] = {}
    async for envelope in envelopes:
        change = parse(envelope)
        if change is None:
            continue
        if summary is not None:
            summary.events += 1
            if change.pipeline_id is not None:
                summary.changes[change.pipeline_id] = summary.changes.get(change.pipeline_id, 0) + 1
                if change.stages is not None:
                    known = summary.pipelines.get(change.pipeline_id)
                    if known is None or known[1] < change.changed_at:
                        summary.pipelines[change.pipeline_id] = (change.stages, change.changed_at)
        if state is None or state.opportunity_id != change.opportunity_id:
            if state is not None:
                _finish(state, held)
                yield state
            state, held = DealState(change.opportunity_id), {}
        verdict = state.offer(change.sequence)
        if verdict is Verdict.HOLD:
            held.setdefault(change.sequence, change)
            state.hold(change.sequence, change.changed_at)
        elif verdict is Verdict.APPLY:
            state.apply(change)
            state.unhold(change.sequence)
            while (sequence := state.next_held()) is not None:
                state.apply(held[sequence])
                state.unhold(sequence)
    if state is not None:
        _finish(state, held)
        yield state


# -- reading ----------------------------------------------------------------------------------


def owner_scope(viewer: Identity, owner_id: str | None) -> str | None:
    """The owner filter the viewer may use: reps only ever see their own deals."""
    if access.beyond_own(viewer, Kind.DEAL):
        return owner_id
    if access.reach(viewer.roles, Kind.DEAL) is Reach.OWN:
        if owner_id is not None and owner_id != viewer.user_id:
            raise Forbidden("a rep may only read reports on their own deals")
        return viewer.user_id
    raise Forbidden("reading reports needs the role rep, manager, admin or service")


def visibility(viewer: Identity) -> Callable[[DealState], bool] | None:
    """``crm_common.access`` over deals: admins and services see every deal (None: no
    filter); a manager the deals of their team and every deal they own; a rep is restricted
    by ``owner_scope`` (their own figures). A deal's team is the one its latest event carrying
    the field says: the pipeline stamps it on every event (null: no team), so it is the
    pipeline's current team of the deal, the same rule as the pipeline's own reads; an event
    without the field (stored before it was required) keeps the team already learned."""
    scope = access.read_scope(viewer, Kind.DEAL)
    if scope.all or not access.beyond_own(viewer, Kind.DEAL):
        return None
    return lambda deal: scope.admits(deal.owner_id, deal.team)


def _only(deals: list[DealState], visible: Callable[[DealState], bool] | None) -> list[DealState]:
    return deals if visible is None else [deal for deal in deals if visible(deal)]


def _groups(deals: Iterable[DealState]) -> list[DealProgress]:
    counts: dict[tuple[Any, int | None, bool], int] = {}
    for deal in deals:
        if deal.status is not None:
            key = (deal.status, deal.max_open_order, deal.reached_won)
            counts[key] = counts.get(key, 0) + 1
    return [DealProgress(st, top, won, n) for (st, top, won), n in counts.items()]


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start >= end:
        raise BadUserInput("'from' must be before 'to'", field="from")


@dataclass(frozen=True, slots=True)
class FunnelReport:
    pipeline_id: str
    method: ConversionMethod
    steps: tuple[FunnelStep, ...]
    won: int
    lost: int


async def funnel_report(
    pipeline_id: str,
    *,
    viewer: Identity,
    method: ConversionMethod,
    created_from: datetime | None,
    created_to: datetime | None,
    owner_id: str | None,
    read_model: ReadModel,
) -> FunnelReport:
    """The funnel (API.md ``funnel``); ``from``/``to`` bound the creation time (COHORT) or the
    transition time (SNAPSHOT). An unknown pipeline gives no steps and zero counts."""
    _check_window(created_from, created_to)
    owner = owner_scope(viewer, owner_id)
    visible = visibility(viewer)
    stages = await read_model.stages(pipeline_id)
    if stages is None:
        return FunnelReport(pipeline_id=pipeline_id, method=method, steps=(), won=0, lost=0)
    figures: FunnelFigures
    if method is ConversionMethod.SNAPSHOT:
        deals = await read_model.deals(
            pipeline_id,
            moved_from=created_from,
            moved_to=created_to,
            fields=("moves",),
        )
        figures = reports.snapshot_funnel(
            stages, _only(deals, visible), created_from, created_to, owner
        )
    elif owner is None and visible is None:
        groups = await read_model.cohort(
            pipeline_id, created_from=created_from, created_to=created_to, owner_id=None
        )
        figures = cohort_funnel(stages, groups)
    elif owner is None:
        deals = await read_model.deals(
            pipeline_id,
            created_from=created_from,
            created_to=created_to,
            fields=("status", "maxOpenOrderReached", "reachedWon", "ownerId", "team"),
        )
        figures = cohort_funnel(stages, _groups(_only(deals, visible)))
    else:
        deals = await read_model.deals(
            pipeline_id,
            created_from=created_from,
            created_to=created_to,
            credited_to=owner,
            fields=("credits", "closedBy"),
        )
        figures = reports.cohort_by_credits(stages, _only(deals, visible), owner)
    return FunnelReport(
        pipeline_id=pipeline_id,
        method=method,
        steps=figures.steps,
        won=figures.won,
        lost=figures.lost,
    )


async def stage_durations(
    pipeline_id: str,
    *,
    viewer: Identity,
    start: datetime | None,
    end: datetime | None,
    owner_id: str | None,
    read_model: ReadModel,
    now: datetime,
) -> list[reports.StageDurationFigures]:
    _check_window(start, end)
    owner = owner_scope(viewer, owner_id)
    stages = await read_model.stages(pipeline_id)
    if stages is None:
        return []
    deals = await read_model.deals(pipeline_id, fields=("stays", "updatedAt", "ownerId", "status"))
    return reports.stage_durations(stages, _only(deals, visibility(viewer)), start, end, owner, now)


#: A hundred years: longer than any deal has been idle, well within what dates can hold.
MAX_IDLE_DAYS = 36_500


async def idle_deals(
    pipeline_id: str,
    *,
    viewer: Identity,
    owner_id: str | None,
    days: int | None,
    read_model: ReadModel,
    now: datetime,
) -> list[tuple[DealState, Stage | None, float]]:
    """Open deals without activity for longer than ``days`` (default: their stage's
    ``rottingDays``, else 30), the longest idle first, with their idle days."""
    if days is not None and not 0 <= days <= MAX_IDLE_DAYS:
        # A time span beyond what a date can hold (2147483647 days) is the caller's mistake.
        raise BadUserInput(f"days: must be between 0 and {MAX_IDLE_DAYS}", field="days")
    owner = owner_scope(viewer, owner_id)
    stages = {s.id: s for s in await read_model.stages(pipeline_id) or []}
    found: list[tuple[DealState, Stage | None, float]] = []
    candidates = await read_model.deals(
        pipeline_id, open_only=True, fields=("updatedAt", "amount", "title", "team")
    )
    for deal in _only(candidates, visibility(viewer)):
        if owner is not None and deal.owner_id != owner:
            continue
        stage = stages.get(deal.stage.id) if deal.stage else None
        if deal.updated_at is not None and reports.is_idle(deal, stage or deal.stage, now, days):
            found.append(
                (deal, stage or deal.stage, (now - deal.updated_at).total_seconds() / 86400)
            )
    return sorted(found, key=lambda item: -item[2])


async def sales_performance(
    pipeline_id: str,
    *,
    viewer: Identity,
    start: datetime | None,
    end: datetime | None,
    owner_id: str | None,
    read_model: ReadModel,
) -> reports.PerformanceFigures:
    _check_window(start, end)
    owner = owner_scope(viewer, owner_id)
    deals = await read_model.deals(
        pipeline_id,
        fields=("amount", "createdAt", "closedAt", "closedBy", "status"),
    )
    return reports.sales_performance(_only(deals, visibility(viewer)), start, end, owner)


@dataclass
class _History:
    changes: int
    computed: float
    #: Taken without an as-of moment: the chain is estimated at each request's moment, so
    #: that the running stays count up to it (``fc.TransitionStats.exposure_at``).
    stats: fc.TransitionStats
    win_rates: dict[str, float]


@dataclass
class _Tallied:
    """A pipeline's running tally and the deal states it holds, by deal id: the API's deal
    cache replaces a deal's state object when the deal changes, so an object that is not
    the one tallied marks a deal whose contribution must be taken away and added again."""

    tally: fc.HistoryTally
    deals: dict[str, DealState]


class HistoryCache:
    """The transition statistics and win rates of a pipeline's history, brought up to date
    when the pipeline changed (the worker bumps its change counter after applying its events)
    or after ``ttl`` seconds (a lost bump costs at most that). Only the deals that changed
    are re-tallied: the first forecast after a start reads the whole history once (seconds
    at 100,000 deals), the following ones milliseconds, however busy the pipeline is."""

    def __init__(self, ttl: float = 60.0) -> None:
        self._ttl = ttl
        self._entries: dict[str, _History] = {}
        self._tallies: dict[str, _Tallied] = {}

    async def get(
        self, pipeline_id: str, stages: list[Stage], read_model: ReadModel, now: datetime
    ) -> _History:
        changes = await read_model.change_count(pipeline_id)
        entry = self._entries.get(pipeline_id)
        if (
            entry is not None
            and entry.changes == changes
            and (time.monotonic() - entry.computed < self._ttl)
        ):
            return entry
        history = await read_model.deals(pipeline_id, fields=("stays",))
        tally = self._retally(pipeline_id, history)
        entry = _History(
            changes=changes,
            computed=time.monotonic(),
            stats=tally.stats(),
            win_rates=tally.win_rates(),
        )
        self._entries[pipeline_id] = entry
        return entry

    def _retally(self, pipeline_id: str, history: list[DealState]) -> fc.HistoryTally:
        held = self._tallies.get(pipeline_id)
        if held is not None:
            known = held.deals
            # One pass: the deals whose state object is not the one tallied.
            changed = [deal for deal in history if known.get(deal.opportunity_id) is not deal]
            added = sum(1 for deal in changed if deal.opportunity_id not in known)
            removed = len(known) + added - len(history)
            if removed == 0 and len(changed) * 2 <= len(history):
                for deal in changed:
                    before = known.get(deal.opportunity_id)
                    if before is not None:
                        held.tally.add(before, -1)
                    held.tally.add(deal)
                    known[deal.opportunity_id] = deal
                return held.tally
        # A start, a reload of the deal cache, deals gone (eviction, a rebuild) or most of the
        # history new: tally afresh.
        tally = fc.HistoryTally()
        for deal in history:
            tally.add(deal)
        self._tallies[pipeline_id] = _Tallied(tally, {d.opportunity_id: d for d in history})
        return tally


async def forecast(
    pipeline_id: str,
    *,
    viewer: Identity,
    period_start: date,
    period_end: date,
    method: ForecastMethod,
    owner_id: str | None,
    read_model: ReadModel,
    cache: HistoryCache,
    now: datetime,
) -> fc.ForecastFigures:
    if period_end < period_start:
        raise BadUserInput("'periodEnd' must not be before 'periodStart'", field="periodEnd")
    owner = owner_scope(viewer, owner_id)
    stages = await read_model.stages(pipeline_id)
    if stages is None:
        return fc.ForecastFigures(method, {}, {}, {}, 0)
    visible = visibility(viewer)
    open_deals = [
        d
        for d in await read_model.deals(
            pipeline_id, open_only=True, fields=("amount", "expectedCloseDate")
        )
        if (owner is None or d.owner_id == owner) and (visible is None or visible(d))
    ]
    history = (
        await cache.get(pipeline_id, stages, read_model, now)
        if method is not ForecastMethod.WEIGHTED
        else None
    )
    return fc.forecast(
        method,
        stages=stages,
        open_deals=fc.open_deals_at(open_deals, None),
        period_start=period_start,
        period_end=period_end,
        as_of=now,
        chain=fc.estimate_chain(stages, history.stats, now) if history else None,
        win_rates=history.win_rates if history else None,
    )


async def forecast_backtest(
    pipeline_id: str,
    *,
    viewer: Identity,
    periods: int,
    period_days: int,
    events: EventStore,
    read_model: ReadModel,
    parse: Parse,
    today: date,
) -> list[fc.AccuracyFigures]:
    """Replays the pipeline's stored events into deal histories, then each past period."""
    if not 1 <= periods <= 24:
        raise BadUserInput("'periods' must be between 1 and 24", field="periods")
    if not 1 <= period_days <= 366:
        raise BadUserInput("'periodDays' must be between 1 and 366", field="periodDays")
    owner_scope(viewer, None)
    if not access.beyond_own(viewer, Kind.DEAL):
        raise Forbidden("a backtest covers every owner's deals: managers, admins and services")
    stages = await read_model.stages(pipeline_id)
    if stages is None:
        return []
    # Each deal's changes are kept as they are read back, so that every replayed moment uses
    # the amount and expected close date the deal had then, not today's.
    changes: dict[str, list[fc.FieldChange]] = {}

    def recording(envelope: Mapping[str, Any]) -> OpportunityChange | None:
        change = parse(envelope)
        if change is not None:
            changes.setdefault(change.opportunity_id, []).append(fc.FieldChange.of(change))
        return change

    deals = [state async for state in replay_states(events.replay(pipeline_id), recording)]
    deals = _only(deals, visibility(viewer))
    timelines = {deal.opportunity_id: fc.versions(changes[deal.opportunity_id]) for deal in deals}
    return fc.backtest(
        stages,
        deals,
        periods=periods,
        period_days=period_days,
        today=today,
        timelines=timelines,
    )


async def pipeline_as_of(
    pipeline_id: str,
    *,
    viewer: Identity,
    at: datetime,
    owner_id: str | None,
    read_model: ReadModel,
) -> list[reports.StageSnapshotFigures]:
    owner = owner_scope(viewer, owner_id)
    stages = await read_model.stages(pipeline_id)
    if stages is None:
        return []
    deals = _only(
        await read_model.deals(pipeline_id, created_before=at, fields=("stays",)),
        visibility(viewer),
    )
    if owner is not None:
        deals = [
            d for d in deals if (stay := d.stage_at(at)) is not None and stay.owner_id == owner
        ]
    return reports.pipeline_as_of(stages, deals, at)
