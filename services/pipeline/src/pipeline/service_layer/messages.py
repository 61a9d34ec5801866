"""Domain events to CloudEvents: the integration contract (docs/CONVENTIONS.md, payloads;
contracts/events/*.schema.json)."""

from __future__ import annotations

from typing import Any

from crm_common.events import CloudEvent, iso, new_event
from pipeline.domain.events import DomainEvent
from pipeline.domain.model import Stage

SOURCE = "crm/pipeline"
TYPE_PREFIX = "pipeline.opportunity."


def stage_payload(stage: Stage) -> dict[str, Any]:
    return {
        "id": stage.id,
        "name": stage.name,
        "order": stage.order,
        "kind": str(stage.kind),
        "probability": stage.probability,
    }


def to_cloud_event(
    event: DomainEvent, *, actor_name: str | None = None, traceparent: str | None = None
) -> CloudEvent:
    snap = event.snapshot
    data: dict[str, Any] = {
        "opportunityId": snap.id,
        "customerId": snap.customer_id,
        "pipelineId": snap.pipeline_id,
        "ownerId": snap.owner_id,
        "title": snap.title,
        "amount": {"amount": snap.amount.formatted_amount(), "currency": snap.amount.currency},
        "status": str(snap.status),
        "fromStage": stage_payload(event.from_stage) if event.from_stage else None,
        "toStage": stage_payload(event.to_stage),
        "stages": [stage_payload(s) for s in event.pipeline.stages],
        "changedAt": iso(event.at),
    }
    return new_event(
        source=SOURCE,
        type=TYPE_PREFIX + event.name,
        subject=snap.id,
        sequence=snap.version,
        data=data,
        actor_id=event.actor_id,
        actor_name=actor_name,
        traceparent=traceparent,
        at=event.at,
    )
