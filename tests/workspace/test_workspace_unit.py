"""Pure checks of the workspace's rules (no suite): half-even line totals, the updated event of
setLineItems against its contract, CJK grams, due buckets, the quote's PDF without a font."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from crm_common.fragments import cjk_bigrams, fragment_grams, text_grams
from customers.domain.tasks import DueBucket, Task, TaskPriority, due_window
from pipeline.adapters.outbox import outbox_events
from pipeline.adapters.quote_documents import quote_pdf
from pipeline.domain.catalogue import (
    InvalidLineItem,
    LineItemRequest,
    Product,
    line_total,
    price_lines,
)
from pipeline.domain.model import Opportunity, default_pipeline
from pipeline.domain.money import Money
from pipeline.domain.quotes import Quote
from pipeline.service_layer.ports import Actor

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "events"
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # a Thursday


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


@pytest.mark.parametrize(
    ("quantity", "price", "discount", "total"),
    [
        ("3", "19.99", "10", "53.97"),  # 53.973
        ("0.5", "0.05", "0", "0.02"),  # 0.025: to the even cent
        ("1.5", "0.05", "0", "0.08"),  # 0.075: to the even cent
        ("1", "100.00", "100", "0.00"),
        ("7", "0.10", "33.3333", "0.47"),
    ],
)
def test_line_totals_round_half_even_once(
    quantity: str, price: str, discount: str, total: str
) -> None:
    assert line_total(Decimal(quantity), eur(price), Decimal(discount)) == eur(total)


def test_yen_has_no_minor_unit() -> None:
    assert line_total(Decimal("3"), Money(Decimal("333"), "JPY"), Decimal("50")) == Money(
        Decimal("500"), "JPY"
    )  # 499.5 -> 500 (even)


def product(active: bool = True) -> Product:
    return Product.create(
        id="p1",
        sku="SKU",
        name="Seat",
        unit_price=eur("19.99"),
        tax_rate=None,
        active=active,
        at=NOW,
    )


def test_an_inactive_product_is_refused() -> None:
    with pytest.raises(InvalidLineItem) as refused:
        price_lines([LineItemRequest("p1", Decimal(1))], {"p1": product(active=False)})
    assert refused.value.reason == "INACTIVE_PRODUCT"


def test_the_updated_event_of_line_items_matches_its_contract() -> None:
    pipeline = default_pipeline()
    stage = next(s for s in pipeline.active_stages if not s.is_closed)
    deal = Opportunity.create(
        id="o1",
        title="Deal",
        customer_id="c1",
        amount=eur("1.00"),
        owner_id="rep-1",
        pipeline=pipeline,
        stage=stage,
        position="a",
        expected_close_date=None,
        actor_id="rep-1",
        at=NOW,
    )
    deal.events.clear()
    lines = price_lines(
        [LineItemRequest("p1", Decimal(3), discount_percent=Decimal(10))], {"p1": product()}
    )
    deal.set_line_items(lines, pipeline=pipeline, actor_id="rep-1", at=NOW)
    (event,) = outbox_events(deal, Actor(user_id="rep-1"))
    assert event.type == "pipeline.opportunity.updated"
    schema = json.loads((CONTRACTS / "pipeline.opportunity.updated.schema.json").read_text())
    jsonschema.validate(event.data, schema)
    assert event.data["changes"]["amount"] == {
        "from": {"amount": "1.00", "currency": "EUR"},
        "to": {"amount": "53.97", "currency": "EUR"},
    }
    assert event.data["changes"]["lineItems"]["from"] == []
    assert event.data["changes"]["lineItems"]["to"][0]["total"]["amount"] == "53.97"


def test_cjk_text_is_found_by_any_two_characters() -> None:
    grams = text_grams("北京测试科技有限公司 x")
    for fragment in ("北京", "测试", "科技", "技有", "公司", "测试科", "有限公司"):
        assert fragment_grams(fragment) <= grams, fragment
    assert cjk_bigrams("ab") == set()
    assert fragment_grams("ab") == set()  # latin: too short for the index


def test_due_buckets_in_utc() -> None:
    assert due_window(DueBucket.TODAY, NOW) == (
        datetime(2026, 12, 3, tzinfo=UTC),
        datetime(2026, 12, 4, tzinfo=UTC),
    )
    assert due_window(DueBucket.THIS_WEEK, NOW) == (NOW, datetime(2026, 12, 7, tzinfo=UTC))
    assert due_window(DueBucket.LATER, NOW) == (datetime(2026, 12, 7, tzinfo=UTC), None)

    def task(due: datetime) -> Task:
        return Task.create(
            id="t",
            title="x",
            due_at=due,
            assignee_id="u",
            team=None,
            customer_id=None,
            customer_owner_id=None,
            customer_team=None,
            opportunity_id=None,
            priority=TaskPriority.LOW,
            notes=None,
            created_by="u",
            at=NOW,
        )

    assert task(NOW - timedelta(minutes=1)).due_bucket(NOW) is DueBucket.OVERDUE
    assert task(NOW + timedelta(hours=5)).due_bucket(NOW) is DueBucket.TODAY
    assert task(NOW + timedelta(days=2)).due_bucket(NOW) is DueBucket.THIS_WEEK
    assert task(NOW + timedelta(days=5)).due_bucket(NOW) is DueBucket.LATER


def test_a_quote_pdf_without_a_unicode_font_still_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.adapters.quote_documents as documents

    monkeypatch.setattr(documents, "FONT_CANDIDATES", ())
    lines = price_lines([LineItemRequest("p1", Decimal(2))], {"p1": product()})
    quote = Quote.freeze(
        id="q1",
        number="Q-2026-000001",
        opportunity_id="o1",
        opportunity_title="北京 deal",
        customer_id="c1",
        owner_id="rep-1",
        team=None,
        items=lines,
        valid_until=date(2027, 1, 1),
        created_by="rep-1",
        at=NOW,
    )
    assert quote.total == eur("39.98")
    assert quote_pdf(quote).startswith(b"%PDF")
