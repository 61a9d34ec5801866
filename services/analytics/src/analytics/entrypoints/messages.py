"""From a received CloudEvent to the domain's ``OpportunityChange``.

``pipeline.opportunity.created`` and ``pipeline.opportunity.stage_changed`` have the payload of
docs/CONVENTIONS.md, and so have ``won``, ``lost`` and ``reopened`` (same shape); they are
validated strictly: an event that does not match is rejected (and dead-lettered by the
consumer). ``updated`` and any other ``pipeline.opportunity.*`` type are applied for whatever of
the same fields they carry (``changes`` is not needed: the current values are in the payload).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from analytics.domain.model import (
    DealStatus,
    InvalidEvent,
    LeadSource,
    Money,
    OpportunityChange,
    Stage,
    StageKind,
)
from crm_common.events import CloudEvent

log = logging.getLogger(__name__)

STRICT_TYPES = frozenset(
    {
        "pipeline.opportunity.created",
        "pipeline.opportunity.stage_changed",
        "pipeline.opportunity.won",
        "pipeline.opportunity.lost",
        "pipeline.opportunity.reopened",
    }
)
OPPORTUNITY_PREFIX = "pipeline.opportunity."

Id = Annotated[str, Field(min_length=1)]
_TIME = TypeAdapter(AwareDatetime)


class _Payload(BaseModel):
    # Tolerant reader: fields added to the payload later must not break this consumer.
    model_config = ConfigDict(extra="ignore", frozen=True)


class StagePayload(_Payload):
    id: Id
    name: str
    order: int
    kind: Literal["OPEN", "WON", "LOST"]
    probability: float
    rottingDays: int | None = None

    def to_domain(self) -> Stage:
        return Stage(
            id=self.id,
            name=self.name,
            order=self.order,
            kind=StageKind(self.kind),
            probability=self.probability,
            rotting_days=self.rottingDays,
        )


class SourcePayload(_Payload):
    channel: str | None = None
    campaign: str | None = None
    medium: str | None = None

    def to_domain(self) -> LeadSource:
        return LeadSource(channel=self.channel, campaign=self.campaign, medium=self.medium)


class MoneyPayload(_Payload):
    amount: Decimal
    currency: str = Field(min_length=3, max_length=3)


class OpportunityPayload(_Payload):
    """``created`` / ``stage_changed`` (docs/CONVENTIONS.md, "Event payloads")."""

    opportunityId: Id
    customerId: Id
    pipelineId: Id
    ownerId: Id
    title: str
    amount: MoneyPayload
    status: Literal["OPEN", "WON", "LOST"]
    fromStage: StagePayload | None
    toStage: StagePayload
    stages: list[StagePayload] = Field(min_length=1)
    changedAt: AwareDatetime
    expectedCloseDate: str | None = None
    lostReason: str | None = None
    team: str | None = None
    source: SourcePayload | None = None


class PartialOpportunityPayload(_Payload):
    """Any other opportunity event: the same fields, each optional."""

    opportunityId: str | None = None
    customerId: str | None = None
    pipelineId: str | None = None
    ownerId: str | None = None
    title: str | None = None
    amount: MoneyPayload | None = None
    status: Literal["OPEN", "WON", "LOST"] | None = None
    fromStage: StagePayload | None = None
    toStage: StagePayload | None = None
    stages: list[StagePayload] | None = None
    changedAt: AwareDatetime | None = None
    expectedCloseDate: str | None = None
    lostReason: str | None = None
    team: str | None = None
    source: SourcePayload | None = None


def _event_time(event: CloudEvent) -> datetime:
    try:
        return _TIME.validate_python(event.time)
    except ValidationError as exc:
        raise InvalidEvent(f"event time {event.time!r} is not a timezone-aware time") from exc


def to_change(event: CloudEvent) -> OpportunityChange | None:
    """The change the event describes; ``None`` for an event that only goes to the store.

    Raises ``InvalidEvent`` when the event cannot be used (a poison message).
    """
    if not event.type.startswith(OPPORTUNITY_PREFIX):
        return None
    payload: OpportunityPayload | PartialOpportunityPayload
    if event.type in STRICT_TYPES:
        try:
            payload = OpportunityPayload.model_validate(event.data)
        except ValidationError as exc:
            raise InvalidEvent(f"{event.type} payload does not match the contract: {exc}") from exc
    else:
        try:
            payload = PartialOpportunityPayload.model_validate(event.data)
        except ValidationError:
            # No contract to break: keep the event in the store; the projection only counts
            # its sequence (so that later events are not held behind it) and its time.
            log.info("event stored without projection", extra={"event_id": event.id})
            return OpportunityChange(
                event_id=event.id,
                event_type=event.type,
                opportunity_id=event.subject,
                sequence=event.sequence,
                changed_at=_event_time(event),
            )
    if payload.opportunityId is not None and payload.opportunityId != event.subject:
        raise InvalidEvent(
            f"subject {event.subject!r} differs from opportunityId {payload.opportunityId!r}"
        )
    return OpportunityChange(
        event_id=event.id,
        event_type=event.type,
        opportunity_id=event.subject,
        sequence=event.sequence,
        changed_at=payload.changedAt or _event_time(event),
        pipeline_id=payload.pipelineId,
        owner_id=payload.ownerId,
        customer_id=payload.customerId,
        title=payload.title,
        amount=(
            Money(amount=payload.amount.amount, currency=payload.amount.currency)
            if payload.amount is not None
            else None
        ),
        status=DealStatus(payload.status) if payload.status is not None else None,
        from_stage=payload.fromStage.to_domain() if payload.fromStage else None,
        to_stage=payload.toStage.to_domain() if payload.toStage else None,
        stages=(
            tuple(stage.to_domain() for stage in payload.stages)
            if payload.stages is not None
            else None
        ),
        expected_close_date=(
            (payload.expectedCloseDate or "")
            if "expectedCloseDate" in payload.model_fields_set
            else None
        ),
        lost_reason=payload.lostReason,
        team=(payload.team or "") if "team" in payload.model_fields_set else None,
        source=(
            (payload.source or SourcePayload()).to_domain()
            if "source" in payload.model_fields_set
            else None
        ),
    )


def stored_change(envelope: Mapping[str, Any]) -> OpportunityChange | None:
    """The change of an envelope read back from the event store (``None``: not applicable)."""
    fields = {k: v for k, v in envelope.items() if k in CloudEvent.model_fields}
    try:
        return to_change(CloudEvent.model_validate(fields))
    except (ValidationError, InvalidEvent):
        return None


def notified_pipeline(event: CloudEvent) -> str | None:
    """The pipeline an ``analytics.projection.updated`` notice names (None: unreadable)."""
    pipeline_id = event.data.get("pipelineId")
    return pipeline_id if isinstance(pipeline_id, str) else None
