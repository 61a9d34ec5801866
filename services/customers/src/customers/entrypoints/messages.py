"""Inbound: the pipeline's CloudEvents as the archive's ``DealStep``. The one place where a
consumed event's wire shape is read (outbound events take theirs in ``adapters/outbox.py``);
an event no retry can make valid raises ``InvalidEvent``, which the consumer dead-letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm_common.events import CloudEvent
from customers.domain.commands import DealStep, StepKind
from customers.domain.values import utcnow

CREATED = "pipeline.opportunity.created"
STAGE_CHANGED = "pipeline.opportunity.stage_changed"
WON = "pipeline.opportunity.won"
LOST = "pipeline.opportunity.lost"
REOPENED = "pipeline.opportunity.reopened"

STAGE_FIELDS = ("id", "name", "kind")
OTHER_STEPS = {CREATED: StepKind.OPENED, REOPENED: StepKind.REOPENED, STAGE_CHANGED: StepKind.MOVED}


class InvalidEvent(ValueError):
    """An event no retry can make valid (the consumer dead-letters it)."""

    @property
    def message(self) -> str:
        return str(self)


def step_kind(event_type: str, status: object) -> StepKind | None:
    """Which step an event records; None for ``updated`` and others (not a timeline step).
    A ``stage_changed`` into WON or LOST is that close (the ``won`` event of the same move
    has the same sequence, so both make one step)."""
    if event_type == WON or (event_type == STAGE_CHANGED and status == "WON"):
        return StepKind.WON
    if event_type == LOST or (event_type == STAGE_CHANGED and status == "LOST"):
        return StepKind.LOST
    return {
        CREATED: StepKind.OPENED,
        REOPENED: StepKind.REOPENED,
        STAGE_CHANGED: StepKind.MOVED,
    }.get(event_type)


def deal_step(event: CloudEvent) -> DealStep | None:
    data = event.data
    kind = step_kind(event.type, data.get("status"))
    if kind is None:
        return None
    opportunity_id = str(data.get("opportunityId") or "")
    customer_id = str(data.get("customerId") or "")
    if not opportunity_id or not customer_id:
        raise InvalidEvent("event without opportunityId or customerId")
    status = data.get("status")
    reason = data.get("lostReason")
    amount = data.get("amount")
    return DealStep(
        kind=kind,
        event_type=event.type,
        opportunity_id=opportunity_id,
        customer_id=customer_id,
        sequence=event.sequence,
        at=_when(data.get("changedAt") or event.time),
        title=str(data.get("title") or opportunity_id),
        from_stage=_stage(data.get("fromStage")),
        to_stage=_stage(data.get("toStage")),
        status=str(status) if status is not None else None,
        amount=amount if isinstance(amount, dict) else None,
        lost_reason=str(reason) if reason else None,
        actor_id=event.actorid,
        actor_name=event.actorname,
    )


def _stage(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {k: v for k, v in value.items() if k in STAGE_FIELDS}


def _when(raw: object) -> datetime:
    """When the step happened; an unreadable or naive time reads as now."""
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return utcnow()
    return moment if moment.tzinfo else utcnow()
