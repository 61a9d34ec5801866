"""Service-layer and message-parsing tests with in-memory fakes (no processes, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from analytics.domain.funnel import DealProgress
from analytics.domain.model import (
    ConversionMethod,
    DealStatus,
    InvalidEvent,
    OpportunityChange,
    Stage,
    StageKind,
)
from analytics.entrypoints.messages import to_change
from analytics.service_layer import services
from crm_common.errors import BadUserInput, Forbidden
from crm_common.events import new_event
from crm_common.identity import Identity

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
STAGES = [
    Stage("s1", "Initial contact", 1, StageKind.OPEN, 0.1),
    Stage("s2", "Needs analysis", 2, StageKind.OPEN, 0.3),
    Stage("won", "Won", 3, StageKind.WON, 1.0),
]


class FakeEventStore:
    def __init__(self, fail_on_append: bool = False) -> None:
        self.events: dict[str, Mapping[str, Any]] = {}
        self.fail_on_append = fail_on_append

    async def contains(self, event_id: str) -> bool:
        return event_id in self.events

    async def append(self, event_id: str, envelope: Mapping[str, Any]) -> None:
        if self.fail_on_append:
            raise ConnectionError("crash between the projection write and the event record")
        self.events.setdefault(event_id, envelope)


class FakeProjection:
    def __init__(self) -> None:
        self.applied: list[str] = []

    async def apply(self, change: OpportunityChange) -> None:
        self.applied.append(change.event_id)


class FakeReadModel:
    def __init__(self, stages: list[Stage] | None, deals: list[DealProgress]) -> None:
        self._stages = stages
        self._deals = deals
        self.owner_filter: str | None = "unset"

    async def stages(self, pipeline_id: str) -> list[Stage] | None:
        return self._stages

    async def cohort(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        owner_id: str | None,
    ) -> list[DealProgress]:
        self.owner_filter = owner_id
        return self._deals


def change(event_id: str = "e1") -> OpportunityChange:
    return OpportunityChange(
        event_id=event_id,
        event_type="pipeline.opportunity.created",
        opportunity_id="o1",
        sequence=1,
        changed_at=T0,
    )


async def test_record_event_projects_then_records() -> None:
    events, projection = FakeEventStore(), FakeProjection()

    assert await services.record_event(
        "e1", {"id": "e1"}, change(), events=events, projection=projection
    )

    assert projection.applied == ["e1"]
    assert set(events.events) == {"e1"}


async def test_a_recorded_event_is_not_projected_again() -> None:
    events, projection = FakeEventStore(), FakeProjection()
    await services.record_event("e1", {"id": "e1"}, change(), events=events, projection=projection)

    again = await services.record_event(
        "e1", {"id": "e1"}, change(), events=events, projection=projection
    )

    assert again is False
    assert projection.applied == ["e1"]


async def test_a_crash_before_recording_leads_to_reprojection_not_loss() -> None:
    crashing, projection = FakeEventStore(fail_on_append=True), FakeProjection()
    with pytest.raises(ConnectionError):
        await services.record_event(
            "e1", {"id": "e1"}, change(), events=crashing, projection=projection
        )
    # The projection was written; the id was not recorded, so the redelivery runs it again.
    assert projection.applied == ["e1"]
    assert not await crashing.contains("e1")
    crashing.fail_on_append = False

    assert await services.record_event(
        "e1", {"id": "e1"}, change(), events=crashing, projection=projection
    )
    assert projection.applied == ["e1", "e1"]
    assert set(crashing.events) == {"e1"}


async def test_an_event_without_change_is_only_stored() -> None:
    events, projection = FakeEventStore(), FakeProjection()
    await services.record_event("e9", {"id": "e9"}, None, events=events, projection=projection)
    assert projection.applied == []
    assert set(events.events) == {"e9"}


MANAGER = Identity(user_id="m1", name="Manager", roles=frozenset({"manager"}))
REP = Identity(user_id="rep-1", name="Rep", roles=frozenset({"rep"}))
NOBODY = Identity(user_id="x", name="No role", roles=frozenset())


async def report(
    viewer: Identity = MANAGER,
    method: ConversionMethod = ConversionMethod.COHORT,
    owner_id: str | None = None,
    read_model: FakeReadModel | None = None,
) -> services.FunnelReport:
    return await services.funnel_report(
        "p1",
        viewer=viewer,
        method=method,
        created_from=None,
        created_to=None,
        owner_id=owner_id,
        read_model=read_model or FakeReadModel(STAGES, [DealProgress(DealStatus.OPEN, 2)]),
    )


async def test_funnel_report_cohort() -> None:
    result = await report()
    assert result.method is ConversionMethod.COHORT
    assert [(s.stage_id, s.entered, s.advanced) for s in result.steps] == [
        ("s1", 1, 1),
        ("s2", 1, 0),
    ]


async def test_unknown_pipeline_gives_an_empty_report() -> None:
    result = await report(read_model=FakeReadModel(None, []))
    assert (result.pipeline_id, result.steps, result.won, result.lost) == ("p1", (), 0, 0)


async def test_snapshot_is_not_yet_supported() -> None:
    with pytest.raises(BadUserInput, match="not yet supported"):
        await report(method=ConversionMethod.SNAPSHOT)


async def test_from_must_precede_to() -> None:
    with pytest.raises(BadUserInput):
        await services.funnel_report(
            "p1",
            viewer=MANAGER,
            method=ConversionMethod.COHORT,
            created_from=T0,
            created_to=T0,
            owner_id=None,
            read_model=FakeReadModel(STAGES, []),
        )


async def test_a_rep_sees_only_their_own_deals() -> None:
    read_model = FakeReadModel(STAGES, [])
    await report(viewer=REP, read_model=read_model)
    assert read_model.owner_filter == "rep-1"
    with pytest.raises(Forbidden):
        await report(viewer=REP, owner_id="rep-2")
    with pytest.raises(Forbidden):
        await report(viewer=NOBODY)


async def test_a_manager_may_filter_by_any_owner() -> None:
    read_model = FakeReadModel(STAGES, [])
    await report(owner_id="rep-2", read_model=read_model)
    assert read_model.owner_filter == "rep-2"


def stage_payload(stage: Stage) -> dict[str, Any]:
    return {
        "id": stage.id,
        "name": stage.name,
        "order": stage.order,
        "kind": stage.kind.value,
        "probability": stage.probability,
    }


def payload(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "opportunityId": "o1",
        "customerId": "c1",
        "pipelineId": "p1",
        "ownerId": "rep-1",
        "title": "Deal",
        "amount": {"amount": "1200.00", "currency": "EUR"},
        "status": "OPEN",
        "fromStage": stage_payload(STAGES[0]),
        "toStage": stage_payload(STAGES[1]),
        "stages": [stage_payload(s) for s in STAGES],
        "changedAt": "2026-03-01T09:00:00.000Z",
    }
    data.update(overrides)
    return data


def test_stage_changed_payload_becomes_a_change() -> None:
    event = new_event(
        source="/crm/pipeline",
        type="pipeline.opportunity.stage_changed",
        subject="o1",
        sequence=2,
        data=payload(),
    )

    result = to_change(event)

    assert result is not None
    assert (result.opportunity_id, result.sequence, result.pipeline_id) == ("o1", 2, "p1")
    assert result.changed_at == T0
    assert result.reached_open_order == 2
    assert not result.reached_won
    assert result.stages is not None
    assert len(result.stages) == 3


def test_moving_into_won_reaches_won() -> None:
    event = new_event(
        source="/crm/pipeline",
        type="pipeline.opportunity.stage_changed",
        subject="o1",
        sequence=3,
        data=payload(status="WON", toStage=stage_payload(STAGES[2])),
    )
    result = to_change(event)
    assert result is not None
    assert result.reached_won
    assert result.reached_open_order == 1  # from Initial contact


@pytest.mark.parametrize(
    "data",
    [
        payload(pipelineId=None),
        {k: v for k, v in payload().items() if k != "stages"},
        payload(status="MAYBE"),
        payload(changedAt="2026-03-01T09:00:00"),  # no offset
        payload(opportunityId="another"),  # differs from the subject
        payload(toStage={"id": "s1"}),
    ],
)
def test_documented_types_are_validated_strictly(data: dict[str, Any]) -> None:
    event = new_event(
        source="/crm/pipeline",
        type="pipeline.opportunity.created",
        subject="o1",
        sequence=1,
        data=data,
    )
    with pytest.raises(InvalidEvent):
        to_change(event)


def test_other_opportunity_types_are_applied_for_what_they_carry() -> None:
    event = new_event(
        source="/crm/pipeline",
        type="pipeline.opportunity.won",
        subject="o1",
        sequence=4,
        data={"status": "WON"},
        at=T0,
    )
    result = to_change(event)
    assert result is not None
    assert result.status is DealStatus.WON
    assert result.reached_won
    assert result.changed_at == T0
    assert result.pipeline_id is None


def test_other_types_with_an_unexpected_shape_are_only_stored() -> None:
    event = new_event(
        source="/crm/pipeline",
        type="pipeline.opportunity.updated",
        subject="o1",
        sequence=5,
        data={"amount": "not money", "changes": ["amount"]},
    )
    assert to_change(event) is None
