"""Pure domain rules: money, ranks, pipelines and stages, the opportunity aggregate, and the
CloudEvents built from its events (validated against contracts/)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pipeline_testkit import Contracts

from pipeline.adapters.outbox import to_cloud_event
from pipeline.domain.errors import (
    DomainError,
    InvalidMoney,
    InvalidOpportunity,
    InvalidPipeline,
    InvalidPosition,
    InvalidStage,
    OpportunityClosed,
)
from pipeline.domain.events import OpportunityCreated, StageChanged
from pipeline.domain.model import (
    Opportunity,
    OpportunityChanges,
    OpportunityStatus,
    Pipeline,
    Priority,
    Stage,
    StageKind,
    StageSpec,
    default_pipeline,
)
from pipeline.domain.money import ISO_4217_CODES, Money, totals_by_currency
from pipeline.domain.ranking import DIGITS, FIRST_RANK, is_valid_rank, rank_between

AT = datetime(2026, 11, 26, 18, 0, 0, 123000, tzinfo=UTC)

# -- money ---------------------------------------------------------------------------------


def test_money_is_exact_and_canonical() -> None:
    assert Money.of("1200", "EUR").formatted_amount() == "1200.00"
    assert Money.of("0.1", "eur") == Money(Decimal("0.10"), "EUR")
    assert Money.of(Decimal("19.99"), "USD").amount == Decimal("19.99")
    assert Money.of("5000", "JPY").formatted_amount() == "5000"
    assert Money.of("1.234", "KWD").formatted_amount() == "1.234"
    assert Money.of("0", "EUR").formatted_amount() == "0.00"
    total = Money.of("0.10", "EUR") + Money.of("0.20", "EUR")
    assert total.amount == Decimal("0.30")  # no float rounding


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("-0.01", "EUR", "negative"),
        ("10", "XYZ", "unknown currency"),
        ("10", "eu", "unknown currency"),
        ("10", "XAU", "unknown currency"),  # a metal, not a currency for deals
        ("10.001", "EUR", "more than 2 decimal"),
        ("10.5", "JPY", "more than 0 decimal"),
        ("1.2345", "KWD", "more than 3 decimal"),
        ("NaN", "EUR", "finite"),
        ("Infinity", "EUR", "finite"),
        ("ten", "EUR", "not a decimal"),
        ("1e15", "EUR", "too large"),
        (0.1, "EUR", "not floats"),
    ],
)
def test_invalid_money_is_refused(amount: str | float, currency: str, message: str) -> None:
    with pytest.raises(InvalidMoney, match=message):
        Money.of(amount, currency)


def test_trailing_zeros_beyond_minor_units_are_fine() -> None:
    assert Money.of("10.500", "EUR").formatted_amount() == "10.50"


def test_iso_codes_and_totals() -> None:
    assert {"EUR", "USD", "GBP", "JPY", "CHF", "CNY"} <= ISO_4217_CODES
    assert all(len(c) == 3 and c.isupper() for c in ISO_4217_CODES)
    totals = totals_by_currency(
        [Money.of("1.10", "USD"), Money.of("2", "EUR"), Money.of("3.05", "USD")]
    )
    assert totals == [Money.of("2", "EUR"), Money.of("4.15", "USD")]
    with pytest.raises(InvalidMoney):
        _ = Money.of("1", "EUR") + Money.of("1", "USD")


# -- ranks ---------------------------------------------------------------------------------


def test_ranks_between_neighbours() -> None:
    assert rank_between(None, None) == FIRST_RANK
    assert "a" < rank_between("a", "b") < "b"
    assert "a" < rank_between("a", "a1") < "a1"
    assert "az" < rank_between("az", "b") < "b"
    assert rank_between("i", None) > "i"
    assert rank_between(None, "i") < "i"
    assert "0001" < rank_between("0001", "0002") < "0002"
    assert rank_between("zzzzzz", None) > "zzzzzz"
    assert rank_between(None, "00001") < "00001"


@pytest.mark.parametrize(
    ("low", "high"), [("b", "a"), ("a", "a"), ("a0", None), ("", None), ("A", None)]
)
def test_impossible_ranks_are_refused(low: str, high: str | None) -> None:
    with pytest.raises(InvalidPosition):
        rank_between(low, high)


def test_appending_keeps_ranks_short() -> None:
    rank = rank_between(None, None)
    ranks = [rank]
    for _ in range(2000):
        rank = rank_between(rank, None)
        ranks.append(rank)
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)
    assert max(len(r) for r in ranks) <= 6


def test_prepending_and_inserting_at_one_spot() -> None:
    rank = rank_between(None, None)
    for _ in range(500):
        new = rank_between(None, rank)
        assert new < rank
        assert is_valid_rank(new)
        rank = new
    low, high = "a", "b"
    for _ in range(200):  # always right below "b": ranks grow slowly
        middle = rank_between(low, high)
        assert low < middle < high
        low = middle
    assert len(low) <= 60


rank_text = st.text(alphabet=DIGITS, min_size=1, max_size=8).filter(is_valid_rank)


@given(rank_text, rank_text)
def test_a_rank_always_fits_between_two_different_ranks(a: str, b: str) -> None:
    if a == b:
        return
    low, high = sorted([a, b])
    middle = rank_between(low, high)
    assert low < middle < high
    assert is_valid_rank(middle)
    assert rank_between(None, low) < low
    assert rank_between(high, None) > high


# -- pipelines and stages ------------------------------------------------------------------


def test_default_pipeline() -> None:
    pipeline = default_pipeline()
    assert pipeline.id == "default"
    assert pipeline.name == "Sales pipeline"
    assert [(s.id, s.name, s.probability, s.kind) for s in pipeline.stages] == [
        ("default-initial-contact", "Initial contact", 0.1, StageKind.OPEN),
        ("default-needs-analysis", "Needs analysis", 0.25, StageKind.OPEN),
        ("default-proposal", "Proposal", 0.5, StageKind.OPEN),
        ("default-negotiation", "Negotiation", 0.75, StageKind.OPEN),
        ("default-won", "Won", 1.0, StageKind.WON),
        ("default-lost", "Lost", 0.0, StageKind.LOST),
    ]
    assert [s.order for s in pipeline.stages] == [1, 2, 3, 4, 5, 6]
    assert pipeline.first_stage.id == "default-initial-contact"
    assert default_pipeline() == pipeline  # stable ids: seeding is idempotent


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([], "needs stages"),
        ([StageSpec("Won", 1, StageKind.WON), StageSpec("Lost", 0, StageKind.LOST)], "OPEN"),
        ([StageSpec("A", 0.5, StageKind.OPEN), StageSpec("Lost", 0, StageKind.LOST)], "WON"),
        (
            [
                StageSpec("Won", 1, StageKind.WON),
                StageSpec("A", 0.5, StageKind.OPEN),
                StageSpec("Lost", 0, StageKind.LOST),
            ],
            "come before",
        ),
        (
            [
                StageSpec("A", 0.5, StageKind.OPEN),
                StageSpec("a", 0.6, StageKind.OPEN),
                StageSpec("Won", 1, StageKind.WON),
                StageSpec("Lost", 0, StageKind.LOST),
            ],
            "unique",
        ),
    ],
)
def test_pipeline_rules(specs: list[StageSpec], message: str) -> None:
    with pytest.raises(InvalidPipeline, match=message):
        Pipeline.define(id="p", name="P", specs=specs)


@pytest.mark.parametrize(
    ("probability", "kind", "rotting_days"),
    [(1.5, StageKind.OPEN, None), (-0.1, StageKind.OPEN, None), (0.5, StageKind.WON, None),
     (0.5, StageKind.LOST, None), (0.5, StageKind.OPEN, 0)],
)  # fmt: skip
def test_stage_rules(probability: float, kind: StageKind, rotting_days: int | None) -> None:
    with pytest.raises(InvalidStage):
        Stage("s", "Stage", 1, probability, kind, rotting_days)


# -- the opportunity aggregate -------------------------------------------------------------


def new_opportunity(**overrides: object) -> Opportunity:
    pipeline = default_pipeline()
    values: dict[str, object] = {
        "id": "opp-1",
        "title": "  Big   deal ",
        "customer_id": "cust-1",
        "amount": Money.of("1200", "EUR"),
        "owner_id": "rep-1",
        "pipeline": pipeline,
        "stage": pipeline.first_stage,
        "position": "i",
        "expected_close_date": None,
        "actor_id": "rep-1",
        "at": AT,
    }
    values.update(overrides)
    return Opportunity.create(**values)  # type: ignore[arg-type]


def test_create_records_history_and_event() -> None:
    o = new_opportunity()
    assert o.title == "Big deal"
    assert (o.version, o.status, o.stage_id) == (
        1,
        OpportunityStatus.OPEN,
        "default-initial-contact",
    )
    [transition] = o.stage_history
    assert (transition.from_stage_id, transition.to_stage_id) == (None, "default-initial-contact")
    assert (transition.owner_id, transition.amount) == ("rep-1", Money.of("1200", "EUR"))
    [event] = o.events
    assert isinstance(event, OpportunityCreated)
    assert event.snapshot.version == 1


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"title": "  "}, InvalidOpportunity),
        ({"title": "x" * 201}, InvalidOpportunity),
        ({"customer_id": "has spaces"}, InvalidOpportunity),
        ({"customer_id": ""}, InvalidOpportunity),
        ({"owner_id": "x" * 200}, InvalidOpportunity),
        ({"stage": default_pipeline().stages[4]}, InvalidStage),  # Won
        ({"stage": Stage("other-open", "Open", 1, 0.5, StageKind.OPEN)}, InvalidStage),
    ],
)
def test_create_rules(overrides: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        new_opportunity(**overrides)


def test_move_to_another_stage() -> None:
    o = new_opportunity()
    o.events.clear()
    assert o.move(
        pipeline=default_pipeline(),
        to_stage_id="default-proposal",
        position="j",
        actor_id="mgr-1",
        at=AT,
    )
    assert (o.version, o.stage_id, o.position) == (2, "default-proposal", "j")
    assert o.stage_history[-1].from_stage_id == "default-initial-contact"
    assert o.stage_history[-1].actor_id == "mgr-1"
    [event] = o.events
    assert isinstance(event, StageChanged)
    assert event.from_stage is not None
    assert event.from_stage.id == "default-initial-contact"
    assert event.to_stage.id == "default-proposal"


def test_reordering_within_a_column_is_not_a_stage_change() -> None:
    o = new_opportunity()
    o.events.clear()
    changed = o.move(
        pipeline=default_pipeline(),
        to_stage_id=o.stage_id,
        position="k",
        actor_id="rep-1",
        at=AT,
    )
    assert not changed
    assert (o.version, o.position, o.events, len(o.stage_history)) == (1, "k", [], 1)


@pytest.mark.parametrize(
    ("stage_id", "status"), [("default-won", OpportunityStatus.WON), ("default-lost", "LOST")]
)
def test_moving_into_a_closed_stage_closes_the_deal(stage_id: str, status: str) -> None:
    pipeline = default_pipeline()
    o = new_opportunity()
    o.move(pipeline=pipeline, to_stage_id=stage_id, position="i", actor_id="r", at=AT)
    assert o.status == status
    assert o.is_closed
    with pytest.raises(OpportunityClosed):
        o.move(pipeline=pipeline, to_stage_id="default-proposal", position="i", actor_id="r", at=AT)


def test_a_stage_of_another_pipeline_is_refused() -> None:
    other = Pipeline.define(
        id="other",
        name="Other",
        specs=[
            StageSpec("Open", 0.5, StageKind.OPEN),
            StageSpec("Won", 1, StageKind.WON),
            StageSpec("Lost", 0, StageKind.LOST),
        ],
    )
    o = new_opportunity()
    with pytest.raises(InvalidStage):
        o.move(
            pipeline=default_pipeline(),
            to_stage_id=other.first_stage.id,
            position="i",
            actor_id="r",
            at=AT,
        )
    with pytest.raises(InvalidStage):
        o.move(pipeline=other, to_stage_id=other.first_stage.id, position="i", actor_id="r", at=AT)
    assert o.version == 1


# -- events on the wire --------------------------------------------------------------------


def test_cloud_events_match_the_contract() -> None:
    contracts = Contracts()
    o = new_opportunity(expected_close_date=None)
    o.move(
        pipeline=default_pipeline(),
        to_stage_id="default-won",
        position="i",
        actor_id="rep-1",
        at=AT,
    )
    created, changed = (to_cloud_event(e, actor_name="Rita Rep") for e in o.events)
    for event in (created, changed):
        contracts.validate(event.model_dump(exclude_none=True))
    assert (created.type, created.sequence, created.subject) == (
        "pipeline.opportunity.created",
        1,
        "opp-1",
    )
    assert changed.type == "pipeline.opportunity.stage_changed"
    assert changed.sequence == 2
    assert changed.source == "crm/pipeline"
    assert changed.actorname == "Rita Rep"
    assert changed.time == "2026-11-26T18:00:00.123Z"
    assert changed.data["status"] == "WON"
    assert changed.data["changedAt"] == "2026-11-26T18:00:00.123Z"
    assert changed.data["amount"] == {"amount": "1200.00", "currency": "EUR"}
    assert len(changed.data["stages"]) == 6

    broken = created.model_dump(exclude_none=True)
    broken["data"]["amount"]["amount"] = 1200  # a number, not a string
    with pytest.raises(AssertionError):
        contracts.validate(broken)


def test_every_event_carries_the_team_even_when_the_deal_has_none() -> None:
    """Consumers scope visibility by ``team`` (analytics: a manager sees their team's deals),
    so every event carries it, null when the deal has no team, and the contract requires it."""
    contracts = Contracts()
    pipeline = default_pipeline()
    o = new_opportunity()  # created by a caller without a team claim: no team
    o.update(OpportunityChanges(team="north"), pipeline=pipeline, actor_id="admin-1", at=AT)
    o.win(pipeline=pipeline, position="i", actor_id="rep-1", at=AT)
    events = [to_cloud_event(e).model_dump(exclude_none=True) for e in o.events]
    assert [e["data"]["team"] for e in events] == [None, "north", "north"]
    assert events[1]["data"]["changes"]["team"] == {"from": None, "to": "north"}
    for event in events:
        contracts.validate(event)
    for event in events:
        missing = json.loads(json.dumps(event))
        del missing["data"]["team"]
        with pytest.raises(AssertionError):
            contracts.validate(missing)


# -- stage management -----------------------------------------------------------------------


def test_stages_are_added_renamed_reordered_and_retired_keeping_history() -> None:
    p = default_pipeline()
    p2, added = p.add_stage(StageSpec("Demo", 0.4, StageKind.OPEN, rotting_days=7), position=3)
    assert added.id == "default-demo"
    assert [s.name for s in p2.active_stages][:5] == [
        "Initial contact",
        "Needs analysis",
        "Demo",
        "Proposal",
        "Negotiation",
    ]
    assert [s.order for s in p2.active_stages] == [1, 2, 3, 4, 5, 6, 7]
    assert p2.version == p.version + 1
    p3 = p2.update_stage("default-demo", name="Product demo", probability=0.45)
    assert p3.stage("default-demo") == replace(
        added, name="Product demo", probability=0.45, order=3
    )
    p4 = p3.reorder(
        [
            "default-demo",
            "default-initial-contact",
            "default-needs-analysis",
            "default-proposal",
            "default-negotiation",
        ]
    )
    assert p4.first_stage.id == "default-demo"
    p5 = p4.retire_stage("default-proposal")
    retired = p5.stage("default-proposal")
    assert retired is not None
    assert retired.retired
    assert "default-proposal" not in [s.id for s in p5.active_stages]
    with pytest.raises(InvalidStage, match="retired"):
        p5.require_stage("default-proposal")
    # A new stage with a retired stage's name gets a fresh id.
    p6, again = p5.add_stage(StageSpec("Proposal", 0.5, StageKind.OPEN))
    assert again.id == "default-proposal-2"
    assert p6.stage("default-proposal") is not None  # still readable


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.add_stage(StageSpec("Won again", 1.0, StageKind.WON)), "only OPEN"),
        (lambda p: p.add_stage(StageSpec("Proposal", 0.5, StageKind.OPEN)), "unique"),
        (lambda p: p.add_stage(StageSpec("X", 0.5, StageKind.OPEN), position=9), "position"),
        (lambda p: p.add_stage(StageSpec("x" * 101, 0.5, StageKind.OPEN)), "longer"),
        (lambda p: p.retire_stage("default-won"), "cannot be retired"),
        (lambda p: p.reorder(["default-proposal"]), "exactly once"),
        (lambda p: p.update_stage("default-proposal", probability=1.5), "between 0 and 1"),
        (lambda p: p.update_stage("nope"), "does not belong"),
    ],
)
def test_stage_changes_keep_the_pipeline_valid(change: Any, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        change(default_pipeline())


def test_the_last_open_stage_cannot_be_retired() -> None:
    p = Pipeline.define(
        id="p",
        name="Tiny",
        specs=[
            StageSpec("Open", 0.5, StageKind.OPEN),
            StageSpec("Won", 1.0, StageKind.WON),
            StageSpec("Lost", 0.0, StageKind.LOST),
        ],
    )
    with pytest.raises(InvalidStage, match="last OPEN"):
        p.retire_stage("p-open")


def test_every_event_type_matches_its_contract() -> None:
    contracts = Contracts()
    pipeline = default_pipeline()
    o = new_opportunity()
    o.update(
        OpportunityChanges(
            amount=Money.of("99.5", "USD"), priority=Priority.HIGH, next_step="Call", team="t"
        ),
        pipeline=pipeline,
        actor_id="rep-1",
        at=AT,
    )
    o.win(pipeline=pipeline, position="i", actor_id="rep-1", at=AT)
    o.reopen(pipeline=pipeline, to_stage_id="default-proposal", position="i", actor_id="r", at=AT)
    o.lose(pipeline=pipeline, reason="Too slow", position="i", actor_id="rep-1", at=AT)
    events = [to_cloud_event(e).model_dump(exclude_none=True) for e in o.events]
    assert [e["type"].rsplit(".", 1)[1] for e in events] == [
        "created",
        "updated",
        "won",
        "reopened",
        "lost",
    ]
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5]
    for event in events:
        contracts.validate(event)
    assert events[1]["data"]["changes"]["amount"] == {
        "from": {"amount": "1200.00", "currency": "EUR"},
        "to": {"amount": "99.50", "currency": "USD"},
    }
    # The contracts are strict: a won event must close into the WON stage, a lost one needs
    # its reason, an updated one its changes.
    for index, path, value in [
        (2, ("data", "status"), "OPEN"),
        (4, ("data", "lostReason"), ""),
        (1, ("data", "changes"), {}),
    ]:
        broken = json.loads(json.dumps(events[index]))
        broken[path[0]][path[1]] = value
        with pytest.raises(AssertionError):
            contracts.validate(broken)
