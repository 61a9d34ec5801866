"""One rule set for values that cross a service boundary (crm_common.text): whatever the
producer accepts, its consumers accept too, so no valid upstream event is dead-lettered.
Property tests over generated text for every cross-service field, and one deal title with
ESC/NUL through the suite."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_common.events import new_event
from customers.domain import values as customer_values
from customers.domain.errors import InvalidValue
from customers.domain.interactions import Interaction, InteractionKind
from customers.entrypoints.messages import deal_step
from customers.service_layer.deal_steps import summary
from devstack import Suite
from pipeline.domain import model as pipeline_model
from pipeline.domain.errors import DomainError
from pipeline.entrypoints.messages import InvalidEvent, _owner
from support.graphql import error_codes, gql

TEXT = st.text(max_size=300)
SOME_TEXT = st.one_of(TEXT, st.text(alphabet=st.characters(codec="utf-8"), max_size=50))


def accepted_by_pipeline(clean: Any, *args: Any) -> str | None:
    try:
        result: str | None = clean(*args)
    except DomainError:
        return None
    return result


def timeline_entry(title: str, stage: str, reason: str | None, type_: str) -> Interaction:
    """What the customers consumer writes for a pipeline event with these values."""
    stage_payload = {"id": "s-1", "name": stage, "kind": "OPEN"}
    data: dict[str, Any] = {
        "opportunityId": "o-1",
        "customerId": "c-1",
        "title": title,
        "toStage": stage_payload,
        "fromStage": stage_payload,
        "status": "LOST" if reason is not None else "OPEN",
        "lostReason": reason,
    }
    event = new_event(source="crm/pipeline", type=type_, subject="o-1", sequence=2, data=data)
    step = deal_step(event)
    assert step is not None
    return Interaction.log(
        customer_id="c-1",
        kind=InteractionKind.STAGE_CHANGE,
        summary=summary(step),
        details={"toStage": stage_payload, "fromStage": stage_payload},
        occurred_at=datetime(2026, 12, 3, tzinfo=UTC),
        opportunity_id="o-1",
    )


@settings(max_examples=300)
@given(title=SOME_TEXT, stage=SOME_TEXT, reason=SOME_TEXT)
def test_what_the_pipeline_accepts_reaches_the_timeline(
    title: str, stage: str, reason: str
) -> None:
    clean_title = accepted_by_pipeline(
        pipeline_model._clean_name, title, "title", pipeline_model.MAX_TITLE_LENGTH
    )
    clean_stage = accepted_by_pipeline(
        pipeline_model._clean_name, stage, "stage name", pipeline_model.MAX_NAME_LENGTH
    )
    clean_reason = accepted_by_pipeline(
        pipeline_model._clean_text, reason, "lost reason", pipeline_model.MAX_REASON_LENGTH
    )
    if clean_title is None or clean_stage is None:
        return
    for type_ in ("pipeline.opportunity.created", "pipeline.opportunity.stage_changed"):
        assert timeline_entry(clean_title, clean_stage, None, type_).summary
    entry = timeline_entry(clean_title, clean_stage, clean_reason, "pipeline.opportunity.lost")
    assert clean_title in entry.summary


@settings(max_examples=300)
@given(value=SOME_TEXT, team=SOME_TEXT)
def test_owners_and_teams_the_archive_accepts_the_pipeline_accepts(value: str, team: str) -> None:
    try:
        owner = customer_values.normalise_id(value, "ownerId")
        team_id = customer_values.normalise_id(team, "team")
    except InvalidValue:
        return
    if owner is None:
        return
    try:
        got = _owner({"ownerId": owner, "team": team_id})
    except InvalidEvent as exc:  # pragma: no cover - the property under test
        pytest.fail(f"the pipeline refuses {owner!r}/{team_id!r} the archive accepted: {exc}")
    assert (got.owner_id, got.team) == (owner, team_id)


@pytest.mark.parametrize("bad", ["esc\x1btitle", "nul\x00title", "c1\x9ftitle", "bad\ud800"])
def test_control_characters_are_refused_where_the_title_is_accepted(bad: str) -> None:
    assert accepted_by_pipeline(pipeline_model._clean_name, bad, "title", 200) is None


@pytest.mark.asyncio(loop_scope="session")
async def test_a_deal_title_with_esc_is_refused_at_the_pipeline(suite: Suite, token: Any) -> None:
    admin = token("admin")
    created = await gql(
        suite.gateway_url,
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
        {"i": {"kind": "COMPANY", "name": f"Text {uuid.uuid4().hex[:6]}"}},
        token=admin,
    )
    customer_id = created["data"]["createCustomer"]["id"]
    for title in ("esc\x1btitle", "nul\x00title"):
        body = await gql(
            suite.gateway_url,
            "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",
            {
                "i": {
                    "title": title,
                    "customerId": customer_id,
                    "amount": {"amount": "1", "currency": "EUR"},
                }
            },
            token=admin,
        )
        assert error_codes(body) == ["BAD_USER_INPUT"], body
