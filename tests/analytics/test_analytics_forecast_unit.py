"""Forecast estimation details, in process: the MARKOV chain's exposure (censored stays), and
the backtest replaying each deal as it was at the replayed moment."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time, timedelta
from typing import Any

import handbook as hb
import pytest
from story import Story, stage
from test_analytics_handbook_unit import context, deliver, run

from analytics.adapters.memory import MemoryDeals, MemoryEventStore
from analytics.domain import forecast as fc
from analytics.domain.deal import DealState
from analytics.domain.model import Stage, StageKind
from analytics.entrypoints.messages import to_change
from analytics.service_layer import services

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _folded(story: Story) -> list[DealState]:
    states: dict[str, DealState] = {}
    for event in story.events:
        change = to_change(event)
        assert change is not None
        states.setdefault(change.opportunity_id, DealState(change.opportunity_id)).apply(change)
    return list(states.values())


def test_markov_counts_the_days_of_deals_still_in_a_stage() -> None:
    # Two deals enter A at T0: one is won after 1 day, the other is still in A at T0 + 10.
    # Deal-days in A by then: 1 + 10 = 11, one exit to WON: P[A, WON] = 1/11 a day (completed
    # stays alone would give 1/1: every deal won the next day).
    story = Story(stages=[stage("a", "A", 1, "OPEN", 0.3), stage("w", "Won", 2, "WON", 1.0)])
    won = story.create(T0, stage="A")
    story.create(T0, stage="A")
    story.move(won, "Won", T0 + timedelta(days=1))
    deals = _folded(story)
    stages = [Stage("a", "A", 1, StageKind.OPEN, 0.3), Stage("w", "Won", 2, StageKind.WON, 1.0)]
    at = T0 + timedelta(days=10)
    chain = fc.estimate_chain(stages, fc.transition_stats(deals, at))
    a, won_state = chain.states.index("a"), chain.states.index(fc.WON)
    assert chain.matrix[a][won_state] == pytest.approx(1 / 11)
    assert chain.matrix[a][a] == pytest.approx(10 / 11)
    # Statistics taken without a moment (as the API caches them) give the same chain once
    # estimated at that moment, and a later moment lowers the rate: 1/(1 + 20) at T0 + 20.
    cached = fc.transition_stats(deals, None)
    again = fc.estimate_chain(stages, cached, at).matrix
    assert [pytest.approx(row) for row in chain.matrix] == again
    later = fc.estimate_chain(stages, cached, T0 + timedelta(days=20))
    assert later.matrix[a][won_state] == pytest.approx(1 / 21)
    # As of T0 + 0.5 nobody has left A yet: the stage keeps its deals.
    early = fc.estimate_chain(stages, fc.transition_stats(deals, T0 + timedelta(hours=12)))
    assert early.matrix[a][a] == 1.0


class _ChangingDeals:
    """A read model whose deal states are replaced (never mutated) as events apply, as the
    API's deal cache does: what ``HistoryCache`` relies on to re-tally only changed deals."""

    def __init__(self) -> None:
        self.states: dict[str, DealState] = {}
        self.changes = 0

    def apply(self, event: Any) -> None:
        change = to_change(event)
        assert change is not None
        state = copy.deepcopy(self.states.get(change.opportunity_id)) or DealState(
            change.opportunity_id
        )
        state.apply(change)
        self.states[change.opportunity_id] = state
        self.changes += 1

    async def change_count(self, pipeline_id: str) -> int:
        return self.changes

    async def deals(self, pipeline_id: str, **_: Any) -> list[DealState]:
        return list(self.states.values())


async def test_the_history_tally_follows_changed_deals_exactly() -> None:
    # The handbook's events one at a time (re-entries, a transfer, wins and losses): after
    # each, the cache's incrementally kept statistics equal those of the whole history read
    # afresh, and match the independent as-of computation and win rates.
    story, _ = hb.build(prefix="tally-")
    stages = [
        Stage(s["id"], s["name"], s["order"], StageKind(s["kind"]), s["probability"])
        for s in story.stages
    ]
    model = _ChangingDeals()
    cache = services.HistoryCache()
    far = datetime(2100, 1, 1, tzinfo=UTC)
    for event in sorted(story.events, key=lambda e: (e.time, e.sequence or 0)):
        model.apply(event)
        deals = list(model.states.values())
        got = await cache.get(story.pipeline_id, stages, model, far)  # type: ignore[arg-type]
        fresh = fc.HistoryTally()
        for deal in deals:
            fresh.add(deal)
        assert got.stats == fresh.stats()
        assert got.win_rates == pytest.approx(fc.historical_win_rates(deals, None))
        independent = fc.estimate_chain(stages, fc.transition_stats(deals, far)).matrix
        cached = fc.estimate_chain(stages, got.stats, far).matrix
        assert [pytest.approx(row) for row in independent] == cached


