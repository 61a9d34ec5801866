"""Outbound: domain events to CloudEvents, the integration contract (docs/CONVENTIONS.md,
payloads; contracts/events/*.schema.json). The one place where the pipeline's events take their
wire shape; inbound customer events are parsed in ``entrypoints/messages.py``."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

from crm_common.events import CloudEvent, iso, new_event
from pipeline.domain.catalogue import LineItem
from pipeline.domain.events import OpportunityEvent
from pipeline.domain.model import Opportunity, Stage
from pipeline.domain.money import Money
from pipeline.service_layer.ports import Actor

SOURCE = "crm/pipeline"
TYPE_PREFIX = "pipeline.opportunity."


def stage_payload(stage: Stage) -> dict[str, Any]:
    return {
        "id": stage.id,
        "name": stage.name,
        "order": stage.order,
        "kind": str(stage.kind),
        "probability": stage.probability,
        # Stage settings travel with the events: analytics' idle deals use the board's rule.
        "rottingDays": stage.rotting_days,
    }


def json_value(value: object) -> Any:
    """A domain value as it appears in event data."""
    if isinstance(value, Money):
        return {"amount": value.formatted_amount(), "currency": value.currency}
    if isinstance(value, list):
        return [json_value(item) for item in value]
    if isinstance(value, LineItem):
        return {
            "productId": value.product_id,
            "sku": value.sku,
            "name": value.name,
            "quantity": f"{value.quantity:f}",
            "unitPrice": json_value(value.unit_price),
            "discountPercent": f"{value.discount_percent:f}",
            "total": json_value(value.total),
        }
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    return value


def to_cloud_event(
    event: OpportunityEvent, *, actor_name: str | None = None, traceparent: str | None = None
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
        "stages": [stage_payload(s) for s in event.pipeline.active_stages],
        "changedAt": iso(event.at),
        "expectedCloseDate": json_value(snap.expected_close_date),
        "priority": str(snap.priority),
        "nextStep": snap.next_step,
        "team": snap.team,
        "source": snap.source,
    }
    if event.name == "lost":
        data["lostReason"] = snap.lost_reason
    if event.name == "updated":
        data["changes"] = {
            name: {"from": json_value(old), "to": json_value(new)}
            for name, (old, new) in event.changes.items()
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


def outbox_events(opportunity: Opportunity, actor: Actor) -> list[CloudEvent]:
    """The opportunity's recorded domain events as CloudEvents for its outbox, drained from the
    aggregate so that a retried write never appends them twice."""
    events = [
        to_cloud_event(e, actor_name=actor.name, traceparent=actor.traceparent)
        for e in opportunity.events
    ]
    opportunity.events.clear()
    return events
