"""Pure unit tests of the funnel arithmetic (``analytics.domain.funnel``).

Expected figures are computed by hand in the comments; the pipeline is the default B2B one:
Initial contact (1), Needs analysis (2), Proposal (3), Negotiation (4), Won (5), Lost (6).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.domain.funnel import DealProgress, FunnelStep, cohort_funnel
from analytics.domain.model import DealStatus, Stage, StageKind

OPEN, WON, LOST = DealStatus.OPEN, DealStatus.WON, DealStatus.LOST

STAGES = [
    Stage("s1", "Initial contact", 1, StageKind.OPEN, 0.1),
    Stage("s2", "Needs analysis", 2, StageKind.OPEN, 0.2),
    Stage("s3", "Proposal", 3, StageKind.OPEN, 0.5),
    Stage("s4", "Negotiation", 4, StageKind.OPEN, 0.8),
    Stage("won", "Won", 5, StageKind.WON, 1.0),
    Stage("lost", "Lost", 6, StageKind.LOST, 0.0),
]


def figures(steps: tuple[FunnelStep, ...]) -> list[tuple[str, int, int]]:
    return [(step.stage_id, step.entered, step.advanced) for step in steps]


def test_no_deals_gives_one_zero_step_per_open_stage() -> None:
    result = cohort_funnel(STAGES, [])

    assert [s.stage_name for s in result.steps] == [
        "Initial contact",
        "Needs analysis",
        "Proposal",
        "Negotiation",
    ]
    assert figures(result.steps) == [("s1", 0, 0), ("s2", 0, 0), ("s3", 0, 0), ("s4", 0, 0)]
    assert all(s.conversion_rate == 0.0 and s.cumulative_rate == 0.0 for s in result.steps)
    assert (result.won, result.lost) == (0, 0)


def test_no_open_stages_gives_no_steps() -> None:
    result = cohort_funnel([s for s in STAGES if s.kind is not StageKind.OPEN], [])
    assert result.steps == ()


def test_a_skipped_stage_counts_as_passed() -> None:
    # Created in Initial contact, moved straight to Proposal: entered 1, 2, 3; advanced 1, 2.
    result = cohort_funnel(STAGES, [DealProgress(OPEN, max_open_order=3)])

    assert figures(result.steps) == [("s1", 1, 1), ("s2", 1, 1), ("s3", 1, 0), ("s4", 0, 0)]
    assert [s.conversion_rate for s in result.steps] == [1.0, 1.0, 0.0, 0.0]
    assert [s.cumulative_rate for s in result.steps] == [1.0, 1.0, 1.0, 0.0]


def test_a_deal_created_in_a_later_stage_passed_the_earlier_ones() -> None:
    result = cohort_funnel(STAGES, [DealProgress(OPEN, max_open_order=2)])
    assert figures(result.steps) == [("s1", 1, 1), ("s2", 1, 0), ("s3", 0, 0), ("s4", 0, 0)]


def test_a_won_deal_passed_every_open_stage() -> None:
    # Won from Needs analysis, and one created directly in Won: both pass all four stages.
    result = cohort_funnel(
        STAGES,
        [
            DealProgress(WON, max_open_order=2, reached_won=True),
            DealProgress(WON, max_open_order=None, reached_won=True),
        ],
    )

    assert figures(result.steps) == [("s1", 2, 2), ("s2", 2, 2), ("s3", 2, 2), ("s4", 2, 2)]
    assert all(s.conversion_rate == 1.0 and s.cumulative_rate == 1.0 for s in result.steps)
    assert (result.won, result.lost) == (2, 0)


def test_a_status_won_alone_is_enough() -> None:
    result = cohort_funnel(STAGES, [DealProgress(WON, max_open_order=1, reached_won=False)])
    assert figures(result.steps)[-1] == ("s4", 1, 1)


def test_a_reopened_won_deal_still_passed_every_stage() -> None:
    result = cohort_funnel(STAGES, [DealProgress(OPEN, max_open_order=2, reached_won=True)])
    assert figures(result.steps) == [("s1", 1, 1), ("s2", 1, 1), ("s3", 1, 1), ("s4", 1, 1)]
    assert (result.won, result.lost) == (0, 0)


def test_a_lost_deal_entered_up_to_its_highest_stage_and_advanced_before_it() -> None:
    # Lost from Proposal: entered 1, 2, 3; advanced 1, 2; not advanced from Proposal.
    result = cohort_funnel(STAGES, [DealProgress(LOST, max_open_order=3)])
    assert figures(result.steps) == [("s1", 1, 1), ("s2", 1, 1), ("s3", 1, 0), ("s4", 0, 0)]
    assert (result.won, result.lost) == (0, 1)


def test_a_deal_created_lost_enters_no_stage_but_counts_as_lost() -> None:
    result = cohort_funnel(STAGES, [DealProgress(LOST, max_open_order=None)])
    assert figures(result.steps) == [("s1", 0, 0), ("s2", 0, 0), ("s3", 0, 0), ("s4", 0, 0)]
    assert result.lost == 1


MIXED = [
    DealProgress(OPEN, max_open_order=1),  # d1: sits in Initial contact
    DealProgress(OPEN, max_open_order=2),  # d2: Needs analysis
    DealProgress(OPEN, max_open_order=4),  # d3: skipped Proposal into Negotiation
    DealProgress(WON, max_open_order=2, reached_won=True),  # d4: won from Needs analysis
    DealProgress(LOST, max_open_order=3),  # d5: lost from Proposal
    DealProgress(LOST, max_open_order=None),  # d6: created lost
    DealProgress(WON, max_open_order=None, reached_won=True),  # d7: created won
]


def test_mixed_cohort_by_hand() -> None:
    # s1: entered d1 d2 d3 d4 d5 d7 = 6, advanced d2 d3 d4 d5 d7 = 5
    # s2: entered d2 d3 d4 d5 d7 = 5, advanced d3 d4 d5 d7 = 4
    # s3: entered d3 d4 d5 d7 = 4, advanced d3 d4 d7 = 3
    # s4: entered d3 d4 d7 = 3, advanced d4 d7 = 2
    result = cohort_funnel(STAGES, MIXED)

    assert figures(result.steps) == [("s1", 6, 5), ("s2", 5, 4), ("s3", 4, 3), ("s4", 3, 2)]
    assert [s.conversion_rate for s in result.steps] == pytest.approx([5 / 6, 4 / 5, 3 / 4, 2 / 3])
    assert [s.cumulative_rate for s in result.steps] == pytest.approx([1.0, 5 / 6, 4 / 6, 3 / 6])
    assert (result.won, result.lost) == (2, 2)


def test_grouped_deals_count_like_single_ones() -> None:
    grouped = [
        DealProgress(OPEN, max_open_order=2, count=3),
        DealProgress(WON, max_open_order=4, reached_won=True, count=2),
    ]
    single = [DealProgress(OPEN, max_open_order=2)] * 3 + [
        DealProgress(WON, max_open_order=4, reached_won=True)
    ] * 2
    assert cohort_funnel(STAGES, grouped) == cohort_funnel(STAGES, single)
    assert figures(cohort_funnel(STAGES, grouped).steps) == [
        ("s1", 5, 5),
        ("s2", 5, 2),
        ("s3", 2, 2),
        ("s4", 2, 2),
    ]


def test_steps_follow_stage_order_not_input_order_and_orders_may_have_gaps() -> None:
    stages = [
        Stage("c", "Third", 30, StageKind.OPEN, 0.5),
        Stage("w", "Won", 40, StageKind.WON, 1.0),
        Stage("a", "First", 10, StageKind.OPEN, 0.1),
        Stage("b", "Second", 20, StageKind.OPEN, 0.2),
    ]
    # A deal that reached order 25 (a stage since removed) passed First and Second.
    result = cohort_funnel(stages, [DealProgress(OPEN, max_open_order=25)])
    assert figures(result.steps) == [("a", 1, 1), ("b", 1, 1), ("c", 0, 0)]


deal_strategy = st.builds(
    DealProgress,
    status=st.sampled_from(list(DealStatus)),
    max_open_order=st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
    reached_won=st.booleans(),
    count=st.integers(min_value=1, max_value=5),
)


@given(st.lists(deal_strategy, max_size=30))
def test_funnel_invariants(deals: list[DealProgress]) -> None:
    result = cohort_funnel(STAGES, deals)
    steps = result.steps
    for step in steps:
        assert 0 <= step.advanced <= step.entered
        assert 0.0 <= step.conversion_rate <= 1.0
        assert 0.0 <= step.cumulative_rate <= 1.0
    # Stage orders are contiguous here: advancing from one stage is entering the next.
    for current, following in itertools.pairwise(steps):
        assert current.advanced == following.entered
    assert steps[0].entered == sum(
        d.count for d in deals if d.max_open_order is not None or d.passed_every_open_stage
    )
    assert result.won == sum(d.count for d in deals if d.status is WON)
    assert result.lost == sum(d.count for d in deals if d.status is LOST)