BACKTEST = """
query($p: ID!) { forecastBacktest(pipelineId: $p, periods: 1, periodDays: 20) {
  method mape periods { periodStart periodEnd expected { amount } actual { amount } error } } }
"""


async def test_the_backtest_uses_each_deal_as_it_was_at_the_replayed_moment() -> None:
    # One period of 20 days, [today-20, today-1], forecast as of C = today-20 at 00:00.
    today = hb.TODAY
    cut = datetime.combine(today - timedelta(days=20), time(), tzinfo=UTC)
    story = Story(
        stages=[
            stage("A", "A", 1, "OPEN", 0.2),
            stage("B", "B", 2, "OPEN", 0.5),
            stage("W", "Won", 3, "WON", 1.0),
            stage("L", "Lost", 4, "LOST", 0.0),
        ]
    )
    for s in story.stages:
        s["id"] = f"{story.pipeline_id}-{s['id']}"
    # X: in B, 1000, expected to close at today-10 (in the period) as of C. After C its close
    # date moves to today+30 and its amount to 3000; it is won at C + 5 for 3000.
    x = story.create(
        cut - timedelta(days=5),
        stage="B",
        amount="1000.00",
        expected_close=(today - timedelta(days=10)).isoformat(),
    )
    story.update(
        x,
        cut + timedelta(days=2),
        amount="3000.00",
        expected_close=(today + timedelta(days=30)).isoformat(),
    )
    story.move(x, "Won", cut + timedelta(days=5))
    # Z: in A, 2000, expected at today+40 (outside) as of C; moved into the period after C.
    z = story.create(
        cut - timedelta(days=3),
        stage="A",
        amount="2000.00",
        expected_close=(today + timedelta(days=40)).isoformat(),
    )
    story.update(z, cut + timedelta(days=1), expected_close=(today - timedelta(days=5)).isoformat())
    store, deals = MemoryEventStore(), MemoryDeals()
    await deliver(story.events, store, deals)
    data = await run(BACKTEST, context(store, deals), {"p": story.pipeline_id})
    results = {r["method"]: r for r in data["forecastBacktest"]}
    (weighted,) = results["WEIGHTED"]["periods"]
    assert weighted["periodStart"] == (today - timedelta(days=20)).isoformat()
    # As of C only X was expected in the period, for 1000: 0.5 x 1000 = 500 (today's values
    # would give Z only: 0.2 x 2000 = 400). Won in the period: X for 3000, its amount then.
    assert weighted["expected"] == [{"amount": "500.00"}]
    assert weighted["actual"] == [{"amount": "3000.00"}]
    assert weighted["error"] == pytest.approx(2500 / 3000)
    # HISTORICAL: no deal had closed by C, so B's configured 0.5: the same 500.
    assert results["HISTORICAL"]["periods"][0]["expected"] == [{"amount": "500.00"}]
    # MARKOV: nobody had left a stage by C (every deal keeps its stage): nothing expected.
    assert results["MARKOV"]["periods"][0]["expected"] == [{"amount": "0.00"}]
    assert results["MARKOV"]["mape"] == pytest.approx(1.0)


def test_versions_follow_the_sequence_and_keep_what_an_event_does_not_carry() -> None:
    story = Story()
    deal = story.create(T0, amount="100.00", expected_close="2026-04-01")
    story.update(deal, T0 + timedelta(days=1), amount="250.00")
    story.update(deal, T0 + timedelta(days=2), expected_close="2026-05-01")
    changes = [to_change(e) for e in story.events]
    slim = [fc.FieldChange.of(c) for c in changes if c is not None]
    timeline = fc.versions([*reversed(slim), slim[0]])  # any order, duplicates ignored
    assert [(str(v.amount), v.expected_close_date) for v in timeline] == [
        ("100.00", "2026-04-01"),
        ("250.00", "2026-04-01"),
        ("250.00", "2026-05-01"),
    ]
    then = fc.version_at(timeline, T0 + timedelta(hours=36))
    assert then is not None
    assert (str(then.amount), then.expected_close_date) == ("250.00", "2026-04-01")
    assert fc.version_at(timeline, T0 - timedelta(seconds=1)) is None
