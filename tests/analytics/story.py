"""Builds ``pipeline.opportunity.*`` CloudEvents as the pipeline emits them (docs/CONVENTIONS.md),
with explicit times, amounts, owners and expected close dates, for the analytics tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_common.events import CloudEvent, iso, new_event


def stage(stage_id: str, name: str, order: int, kind: str, probability: float) -> dict[str, Any]:
    return {"id": stage_id, "name": name, "order": order, "kind": kind, "probability": probability}


@dataclass
class _Deal:
    owner: str
    amount: str
    currency: str
    stage: dict[str, Any]
    expected_close: str | None
    sequence: int = 0
    title: str = ""
    team: str | None = "team-1"
    customer: str = field(default_factory=lambda: str(uuid.uuid4()))


class Story:
    """One pipeline (its own id) and the events of its deals."""

    def __init__(self, stages: list[dict[str, Any]] | None = None, prefix: str = "") -> None:
        self.pipeline_id = f"{prefix}pipeline-{uuid.uuid4()}"
        p = self.pipeline_id[-6:]
        self.stages = stages or [
            stage(f"{p}-a", "Initial contact", 1, "OPEN", 0.1),
            stage(f"{p}-b", "Needs analysis", 2, "OPEN", 0.25),
            stage(f"{p}-c", "Proposal", 3, "OPEN", 0.5),
            stage(f"{p}-d", "Negotiation", 4, "OPEN", 0.75),
            stage(f"{p}-won", "Won", 5, "WON", 1.0),
            stage(f"{p}-lost", "Lost", 6, "LOST", 0.0),
        ]
        self.deals: dict[str, _Deal] = {}
        self.events: list[CloudEvent] = []

    def stage(self, name: str) -> dict[str, Any]:
        return next(s for s in self.stages if s["name"] == name or s["id"] == name)

    def _event(
        self, opportunity_id: str, event_type: str, at: datetime, from_stage: Any, **extra: Any
    ) -> CloudEvent:
        deal = self.deals[opportunity_id]
        deal.sequence += 1
        status = {"OPEN": "OPEN", "WON": "WON", "LOST": "LOST"}[deal.stage["kind"]]
        data: dict[str, Any] = {
            "opportunityId": opportunity_id,
            "customerId": deal.customer,
            "pipelineId": self.pipeline_id,
            "ownerId": deal.owner,
            "title": deal.title,
            "amount": {"amount": deal.amount, "currency": deal.currency},
            "status": status,
            "fromStage": from_stage,
            "toStage": deal.stage,
            "stages": self.stages,
            "changedAt": iso(at),
            "expectedCloseDate": deal.expected_close,
            "team": deal.team,
            **extra,
        }
        event = new_event(
            source="/crm/pipeline",
            type=event_type,
            subject=opportunity_id,
            sequence=deal.sequence,
            data=data,
            actor_id=deal.owner,
            at=at,
        )
        self.events.append(event)
        return event

    def create(
        self,
        at: datetime,
        *,
        stage: str = "Initial contact",
        owner: str = "rep-1",
        amount: str = "1000.00",
        currency: str = "EUR",
        expected_close: str | None = None,
        opportunity_id: str | None = None,
        team: str | None = "team-1",
    ) -> str:
        opportunity_id = opportunity_id or str(uuid.uuid4())
        self.deals[opportunity_id] = _Deal(
            owner=owner,
            amount=amount,
            currency=currency,
            stage=self.stage(stage),
            expected_close=expected_close,
            title=f"Deal {opportunity_id[:8]}",
            team=team,
        )
        self._event(opportunity_id, "pipeline.opportunity.created", at, None)
        return opportunity_id

    def move(self, opportunity_id: str, stage: str, at: datetime) -> CloudEvent:
        deal = self.deals[opportunity_id]
        source = deal.stage
        deal.stage = self.stage(stage)
        kind = deal.stage["kind"]
        extra: dict[str, Any] = {}
        if kind == "WON":
            event_type = "pipeline.opportunity.won"
        elif kind == "LOST":
            event_type = "pipeline.opportunity.lost"
            extra["lostReason"] = "price"
        elif source["kind"] != "OPEN":
            event_type = "pipeline.opportunity.reopened"
        else:
            event_type = "pipeline.opportunity.stage_changed"
        return self._event(opportunity_id, event_type, at, source, **extra)

    def update(
        self,
        opportunity_id: str,
        at: datetime,
        *,
        owner: str | None = None,
        amount: str | None = None,
        expected_close: str | None = None,
    ) -> CloudEvent:
        deal = self.deals[opportunity_id]
        changes: dict[str, Any] = {}
        if owner is not None:
            changes["ownerId"] = {"from": deal.owner, "to": owner}
            deal.owner = owner
        if amount is not None:
            changes["amount"] = {"from": deal.amount, "to": amount}
            deal.amount = amount
        if expected_close is not None:
            changes["expectedCloseDate"] = {"from": deal.expected_close, "to": expected_close}
            deal.expected_close = expected_close
        return self._event(
            opportunity_id, "pipeline.opportunity.updated", at, None, changes=changes
        )
