"""The hand-computed fixture: seven deals on a two-stage pipeline, and every figure worked out
by hand (in the comments) for the unit and the through-the-gateway tests.

Stages: A (order 1, p 0.2), B (order 2, p 0.5), WON, LOST. T = today 00:00 UTC - 30 days;
``d(x)`` = T + x days. Amounts in EUR.

    D1 rep-a 1000: A d0 -> B d2 -> WON d6
    D2 rep-a 2000: A d0 -> B d4 -> LOST d8
    D3 rep-b 3000: A d1 -> LOST d3
    D4 rep-b 4000: A d1 -> B d2 -> A d3 (back) -> B d5 -> WON d10       (re-enters A and B)
    D5 rep-a 5000: A d2; transferred to rep-b at d7; -> B d9 (by rep-b); open, closes today+10
    D6 rep-b 6000: A d3; open, expected to close today+10
    D7 rep-a 7000: created in B at d4 (skips A); open, expected to close today+60
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from story import Story, stage

TODAY = datetime.now(UTC).date()
T = datetime.combine(TODAY - timedelta(days=30), time(), tzinfo=UTC)


def d(days: float) -> datetime:
    return T + timedelta(days=days)


def build(prefix: str = "") -> tuple[Story, dict[str, str]]:
    story = Story(
        stages=[
            stage("A", "A", 1, "OPEN", 0.2),
            stage("B", "B", 2, "OPEN", 0.5),
            stage("W", "Won", 3, "WON", 1.0),
            stage("L", "Lost", 4, "LOST", 0.0),
        ],
        prefix=prefix,
    )
    # Stage ids unique per story, so that stories never share stage documents.
    for s in story.stages:
        s["id"] = f"{story.pipeline_id}-{s['id']}"
    later = (TODAY + timedelta(days=10)).isoformat()
    much_later = (TODAY + timedelta(days=60)).isoformat()
    ids: dict[str, str] = {}
    ids["D1"] = story.create(d(0), stage="A", owner="rep-a", amount="1000.00")
    ids["D2"] = story.create(d(0), stage="A", owner="rep-a", amount="2000.00")
    ids["D3"] = story.create(d(1), stage="A", owner="rep-b", amount="3000.00")
    ids["D4"] = story.create(d(1), stage="A", owner="rep-b", amount="4000.00")
    ids["D5"] = story.create(d(2), stage="A", owner="rep-a", amount="5000.00", expected_close=later)
    story.move(ids["D1"], "B", d(2))
    story.move(ids["D4"], "B", d(2))
    ids["D6"] = story.create(d(3), stage="A", owner="rep-b", amount="6000.00", expected_close=later)
    story.move(ids["D3"], "Lost", d(3))
    story.move(ids["D4"], "A", d(3))
    story.move(ids["D2"], "B", d(4))
    ids["D7"] = story.create(
        d(4), stage="B", owner="rep-a", amount="7000.00", expected_close=much_later
    )
    story.move(ids["D4"], "B", d(5))
    story.move(ids["D1"], "Won", d(6))
    story.update(ids["D5"], d(7), owner="rep-b")
    story.move(ids["D2"], "Lost", d(8))
    story.move(ids["D5"], "B", d(9))
    story.move(ids["D4"], "Won", d(10))
    return story, ids


def sid(story: Story, name: str) -> str:
    return f"{story.pipeline_id}-{name}"


# -- funnels ------------------------------------------------------------------------------------
# COHORT, all owners: A entered by all 7 (D7 skipped it: passed), advanced by D1 D2 D4 D5 D7 = 5;
# B entered by D1 D2 D4 D5 D7 = 5, advanced (won) by D1 D4 = 2. won D1 D4, lost D2 D3.
COHORT = [(7, 5, 5 / 7, 1.0), (5, 2, 2 / 5, 5 / 7)]
COHORT_WON_LOST = (2, 2)
# COHORT, rep-b (credit = owner when the deal passed the stage, else at its exit / now):
# A: D3 (lost by rep-b), D4, D5 (moved on by rep-b after the transfer), D6 -> 4, advanced D4 D5;
# B: D4 (won), D5 (there now) -> 2, advanced D4. Cumulative: 1, then 1 x 2/4.
COHORT_REP_B = [(4, 2, 0.5, 1.0), (2, 1, 0.5, 0.5)]
COHORT_REP_B_WON_LOST = (1, 1)
# SNAPSHOT over [d0, d5): exits of A: D1 (d2, on), D4 (d2, on), D3 (d3, lost), D2 (d4, on),
# D7 (d4, created in B: passed A) -> 5 entered, 4 advanced; exits of B: D4 (d3, back) -> 1, 0.
# Cumulative: 1, then 4/5. Wins in the window 0, losses 1 (D3).
SNAPSHOT = [(5, 4, 0.8, 1.0), (1, 0, 0.0, 0.8)]
SNAPSHOT_WON_LOST = (0, 1)

# -- time in stage (days) ---------------------------------------------------------------------
# A, completed stays: D1 2, D2 4, D3 2, D4 1 then 2 (re-entry), D5 7 -> latest [2,4,2,2,7],
# cumulative [2,4,2,3,7]; p90 by linear interpolation at rank 0.9 x 4 = 3.6.
A_LATEST = (17 / 5, 2.0, 4 + 0.6 * 3)
A_CUMULATIVE = (18 / 5, 3.0, 4 + 0.6 * 3)
# B: D1 4, D2 4, D4 1 then 5 -> latest [4,4,5], cumulative [4,4,6]; rank 0.9 x 2 = 1.8.
B_LATEST = (13 / 3, 4.0, 4 + 0.8 * 1)
B_CUMULATIVE = (14 / 3, 4.0, 4 + 0.8 * 2)
# Bottleneck: the longest median latest stay: B (4 > 2).

# -- performance ------------------------------------------------------------------------------
# won D1 1000 + D4 4000, lost D2 2000 + D3 3000: win rate 0.5 by count and by value; average
# won 2500; cycles D1 6 days, D4 9 days -> 7.5; open D5 D6 D7 = 3;
# velocity = 3 x 0.5 x 2500 / 7.5 = 500 per day.
PERFORMANCE = {
    "won": 2,
    "lost": 2,
    "winRate": 0.5,
    "avgWon": "2500.00",
    "cycle": 7.5,
    "open": 3,
    "velocity": "500.00",
}
# rep-a closed D1 (won 1000, cycle 6) and D2 (lost), has D7 open: 1 x 0.5 x 1000 / 6 = 83.33;
# rep-b closed D4 (won 4000, cycle 9) and D3, has D5 D6 open: 2 x 0.5 x 4000 / 9 = 444.44.
OWNERS = {"rep-a": ("1000.00", 6.0, 1, "83.33"), "rep-b": ("4000.00", 9.0, 2, "444.44")}

# -- forecasts --------------------------------------------------------------------------------
WEIGHTED_PERIOD = (TODAY, TODAY + timedelta(days=29))
# D5 (B, 5000) and D6 (A, 6000) close in the period, D7 does not:
# expected 0.5 x 5000 + 0.2 x 6000 = 3700; variance 0.25 x 5000^2 + 0.16 x 6000^2.
WEIGHTED_EXPECTED = "3700.00"
WEIGHTED_SD = math.sqrt(0.25 * 5000**2 + 0.16 * 6000**2)
# HISTORICAL: closed deals ever in A: D1 D4 won, D2 D3 lost -> 1/2; in B: D1 D4 won, D2 lost ->
# 2/3. Expected 2/3 x 5000 + 1/2 x 6000 = 6333.33.
HISTORICAL_EXPECTED = "6333.33"
# MARKOV, estimated with exposure as of the forecast moment N = today 00:00 + h days, h the
# time of day of the request (0 <= h < 1): N = d(30 + h).
# A: exits A->B 5 (D1 D2 D4 D4 D5), A->LOST 1 (D3). Deal-days in A: the completed stays
#    2+4+2+1+2+7 = 18, plus D6, still in A since d3: 30 + h - 3 = 27 + h.  E_A = 45 + h.
# B: exits B->WON 2 (D1 D4), B->LOST 1 (D2), B->A 1 (D4). Deal-days in B: the completed stays
#    4+4+1+5 = 14, plus D5 in B since d9 (21 + h) and D7 since d4 (26 + h).  E_B = 61 + 2h.
# Daily chain (states A, B, WON, LOST):
#     A: [(39+h)/(45+h), 5/(45+h), 0, 1/(45+h)]
#     B: [1/(61+2h), (57+2h)/(61+2h), 2/(61+2h), 1/(61+2h)]
# Period [today, today + 1]: its end (today + 2 at 00:00) is 2 - h days away, 2 whole steps;
# its start is not ahead (0 steps). So p = (P^2)[stage, WON], two steps that end in WON:
#     from A: A->B then B->WON (A has no direct exit to WON)
#             = 5/(45+h) x 2/(61+2h)                          = 10 / ((45+h)(61+2h))
#     from B: B->B then B->WON, or B->WON then stay WON
#             = (57+2h)/(61+2h) x 2/(61+2h) + 2/(61+2h)        = 2(118+4h) / (61+2h)^2
# At h = 0: 10/2745 = 2/549 from A and 236/3721 from B, where completed stays alone (E_A = 18,
# E_B = 14) gave 5/126 and 12/49: 11 and 4 times as much, as the slow open deals were ignored.
# Open deals: D5 (B 5000), D7 (B 7000), D6 (A 6000):
#     expected = p_B x (5000 + 7000) + p_A x 6000        (about 783 EUR at h = 0)
#     variance = p_B(1-p_B)(5000^2 + 7000^2) + p_A(1-p_A) x 6000^2
MARKOV_PERIOD = (TODAY, TODAY + timedelta(days=1))


def markov(at: datetime) -> tuple[Fraction, float]:
    """The hand-derived MARKOV expected amount and variance for a forecast taken at ``at``."""
    h = Fraction((at - datetime.combine(TODAY, time(), tzinfo=UTC)).total_seconds()) / 86400
    p_a = Fraction(10) / ((45 + h) * (61 + 2 * h))
    p_b = 2 * (118 + 4 * h) / (61 + 2 * h) ** 2
    expected = p_b * 12000 + p_a * 6000
    variance = float(p_b * (1 - p_b) * (5000**2 + 7000**2) + p_a * (1 - p_a) * 6000**2)
    return expected, variance


def money(amount: float | Fraction) -> str:
    return f"{float(amount):.2f}"


def interval(expected: float, sd: float) -> tuple[str, str]:
    return money(max(0.0, expected - 1.96 * sd)), money(expected + 1.96 * sd)


# -- backtest ---------------------------------------------------------------------------------
# One period of 25 days: [today-25, today-1] = [d5, d29], forecast as of d5 00:00. Open then:
# D1 (B), D2 (B), D4 (B, entered at d5), D5 (A), D6 (A), D7 (B). Won in it: D1 + D4 = 5000.
# WEIGHTED: D5 D6 D7 are expected outside the period; D1 D2 D4 (no date) x 0.5 = 3500 -> 0.3.
# HISTORICAL: B has no closed history by d5 -> its configured 0.5 -> 3500 -> 0.3.
# MARKOV, estimated with exposure as of d5 (stays entered from d5 on do not count yet): the
# exits by then are A->B 4 (D1 D2 D4 D4, the last at d5), A->LOST 1 (D3) and B->A 1 (D4);
# deal-days E_A = 2+4+2+1+2 + D5 3 + D6 2 = 16, E_B = D4 1 + D1 3 + D2 1 + D7 1 = 6. Nobody
# had left B for WON: P[B,WON] = 0 and WON is unreachable, 0 -> error 1.0.
BACKTEST = {"WEIGHTED": 0.3, "HISTORICAL": 0.3, "MARKOV": 1.0}

# -- time travel ------------------------------------------------------------------------------
# At d3.5: D1 in B; D2, D4 (back), D5, D6 in A; D3 lost; D7 not yet created.
AS_OF = d(3.5)
AS_OF_FIGURES = {
    "A": (4, "17000.00", "3400.00"),
    "B": (1, "1000.00", "500.00"),
    "Won": (0, None, None),
    "Lost": (1, "3000.00", "0.00"),
}

# -- idle -------------------------------------------------------------------------------------
# Last activity: D5 d9 (21 days ago), D6 d3 (27), D7 d4 (26): idle over 22 days: D6, D7.
IDLE_DAYS = 22


def steps(report: dict[str, Any]) -> list[tuple[int, int, float, float]]:
    return [
        (s["entered"], s["advanced"], s["conversionRate"], s["cumulativeRate"])
        for s in report["steps"]
    ]


def today() -> date:
    return TODAY
