"""One GraphQL document asking every report of the hand-computed fixture (``handbook``), and the
checks of its answer: shared by the in-process test and the through-the-gateway test."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import handbook as hb
import pytest
from story import Story

REPORTS = """
query Handbook($p: ID!, $snapFrom: DateTime!, $snapTo: DateTime!, $wStart: Date!, $wEnd: Date!,
               $mStart: Date!, $mEnd: Date!, $at: DateTime!, $idle: Int!) {
  cohort: funnel(pipelineId: $p) { method won lost steps { stageId stageName entered advanced
      conversionRate cumulativeRate } }
  cohortRepB: funnel(pipelineId: $p, ownerId: "rep-b") { won lost steps { entered advanced
      conversionRate cumulativeRate } }
  snapshot: funnel(pipelineId: $p, method: SNAPSHOT, from: $snapFrom, to: $snapTo) { method won
      lost steps { entered advanced conversionRate cumulativeRate } }
  durations: stageDurations(pipelineId: $p) { stageName deals stays meanDays medianDays p90Days
      cumulativeMeanDays cumulativeMedianDays cumulativeP90Days currentDeals bottleneck }
  bottleneck: bottleneckStage(pipelineId: $p) { stageName }
  performance: salesPerformance(pipelineId: $p) {
    openDeals won lost winRate winRateByValue { currency rate } avgWonAmount { amount currency }
    avgCycleDays velocity { amount currency }
    owners { ownerId openDeals won lost winRate avgWonAmount { amount } avgCycleDays velocity {
        amount } }
  }
  weighted: forecast(pipelineId: $p, periodStart: $wStart, periodEnd: $wEnd, method: WEIGHTED) {
      method deals expected { amount currency } low { amount } high { amount } }
  historical: forecast(pipelineId: $p, periodStart: $wStart, periodEnd: $wEnd, method: HISTORICAL)
      { method deals expected { amount currency } }
  markov: forecast(pipelineId: $p, periodStart: $mStart, periodEnd: $mEnd) { method deals expected
      { amount currency } low { amount } high { amount } }
  backtest: forecastBacktest(pipelineId: $p, periods: 1, periodDays: 25) { method mape periods {
      periodStart periodEnd expected { amount } actual { amount } error } }
  asOf: pipelineAsOf(pipelineId: $p, at: $at) { stageName kind count amount { amount currency }
      weightedAmount { amount } }
  idle: idleDeals(pipelineId: $p, days: $idle) { opportunityId ownerId stageName }
}
"""


def variables(story: Story) -> dict[str, Any]:
    return {
        "p": story.pipeline_id,
        "snapFrom": hb.d(0).isoformat(),
        "snapTo": hb.d(5).isoformat(),
        "wStart": hb.WEIGHTED_PERIOD[0].isoformat(),
        "wEnd": hb.WEIGHTED_PERIOD[1].isoformat(),
        "mStart": hb.MARKOV_PERIOD[0].isoformat(),
        "mEnd": hb.MARKOV_PERIOD[1].isoformat(),
        "at": hb.AS_OF.isoformat(),
        "idle": hb.IDLE_DAYS,
    }


def settled(data: dict[str, Any] | None) -> bool:
    """Every event of the fixture applied (the last one is D4's win at d10)."""
    if not data:
        return False
    return (
        data["cohort"]["won"] == 2
        and data["performance"]["openDeals"] == 3
        and (data["cohort"]["steps"] and data["cohort"]["steps"][1]["entered"] == 5)
    )


def _steps(report: dict[str, Any]) -> list[tuple[int, int, float, float]]:
    return [
        (
            s["entered"],
            s["advanced"],
            pytest.approx(s["conversionRate"]),
            pytest.approx(s["cumulativeRate"]),
        )
        for s in report["steps"]
    ]


def check(
    data: dict[str, Any], story: Story, ids: dict[str, str], asked: tuple[datetime, datetime]
) -> None:
    """``asked``: when the request was sent and when its answer came, the bounds of the
    moment the MARKOV chain was estimated at (its exposure grows with time)."""
    assert data["cohort"]["method"] == "COHORT"
    assert [s["stageName"] for s in data["cohort"]["steps"]] == ["A", "B"]
    assert _steps(data["cohort"]) == hb.COHORT
    assert (data["cohort"]["won"], data["cohort"]["lost"]) == hb.COHORT_WON_LOST
    assert _steps(data["cohortRepB"]) == hb.COHORT_REP_B
    assert (data["cohortRepB"]["won"], data["cohortRepB"]["lost"]) == hb.COHORT_REP_B_WON_LOST
    assert data["snapshot"]["method"] == "SNAPSHOT"
    assert _steps(data["snapshot"]) == hb.SNAPSHOT
    assert (data["snapshot"]["won"], data["snapshot"]["lost"]) == hb.SNAPSHOT_WON_LOST

    a, b = data["durations"]
    assert (a["stageName"], a["deals"], a["stays"]) == ("A", 5, 6)
    assert (a["meanDays"], a["medianDays"], a["p90Days"]) == pytest.approx(hb.A_LATEST)
    assert (
        a["cumulativeMeanDays"],
        a["cumulativeMedianDays"],
        a["cumulativeP90Days"],
    ) == pytest.approx(hb.A_CUMULATIVE)
    assert (b["stageName"], b["deals"], b["stays"]) == ("B", 3, 4)
    assert (b["meanDays"], b["medianDays"], b["p90Days"]) == pytest.approx(hb.B_LATEST)
    assert (
        b["cumulativeMeanDays"],
        b["cumulativeMedianDays"],
        b["cumulativeP90Days"],
    ) == pytest.approx(hb.B_CUMULATIVE)
    assert (a["currentDeals"], b["currentDeals"]) == (1, 2)
    assert (a["bottleneck"], b["bottleneck"]) == (False, True)
    assert data["bottleneck"] == {"stageName": "B"}

    perf = data["performance"]
    expected = hb.PERFORMANCE
    assert (perf["won"], perf["lost"], perf["openDeals"]) == (
        expected["won"],
        expected["lost"],
        expected["open"],
    )
    assert perf["winRate"] == pytest.approx(expected["winRate"])
    assert perf["winRateByValue"] == [{"currency": "EUR", "rate": pytest.approx(0.5)}]
    assert perf["avgWonAmount"] == [{"amount": expected["avgWon"], "currency": "EUR"}]
    assert perf["avgCycleDays"] == pytest.approx(expected["cycle"])
    assert perf["velocity"] == [{"amount": expected["velocity"], "currency": "EUR"}]
    owners = {o["ownerId"]: o for o in perf["owners"]}
    for owner, (avg_won, cycle, open_deals, velocity) in hb.OWNERS.items():
        entry = owners[owner]
        assert (entry["won"], entry["lost"], entry["winRate"]) == (1, 1, pytest.approx(0.5))
        assert entry["avgWonAmount"] == [{"amount": avg_won}]
        assert entry["avgCycleDays"] == pytest.approx(cycle)
        assert entry["openDeals"] == open_deals
        assert entry["velocity"] == [{"amount": velocity}]

    weighted = data["weighted"]
    assert weighted["method"] == "WEIGHTED"
    assert weighted["deals"] == 2
    assert weighted["expected"] == [{"amount": hb.WEIGHTED_EXPECTED, "currency": "EUR"}]
    low, high = hb.interval(3700.0, hb.WEIGHTED_SD)
    assert weighted["low"] == [{"amount": low}]
    assert weighted["high"] == [{"amount": high}]
    assert data["historical"]["expected"] == [{"amount": hb.HISTORICAL_EXPECTED, "currency": "EUR"}]
    markov = data["markov"]
    assert markov["method"] == "MARKOV"
    assert markov["deals"] == 3
    assert [m["currency"] for m in markov["expected"]] == ["EUR"]
    # Each figure falls in its hand-derived range over the moments the forecast may have been
    # taken at (under 2 cents a minute: about 25 EUR a day), with a cent for the rounding.
    bounds = [hb.markov(moment) for moment in asked]
    figures = [
        (
            float(expected),
            *map(float, hb.interval(float(expected), math.sqrt(variance))),
        )
        for expected, variance in bounds
    ]
    answer = (
        float(markov["expected"][0]["amount"]),
        float(markov["low"][0]["amount"]),
        float(markov["high"][0]["amount"]),
    )
    for index, value in enumerate(answer):
        ends = [f[index] for f in figures]
        assert min(ends) - 0.011 <= value <= max(ends) + 0.011, (index, value, ends)
    assert 700 < answer[0] < 800  # 783 at midnight, 758 by the end of the day

    backtest = {r["method"]: r for r in data["backtest"]}
    assert set(backtest) == {"WEIGHTED", "HISTORICAL", "MARKOV"}
    for method, mape in hb.BACKTEST.items():
        assert backtest[method]["mape"] == pytest.approx(mape), method
        (period,) = backtest[method]["periods"]
        assert period["actual"] == [{"amount": "5000.00"}]
    assert backtest["WEIGHTED"]["periods"][0]["expected"] == [{"amount": "3500.00"}]

    as_of = {s["stageName"]: s for s in data["asOf"]}
    assert [s["stageName"] for s in data["asOf"]] == ["A", "B", "Won", "Lost"]
    for name, (count, amount, weighted_amount) in hb.AS_OF_FIGURES.items():
        entry = as_of[name]
        assert entry["count"] == count, name
        if amount is None:
            assert entry["amount"] == [], name
        else:
            assert entry["amount"] == [{"amount": amount, "currency": "EUR"}], name
            assert entry["weightedAmount"] == [{"amount": weighted_amount}], name

    assert [i["opportunityId"] for i in data["idle"]] == [ids["D6"], ids["D7"]]
