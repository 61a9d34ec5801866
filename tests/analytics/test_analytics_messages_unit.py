"""From CloudEvents to changes (strict where the contract is), and the documents of the deal
states (a round trip loses nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from story import Story

from analytics.adapters.mongo.documents import deal_document, deal_from_document
from analytics.domain.model import DealStatus, InvalidEvent
from analytics.entrypoints.messages import stored_change, to_change
from analytics.service_layer import services
from crm_common.events import CloudEvent

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def story_with_everything() -> tuple[Story, str]:
    story = Story()
    deal = story.create(T0, owner="rep-1", expected_close="2026-03-31")
    story.move(deal, "Proposal", T0 + timedelta(days=1))
    story.update(deal, T0 + timedelta(days=2), owner="rep-2", amount="2500.00")
    story.move(deal, "Lost", T0 + timedelta(days=3))
    story.move(deal, "Needs analysis", T0 + timedelta(days=4))  # reopened
    story.move(deal, "Won", T0 + timedelta(days=5))
    return story, deal


def test_every_event_type_becomes_a_change() -> None:
    story, deal = story_with_everything()
    changes = [to_change(event) for event in story.events]
    assert [c.event_type.rsplit(".", 1)[1] for c in changes if c] == [
        "created",
        "stage_changed",
        "updated",
        "lost",
        "reopened",
        "won",
    ]
    created, moved, updated, lost, reopened, won = (c for c in changes if c)
    assert created.expected_close_date == "2026-03-31"
    assert created.team == "team-1"
    assert moved.from_stage is not None
    assert moved.from_stage.name == "Initial contact"
    assert updated.owner_id == "rep-2"
    assert updated.amount is not None
    assert str(updated.amount.amount) == "2500.00"
    assert lost.lost_reason == "price"
    assert lost.status is DealStatus.LOST
    assert reopened.status is DealStatus.OPEN
    assert won.status is DealStatus.WON
    assert all(c.opportunity_id == deal for c in changes if c)


@pytest.mark.parametrize("index", [0, 1, 3, 4, 5])
def test_documented_types_are_validated_strictly(index: int) -> None:
    story, _ = story_with_everything()
    event = story.events[index]
    broken = event.model_copy(
        update={"data": {k: v for k, v in event.data.items() if k != "toStage"}}
    )
    with pytest.raises(InvalidEvent, match="does not match the contract"):
        to_change(broken)


def test_an_updated_event_of_another_shape_still_counts_its_sequence() -> None:
    story, _ = story_with_everything()
    event = story.events[2]
    odd = event.model_copy(update={"data": {"opportunityId": event.subject, "amount": 12}})
    change = to_change(odd)
    assert change is not None
    assert (change.sequence, change.owner_id, change.amount) == (3, None, None)


def test_a_subject_that_differs_from_the_payload_is_refused() -> None:
    story, _ = story_with_everything()
    event = story.events[0]
    with pytest.raises(InvalidEvent, match="subject"):
        to_change(event.model_copy(update={"subject": "someone-else"}))


def test_stored_envelopes_parse_back_and_bad_ones_are_skipped() -> None:
    story, _ = story_with_everything()
    envelope: dict[str, Any] = {**story.events[1].model_dump(exclude_none=True), "_id": "x"}
    envelope["receivedAt"] = T0
    change = stored_change(envelope)
    assert change is not None
    assert change.sequence == 2
    assert stored_change({"nothing": "useful"}) is None


async def test_deal_documents_round_trip() -> None:
    story, deal = story_with_everything()
    states = [
        state async for state in services.replay_states(_envelopes(story.events), stored_change)
    ]
    (state,) = states
    assert state.opportunity_id == deal
    assert deal_from_document(deal_document(state, 7)) == state
    assert deal_document(state, 7)["rev"] == 7
    assert state.closed_by == "rep-2"
    assert [s.stage_name for s in state.stays] == [
        "Initial contact",
        "Proposal",
        "Lost",
        "Needs analysis",
        "Won",
    ]


async def _envelopes(events: list[CloudEvent]) -> Any:
    for event in events:
        yield event.model_dump(exclude_none=True)
