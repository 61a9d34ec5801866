"""Property tests (hypothesis) on the pure domain and the service layer with in-memory adapters:
any delivery order with duplicates gives the same states and reports, rebuild equals live, and
the report invariants hold (rates in [0, 1], cumulative rates never increase)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from story import Story

from analytics.adapters.memory import MemoryDeals, MemoryEventStore
from analytics.adapters.mongo.documents import deal_document
from analytics.domain import forecast as fc
from analytics.domain import reports
from analytics.domain.deal import DealState
from analytics.domain.funnel import DealProgress, FunnelFigures, cohort_funnel
from analytics.domain.model import ForecastMethod, Stage, StageKind
from analytics.entrypoints.messages import stored_change, to_change
from analytics.service_layer import services
from crm_common.events import CloudEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STAGE_NAMES = ["Initial contact", "Needs analysis", "Proposal", "Negotiation", "Won", "Lost"]
OWNERS = ["rep-1", "rep-2", "rep-3"]

action = st.one_of(
    st.tuples(st.just("move"), st.sampled_from(STAGE_NAMES), st.integers(1, 240)),
    st.tuples(st.just("owner"), st.sampled_from(OWNERS), st.integers(1, 240)),
)
deal_plan = st.tuples(
    st.sampled_from(STAGE_NAMES[:4]),
    st.sampled_from(OWNERS),
    st.integers(0, 500),
    st.lists(action, max_size=7),
)


def build(plans: list[tuple[str, str, int, list[tuple[str, str, int]]]]) -> Story:
    story = Story()
    for start_stage, owner, start_hours, actions in plans:
        at = T0 + timedelta(hours=start_hours)
        opportunity = story.create(at, stage=start_stage, owner=owner, amount="1500.00")
        for kind, value, hours in actions:
            at += timedelta(hours=hours)
            if kind == "move":
                if story.deals[opportunity].stage["name"] != value:
                    story.move(opportunity, value, at)
            elif story.deals[opportunity].owner != value:
                story.update(opportunity, at, owner=value)
    return story


async def live(events: list[CloudEvent], batch: int = 1) -> tuple[MemoryEventStore, MemoryDeals]:
    """The worker's path: one event at a time (``record_event``), or in batches as the group
    commit does (``record_batch``)."""
    store, deals = MemoryEventStore(), MemoryDeals()
    if batch > 1:
        for start in range(0, len(events), batch):
            results = await services.record_batch(
                [
                    services.Incoming(e.id, e.model_dump(exclude_none=True), to_change(e))
                    for e in events[start : start + batch]
                ],
                events=store,
                deals=deals,
                parse=stored_change,
                now=T0,
            )
            assert not any(isinstance(r, Exception) for r in results)
        return store, deals
    for event in events:
        await services.record_event(
            event.id,
            event.model_dump(exclude_none=True),
            to_change(event),
            events=store,
            deals=deals,
            parse=stored_change,
            now=T0,
        )
    return store, deals


def comparable(state: DealState) -> dict[str, Any]:
    document = deal_document(state, 1)
    for key in ("rev", "held", "heldSince"):
        document.pop(key, None)
    return document


def states(deals: MemoryDeals) -> dict[str, dict[str, Any]]:
    return {key: comparable(state) for key, (state, _) in deals.states.items()}


async def rebuilt(store: MemoryEventStore) -> dict[str, dict[str, Any]]:
    return {
        state.opportunity_id: comparable(state)
        async for state in services.replay_states(store.replay(), stored_change)
    }


def stages_of(story: Story) -> list[Stage]:
    return [
        Stage(s["id"], s["name"], s["order"], StageKind(s["kind"]), s["probability"])
        for s in story.stages
    ]


def check_funnel(figures: FunnelFigures) -> None:
    previous = 1.0
    for step in figures.steps:
        assert 0 <= step.advanced <= step.entered
        assert 0.0 <= step.conversion_rate <= 1.0
        assert 0.0 <= step.cumulative_rate <= 1.0
        assert step.cumulative_rate <= previous + 1e-12
        previous = step.cumulative_rate
    assert figures.won >= 0
    assert figures.lost >= 0


PLANS = st.lists(deal_plan, min_size=1, max_size=5)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(plans=PLANS, seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([1, 3, 50]))
def test_any_order_with_duplicates_gives_the_same_states_and_rebuild_equals_live(
    plans: list[Any], seed: int, batch: int
) -> None:
    story = build(plans)
    shuffler = random.Random(seed)
    scrambled = story.events + shuffler.sample(story.events, len(story.events) // 3)
    shuffler.shuffle(scrambled)

    async def scenario() -> None:
        _, in_order = await live(story.events)
        store, deals = await live(scrambled, batch)
        assert not any(state.held for state, _ in deals.states.values())
        assert states(deals) == states(in_order)
        assert await rebuilt(store) == states(deals)

    asyncio.run(scenario())


@SETTINGS
@given(plans=PLANS, window=st.tuples(st.integers(0, 800), st.integers(1, 800)))
def test_report_invariants(plans: list[Any], window: tuple[int, int]) -> None:
    story = build(plans)
    stages = stages_of(story)
    start = T0 + timedelta(hours=window[0])
    end = start + timedelta(hours=window[1])

    async def scenario() -> list[DealState]:
        _, deals = await live(story.events)
        return [state for state, _ in deals.states.values()]

    deals = asyncio.run(scenario())
    groups = [DealProgress(d.status, d.max_open_order, d.reached_won) for d in deals if d.status]
    by_groups = cohort_funnel(stages, groups)
    by_credits = reports.cohort_by_credits(stages, deals, None)
    assert [(s.entered, s.advanced) for s in by_groups.steps] == [
        (s.entered, s.advanced) for s in by_credits.steps
    ]
    assert [s.cumulative_rate for s in by_groups.steps] == [
        pytest_approx(s.cumulative_rate) for s in by_credits.steps
    ]
    check_funnel(by_groups)
    for owner in (None, *OWNERS):
        check_funnel(reports.cohort_by_credits(stages, deals, owner))
        check_funnel(reports.snapshot_funnel(stages, deals, start, end, owner))
        check_funnel(reports.snapshot_funnel(stages, deals, None, None, owner))
    per_owner = [reports.cohort_by_credits(stages, deals, o) for o in OWNERS]
    for index, step in enumerate(by_credits.steps):
        assert sum(f.steps[index].entered for f in per_owner) <= step.entered
    performance = reports.sales_performance(deals, None, None, None)
    assert 0.0 <= performance.win_rate <= 1.0
    assert all(0.0 <= rate <= 1.0 for rate in performance.win_rate_by_value.values())
    for method in ForecastMethod:
        figures = fc.forecast(
            method,
            stages=stages,
            open_deals=fc.open_deals_at(deals, None),
            period_start=date(2026, 1, 10),
            period_end=date(2026, 3, 31),
            as_of=T0 + timedelta(days=9),
            history=deals,
        )
        for currency, expected in figures.expected.items():
            assert 0 <= figures.low[currency] <= expected + 1
            assert expected <= figures.high[currency] + 1
    chain = fc.estimate_chain(stages, fc.transition_stats(deals, None))
    for row in chain.matrix:
        assert all(-1e-12 <= p <= 1 + 1e-12 for p in row)
        assert abs(sum(row) - 1.0) < 1e-9
    for duration in reports.stage_durations(stages, deals, None, None, None, T0):
        for stats in (duration.latest, duration.cumulative):
            assert 0 <= stats.median <= stats.p90 + 1e-9
        assert duration.latest.mean <= duration.cumulative.mean + 1e-9


def pytest_approx(value: float) -> Any:
    return pytest.approx(value)


def test_a_gap_is_held_then_resolved_and_times_out_by_policy() -> None:
    story = Story()
    opportunity = story.create(T0, owner="rep-1")
    story.move(opportunity, "Needs analysis", T0 + timedelta(days=1))
    story.move(opportunity, "Proposal", T0 + timedelta(days=2))
    first, second, third = story.events

    async def scenario() -> None:
        store, deals = await live([first, third])
        state, _ = deals.states[opportunity]
        assert state.last_sequence == 1
        assert state.held == [3]
        assert state.stage is not None
        assert state.stage.name == "Initial contact"
        # The gap fills: both are applied, in order.
        await live_into(store, deals, [second])
        state, _ = deals.states[opportunity]
        assert state.last_sequence == 3
        assert not state.held
        assert [s.stage_name for s in state.stays] == [
            "Initial contact",
            "Needs analysis",
            "Proposal",
        ]
        # A gap that never fills is skipped after the timeout, held events applied in order.
        store2, deals2 = await live([first, third])
        released = await services.release_gaps(
            older_than=T0 + timedelta(seconds=1),
            events=store2,
            deals=deals2,
            parse=stored_change,
        )
        assert released == 1
        state, _ = deals2.states[opportunity]
        assert (state.last_sequence, state.gaps_skipped, state.held) == (3, 1, [])
        assert state.stage is not None
        assert state.stage.name == "Proposal"
        # The late event is folded in (the deal re-folded from its stored events): the live
        # state is the one of the events in order, and the rebuild agrees.
        await live_into(store2, deals2, [second])
        late, _ = deals2.states[opportunity]
        assert (late.last_sequence, late.gaps_skipped) == (3, 0)
        assert [s.stage_name for s in late.stays] == [
            "Initial contact",
            "Needs analysis",
            "Proposal",
        ]
        assert states(deals2)[opportunity] == states(deals)[opportunity]
        assert (await rebuilt(store2))[opportunity] == states(deals)[opportunity]
        # A redelivery of it changes nothing more.
        await live_into(store2, deals2, [second])
        assert states(deals2)[opportunity] == states(deals)[opportunity]
        # The worker's batched path folds a late event in the same way.
        store3, deals3 = await live([first, third], batch=2)
        await services.release_gaps(
            older_than=T0 + timedelta(seconds=1), events=store3, deals=deals3, parse=stored_change
        )
        results = await services.record_batch(
            [services.Incoming(second.id, second.model_dump(exclude_none=True), to_change(second))],
            events=store3,
            deals=deals3,
            parse=stored_change,
            now=T0,
        )
        assert results == [[to_change(second)]]
        assert states(deals3)[opportunity] == states(deals)[opportunity]

    asyncio.run(scenario())


async def live_into(store: MemoryEventStore, deals: MemoryDeals, events: list[CloudEvent]) -> None:
    for event in events:
        await services.record_event(
            event.id,
            event.model_dump(exclude_none=True),
            to_change(event),
            events=store,
            deals=deals,
            parse=stored_change,
            now=T0,
        )
