"""Reporting tools, hand-computed (no infrastructure): source attribution, conversion into one
reporting currency, the audit entries of events and who may read them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from analytics.domain.audit import record_of
from analytics.domain.currency import Conversion, InvalidRate, RateTable, new_rate
from analytics.domain.deal import DealState
from analytics.domain.model import DealStatus
from analytics.domain.sources import SourceDimension, source_performance
from crm_common import access
from crm_common.access import Viewer

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def deal(
    key: str,
    campaign: str | None,
    status: DealStatus,
    *,
    created_day: int = 0,
    closed_day: int | None = None,
    amount: str = "100",
    currency: str = "EUR",
) -> DealState:
    return DealState(
        opportunity_id=key,
        status=status,
        amount=Decimal(amount),
        currency=currency,
        created_at=T0 + timedelta(days=created_day),
        closed_at=T0 + timedelta(days=closed_day) if closed_day is not None else None,
        source_campaign=campaign,
        source_channel="events" if campaign else None,
    )


def test_source_performance_by_campaign_hand_computed() -> None:
    # Campaign "spring": 3 leads; deals a (won after 10 days, 1000 USD), b (won after 4 days,
    # 200 EUR), c (lost), d (open). Campaign "fair": 1 lead, deal e won after 2 days.
    # One deal without a source (open). Window: the whole of November.
    deals = [
        deal("a", "spring", DealStatus.WON, closed_day=10, amount="1000", currency="USD"),
        deal("b", "spring", DealStatus.WON, created_day=2, closed_day=6, amount="200"),
        deal("c", "spring", DealStatus.LOST, closed_day=3),
        deal("d", "spring", DealStatus.OPEN),
        deal("e", "fair", DealStatus.WON, closed_day=2, amount="50"),
        deal("f", None, DealStatus.OPEN),
        # Closed after the window: opened counts, won does not.
        deal("g", "fair", DealStatus.WON, created_day=20, closed_day=40),
    ]
    rows = source_performance(
        deals,
        {"spring": 3, "fair": 1},
        SourceDimension.CAMPAIGN,
        T0,
        T0 + timedelta(days=30),
    )
    by = {r.source: r for r in rows}
    assert [r.source for r in rows] == ["spring", "fair", None]
    spring = by["spring"]
    assert (spring.leads, spring.opened, spring.won, spring.lost) == (3, 4, 2, 1)
    assert spring.won_amount == {"USD": Decimal(1000), "EUR": Decimal(200)}
    assert spring.win_rate == pytest.approx(2 / 3)
    assert spring.avg_cycle_days == pytest.approx((10 + 4) / 2)
    fair = by["fair"]
    assert (fair.leads, fair.opened, fair.won, fair.lost) == (1, 2, 1, 0)
    assert fair.avg_cycle_days == pytest.approx(2)
    assert by[None].opened == 1
    assert by[None].won == 0
    assert by[None].win_rate == 0.0
    channel = source_performance(deals, {}, SourceDimension.CHANNEL, None, None)
    assert {r.source: r.won for r in channel} == {"events": 4, None: 0}


def test_conversion_uses_the_rate_valid_on_each_day() -> None:
    # Base EUR. USD: 0.5 from 2026-01-01, 0.8 from 2026-06-01. GBP: 1.25 from 2026-01-01.
    table = RateTable(
        [
            new_rate("USD", "0.5", date(2026, 1, 1)),
            new_rate("USD", "0.8", date(2026, 6, 1)),
            new_rate("GBP", "1.25", date(2026, 1, 1)),
        ],
        base="EUR",
    )
    to_eur = Conversion("EUR", table)
    to_eur.add(Decimal(1000), "USD", date(2026, 3, 1))  # 500 EUR
    to_eur.add(Decimal(1000), "USD", date(2026, 7, 1))  # 800 EUR
    to_eur.add(Decimal(100), "EUR", date(2026, 7, 1))  # 100 EUR
    to_eur.add(Decimal(10), "JPY", date(2026, 7, 1))  # no rate: left out, named
    assert to_eur.total == Decimal("1400.00")
    assert to_eur.missing == {"JPY"}
    assert {(r.currency, r.rate) for r in to_eur.used} == {
        ("USD", Decimal("0.5")),
        ("USD", Decimal("0.8")),
    }
    # Into GBP: 1000 USD on 2026-07-01 = 1000 x 0.8 / 1.25 = 640 GBP; before any rate: missing.
    to_gbp = Conversion("GBP", table)
    to_gbp.add(Decimal(1000), "USD", date(2026, 7, 1))
    to_gbp.add(Decimal(1000), "USD", date(2025, 7, 1))
    assert to_gbp.total == Decimal("640.00")
    assert to_gbp.missing == {"USD", "GBP"}  # neither had a rate in 2025


@pytest.mark.parametrize(
    ("currency", "rate", "code"),
    [("usd", "1", "INVALID_CURRENCY"), ("USD", "0", "INVALID_RATE"), ("USD", "x", "INVALID_RATE")],
)
def test_bad_rates_are_refused_with_a_code(currency: str, rate: str, code: str) -> None:
    with pytest.raises(InvalidRate) as raised:
        new_rate(currency, rate, date(2026, 1, 1))
    assert raised.value.code == code


def test_audit_entries_say_before_and_after() -> None:
    updated = record_of(
        {
            "_id": "e1",
            "type": "pipeline.opportunity.updated",
            "time": "2026-11-02T10:00:00.000Z",
            "subject": "opp-1",
            "actorid": "rep-1",
            "data": {
                "team": "north",
                "changes": {
                    "title": {"from": "Old", "to": "New"},
                    "amount": {
                        "from": {"amount": "1.00", "currency": "EUR"},
                        "to": {"amount": "2.00", "currency": "EUR"},
                    },
                },
            },
        }
    )
    assert updated.subject_type == "OPPORTUNITY"
    assert updated.team == "north"
    assert [(c.field, c.before, c.after) for c in updated.changes] == [
        ("amount", {"amount": "1.00", "currency": "EUR"}, {"amount": "2.00", "currency": "EUR"}),
        ("title", "Old", "New"),
    ]
    won = record_of(
        {
            "_id": "e2",
            "type": "pipeline.opportunity.won",
            "time": "2026-11-03T10:00:00.000Z",
            "subject": "opp-1",
            "data": {
                "fromStage": {"name": "Proposal"},
                "toStage": {"name": "Won"},
                "status": "WON",
            },
        }
    )
    assert ("stage", "Proposal", "Won") in [(c.field, c.before, c.after) for c in won.changes]
    lifecycle = record_of(
        {
            "_id": "e3",
            "type": "customers.customer.lifecycle_changed",
            "time": "2026-11-03T10:00:00.000Z",
            "subject": "c-1",
            "data": {"from": "LEAD", "to": "CUSTOMER"},
        }
    )
    assert lifecycle.subject_type == "CUSTOMER"
    assert [(c.field, c.before, c.after) for c in lifecycle.changes] == [
        ("lifecycle", "LEAD", "CUSTOMER")
    ]


def test_audit_visibility_admins_all_managers_their_team_nobody_else() -> None:
    assert access.audit_scope(Viewer("a", frozenset({"admin"}))).all
    manager = access.audit_scope(Viewer("m", frozenset({"manager"}), team="north"))
    assert manager.team == "north"
    assert manager.owner_id is None
    assert not manager.all
    assert access.audit_scope(Viewer("m", frozenset({"manager"}))).nothing
    assert access.audit_scope(Viewer("r", frozenset({"rep"}), team="north")).nothing
    assert access.audit_scope(Viewer("s", frozenset({"service"}))).nothing
