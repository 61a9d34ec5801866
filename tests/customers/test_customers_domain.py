"""Pure domain rules: normalisation and validation, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from customers.domain.errors import InvalidValue
from customers.domain.events import CustomerCreated
from customers.domain.model import Customer, CustomerKind, LifecycleStage
from customers.domain.values import (
    ATTRIBUTES_MAX_BYTES,
    NAME_MAX,
    TAGS_MAX,
    LeadSource,
    normalise_attributes,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_tags,
)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Jane.Doe@Example.COM", "jane.doe@example.com"),
        ("  ops@acme.io  ", "ops@acme.io"),
        ("MIXED+Tag@Sub.Domain.ORG", "mixed+tag@sub.domain.org"),
    ],
)
def test_email_is_validated_and_lower_cased(raw: str, stored: str) -> None:
    assert normalise_email(raw) == stored


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_absent_email_is_none(raw: str | None) -> None:
    assert normalise_email(raw) is None


@pytest.mark.parametrize(
    "raw", ["not-an-email", "a@b", "two@@ats.com", "space in@local.com", "x@exa mple.com", "@x.com"]
)
def test_malformed_email_is_refused(raw: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        normalise_email(raw)
    assert caught.value.field == "email"
    assert "email" in caught.value.message


def test_overlong_email_is_refused() -> None:
    with pytest.raises(InvalidValue):
        normalise_email("a" * 250 + "@example.com")


def test_name_is_required_trimmed_and_bounded() -> None:
    assert normalise_name("  Ada Lovelace ") == "Ada Lovelace"
    for blank in (None, "", " \t "):
        with pytest.raises(InvalidValue, match="name"):
            normalise_name(blank)
    assert normalise_name("x" * NAME_MAX) == "x" * NAME_MAX
    with pytest.raises(InvalidValue, match=f"at most {NAME_MAX}"):
        normalise_name("x" * (NAME_MAX + 1))
    with pytest.raises(InvalidValue, match="control"):
        normalise_name("bad\x00name")


@pytest.mark.parametrize(
    ("raw", "region", "stored"),
    [
        ("+49 30 1234567", None, "+49301234567"),
        ("(030) 123-45-67", "DE", "+49301234567"),
        ("0049 30 1234567", "DE", "+49301234567"),
        ("(202) 555-0143 ext. 12", "US", "+12025550143 ext. 12"),
        ("+1 202 555 0143 x9", None, "+12025550143 ext. 9"),
        ("+44 20 7946 0000", "DE", "+442079460000"),
    ],
)
def test_phone_is_stored_in_e164(raw: str, region: str | None, stored: str) -> None:
    assert normalise_phone(raw, region) == stored


def test_phone_refuses_what_is_no_number() -> None:
    assert normalise_phone("  ") is None
    for bad in ("call me", "12", "+49 30 <script>", "+999 123"):
        with pytest.raises(InvalidValue, match="phone"):
            normalise_phone(bad)


def test_tags_are_trimmed_and_deduplicated_case_insensitively() -> None:
    assert normalise_tags([" vip ", "VIP", "", "b2b", "vip"]) == ["vip", "b2b"]
    assert normalise_tags(None) == []
    with pytest.raises(InvalidValue, match="tags"):
        normalise_tags([f"t{i}" for i in range(TAGS_MAX + 1)])
    with pytest.raises(InvalidValue, match="tags"):
        normalise_tags(["x" * 51])


def test_attributes_accept_json_objects_within_limits() -> None:
    original = {"industry": "retail", "score": 4.5, "flags": [True, None, 3], "x": _nested(3)}
    copy = normalise_attributes(original)
    assert copy == original
    assert copy is not original
    assert normalise_attributes(None) is None
    assert normalise_attributes(_nested(5)) == _nested(5)


def test_attributes_depth_is_limited_to_five() -> None:
    with pytest.raises(InvalidValue, match="deeper than 5"):
        normalise_attributes(_nested(6))
    with pytest.raises(InvalidValue, match="deeper than 5"):
        normalise_attributes({"a": [[[[[1]]]]]})  # the object and five lists: six levels


def test_attributes_depth_counts_lists() -> None:
    assert normalise_attributes({"a": [[[[1]]]]}) == {"a": [[[[1]]]]}  # five levels


def test_very_deep_attributes_fail_fast_without_recursion_error() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(5000):
        cursor["n"] = {}
        cursor = cursor["n"]
    with pytest.raises(InvalidValue, match="deeper"):
        normalise_attributes(deep)


def test_attributes_size_is_limited_to_16_kib() -> None:
    # {"k":"…"} is 8 bytes of framing around the value.
    fits = {"k": "x" * (ATTRIBUTES_MAX_BYTES - 8)}
    assert normalise_attributes(fits) == fits
    with pytest.raises(InvalidValue, match="bytes"):
        normalise_attributes({"k": "x" * (ATTRIBUTES_MAX_BYTES - 7)})
    with pytest.raises(InvalidValue, match="bytes"):
        normalise_attributes({"k": "é" * ATTRIBUTES_MAX_BYTES})  # counted in UTF-8 bytes


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([1, 2], "must be a JSON object"),
        ("text", "must be a JSON object"),
        ({"$where": 1}, "must not start with"),
        ({"a.b": 1}, "must not start with"),
        ({"": 1}, "non-empty"),
        ({"n": float("nan")}, "finite"),
        ({"n": 2**64}, "64-bit"),
        ({"n": object()}, "unsupported"),
    ],
)
def test_attributes_refuse_what_json_or_mongodb_cannot_hold(value: object, problem: str) -> None:
    with pytest.raises(InvalidValue, match=problem) as caught:
        normalise_attributes(value)
    assert caught.value.field == "attributes"


def test_lead_source_is_trimmed_and_empty_becomes_none() -> None:
    assert LeadSource(channel=" web ", campaign="").normalised() == LeadSource(channel="web")
    assert LeadSource(channel=" ", medium=None).normalised() is None
    with pytest.raises(InvalidValue, match=r"source\.referrer"):
        LeadSource(referrer="r" * 201).normalised()


def test_create_normalises_and_records_the_created_event() -> None:
    now = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    customer = Customer.create(
        kind=CustomerKind.PERSON,
        name=" Ada ",
        owner_id="rep-1",
        email="ADA@Example.com",
        tags=["a", "A"],
        source=LeadSource(channel="web"),
        actor_id="rep-1",
        actor_name="Rep One",
        now=now,
    )
    assert customer.name == "Ada"
    assert customer.email == "ada@example.com"
    assert customer.lifecycle is LifecycleStage.LEAD
    assert customer.version == 1
    assert customer.created_at == customer.updated_at == now
    assert customer.tags == ["a"]
    assert customer.events == [
        CustomerCreated(
            customer_id=customer.id,
            name="Ada",
            kind="PERSON",
            owner_id="rep-1",
            lifecycle="LEAD",
            version=1,
            occurred_at=now,
            actor_id="rep-1",
            actor_name="Rep One",
            source={"channel": "web"},  # deals opened on the customer take it
        )
    ]


def test_company_of_a_customer_must_be_a_company() -> None:
    person = Customer.create(kind=CustomerKind.PERSON, name="P", owner_id="o")
    company = Customer.create(kind=CustomerKind.COMPANY, name="C", owner_id="o")
    assert Customer.create(
        kind=CustomerKind.PERSON, name="Q", owner_id="o", company=company
    ).company_id == (company.id)
    with pytest.raises(InvalidValue, match="not a COMPANY"):
        Customer.create(kind=CustomerKind.PERSON, name="Q", owner_id="o", company=person)


def test_create_checks_every_field() -> None:
    with pytest.raises(InvalidValue, match="email"):
        Customer.create(kind=CustomerKind.PERSON, name="Ok", owner_id="o", email="bad")
    with pytest.raises(InvalidValue, match="ownerId"):
        Customer.create(kind=CustomerKind.PERSON, name="Ok", owner_id=" ")
    with pytest.raises(InvalidValue, match="attributes"):
        Customer.create(kind=CustomerKind.PERSON, name="Ok", owner_id="o", attributes=[1])


# --- lifecycle, updates, merge, timeline entries -------------------------------------------

from customers.domain.events import CustomersMerged, LifecycleChanged  # noqa: E402
from customers.domain.interactions import Interaction  # noqa: E402
from customers.domain.model import ALLOWED_TRANSITIONS, InteractionKind  # noqa: E402
from customers.domain.search_terms import name_similarity, search_tokens  # noqa: E402
from customers.domain.values import fold  # noqa: E402


def _customer(**fields: Any) -> Customer:
    customer = Customer.create(kind=CustomerKind.PERSON, owner_id="o", **{"name": "Ann", **fields})
    customer.events.clear()
    customer.audit.clear()
    return customer


@pytest.mark.parametrize("start", list(LifecycleStage))
@pytest.mark.parametrize("target", list(LifecycleStage))
def test_lifecycle_moves_only_along_allowed_transitions(
    start: LifecycleStage, target: LifecycleStage
) -> None:
    customer = _customer(lifecycle=start)
    allowed = target == start or target in ALLOWED_TRANSITIONS[start]
    if not allowed:
        with pytest.raises(InvalidValue) as caught:
            customer.update({"lifecycle": target.value}, lifecycle_reason="r")
        assert caught.value.field == "lifecycle"
        assert customer.lifecycle is start
        assert customer.version == 1
        return
    customer.update({"lifecycle": target.value}, lifecycle_reason="because")
    assert customer.lifecycle is target
    if target is start:
        assert customer.version == 1
        assert not customer.events
    else:
        [event] = customer.events
        assert isinstance(event, LifecycleChanged)
        assert (event.from_stage, event.to_stage, event.version) == (start, target, 2)
        assert customer.audit[0].changes[0].field == "lifecycle"


def test_an_invalid_update_changes_nothing() -> None:
    customer = _customer(email="a@example.com")
    with pytest.raises(InvalidValue):
        customer.update({"name": "New", "email": "broken@"})
    assert (customer.name, customer.email, customer.version) == ("Ann", "a@example.com", 1)
    with pytest.raises(InvalidValue, match="lifecycleReason"):
        _customer(lifecycle=LifecycleStage.CUSTOMER).update({"lifecycle": "CHURNED"})


def test_a_won_deal_only_moves_forward() -> None:
    customer = _customer(lifecycle=LifecycleStage.CUSTOMER)
    cause = {"type": "pipeline.opportunity.created", "opportunityId": "d"}
    assert not customer.advance_lifecycle(LifecycleStage.PROSPECT, reason="r", cause=cause)
    lead = _customer()
    assert lead.advance_lifecycle(LifecycleStage.CUSTOMER, reason="won", cause=cause)
    assert lead.lifecycle is LifecycleStage.CUSTOMER
    assert lead.lifecycle_cause == cause


def test_absorb_keeps_every_detail() -> None:
    target = _customer(email="a@x.com", phones=["+12025550101"], tags=["a"], attributes={"k": 1})
    source = _customer(
        name="Anne",
        emails=["b@x.com", "a@x.com"],
        phones=["+12025550102"],
        tags=["A", "b"],
        attributes={"k": 2, "j": 3},
        lifecycle=LifecycleStage.CUSTOMER,
    )
    target.absorb([source], actor_id="me")
    assert target.emails == ["a@x.com", "b@x.com"]
    assert target.phones == ["+12025550101", "+12025550102"]
    assert target.tags == ["a", "b"]
    assert target.attributes == {
        "k": 1,
        "j": 3,
        "mergedAttributes": {source.id: {"k": 2, "name": "Anne"}},
    }
    assert target.lifecycle is LifecycleStage.CUSTOMER
    assert target.merged_ids == [source.id]
    assert isinstance(target.events[-1], CustomersMerged)
    assert target.events[-1].merged_ids == (source.id,)
    assert target.version == 2


def test_search_helpers_fold_accents_and_case() -> None:
    assert fold("Ærø Çelik MÜLLER") == "ærø celik muller"
    customer = _customer(name="Zoë O'Brien", email="Zoe@Example.com", phone="+49 30 1234567")
    tokens = search_tokens(customer)
    assert {"zoe", "o", "brien", "zoe@example.com", "example", "49301234567"} <= set(tokens)
    assert "0301234567" in tokens
    assert name_similarity("Jane Doe", "DOE,  jane") == 1.0
    assert name_similarity("Jane Doe", "Bob Stone") < 0.5


def test_interactions_need_a_summary_and_a_zone() -> None:
    with pytest.raises(InvalidValue, match="summary"):
        Interaction.log(customer_id="c", kind=InteractionKind.CALL, summary="  ")
    with pytest.raises(InvalidValue, match="occurredAt"):
        Interaction.log(
            customer_id="c",
            kind=InteractionKind.CALL,
            summary="x",
            occurred_at=datetime(2026, 1, 1),
        )
    entry = Interaction.log(
        customer_id="c",
        kind=InteractionKind.NOTE,
        summary="multi\nline",
        occurred_at=datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )
    assert entry.occurred_at.microsecond == 123000
