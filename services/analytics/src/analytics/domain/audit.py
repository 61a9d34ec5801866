"""The audit trail across the suite, read from the events analytics stores.

Every CloudEvent records its actor (``actorid``), its subject and its time; what changed is in
its data. One event is one audit entry: ``changes`` are the fields it set, each with the value
before (``None`` when the event does not say, e.g. on creation) and after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

OPPORTUNITY = "OPPORTUNITY"
CUSTOMER = "CUSTOMER"
TRANSFER = "OWNERSHIP_TRANSFER"


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """The filter of ``auditLog`` (each part optional; all given parts must hold)."""

    actor_id: str | None = None
    subject_ids: Sequence[str] | None = None
    types: Sequence[str] | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    event_id: str
    at: datetime
    time: str
    actor_id: str | None
    actor_name: str | None
    subject_type: str
    subject_id: str
    type: str
    team: str | None
    changes: tuple[Change, ...]


def subject_type(event_type: str) -> str:
    if event_type.startswith("pipeline.opportunity."):
        return OPPORTUNITY
    if event_type.startswith("customers.ownership."):
        return TRANSFER
    return CUSTOMER


def team_of(data: Mapping[str, Any]) -> str | None:
    """The changed record's team when it changed (what a manager's reach is decided by)."""
    team = data.get("team", data.get("survivorTeam"))
    return team if isinstance(team, str) and team else None


def _stage_name(stage: object) -> object:
    return stage.get("name") if isinstance(stage, dict) else None


_CREATED_FIELDS = {
    "pipeline.opportunity.created": (
        "title",
        "amount",
        "ownerId",
        "customerId",
        "expectedCloseDate",
        "source",
    ),
    "customers.customer.created": ("name", "kind", "ownerId", "lifecycle", "team", "source"),
}


def changes_of(event_type: str, data: Mapping[str, Any]) -> tuple[Change, ...]:
    """The fields the event changed, with before and after where the event carries them."""
    if isinstance(data.get("changes"), dict):
        return tuple(
            Change(name, value.get("from"), value.get("to"))
            for name, value in sorted(data["changes"].items())
            if isinstance(value, dict)
        )
    if event_type in _CREATED_FIELDS:
        found = [Change(n, None, data[n]) for n in _CREATED_FIELDS[event_type] if data.get(n)]
        if "toStage" in data:
            found.append(Change("stage", None, _stage_name(data["toStage"])))
        return tuple(found)
    if event_type.startswith("pipeline.opportunity."):
        found = [
            Change("stage", _stage_name(data.get("fromStage")), _stage_name(data.get("toStage")))
        ]
        if "status" in data:
            found.append(Change("status", None, data["status"]))
        if data.get("lostReason"):
            found.append(Change("lostReason", None, data["lostReason"]))
        return tuple(found)
    if event_type == "customers.customer.lifecycle_changed":
        return (Change("lifecycle", data.get("from"), data.get("to")),)
    if event_type == "customers.customer.updated":
        return (
            Change("ownerId", None, data.get("ownerId")),
            Change("team", None, data.get("team")),
        )
    if event_type == "customers.customer.merged":
        return (Change("mergedIds", None, data.get("mergedIds")),)
    if event_type == "customers.ownership.transferred":
        return (
            Change("ownerId", data.get("fromOwnerId"), data.get("toOwnerId")),
            Change("customerIds", None, data.get("customerIds")),
        )
    return ()


def record_of(envelope: Mapping[str, Any]) -> AuditRecord:
    """The audit entry of a stored event envelope."""
    data = envelope.get("data") or {}
    event_type = str(envelope.get("type", ""))
    time = str(envelope.get("time", ""))
    return AuditRecord(
        event_id=str(envelope.get("_id", envelope.get("id", ""))),
        at=datetime.fromisoformat(time.replace("Z", "+00:00")),
        time=time,
        actor_id=envelope.get("actorid"),
        actor_name=envelope.get("actorname"),
        subject_type=subject_type(event_type),
        subject_id=str(envelope.get("subject", "")),
        type=event_type,
        team=team_of(data),
        changes=changes_of(event_type, data),
    )
