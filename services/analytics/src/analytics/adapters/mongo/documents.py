"""How a deal and a stage are stored: ``DealState`` to and from its ``opportunities`` document."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128

from analytics.adapters.mongo.collections import Document
from analytics.domain.deal import Credit, DealState, Move, Stay
from analytics.domain.model import DealStatus, Stage, StageKind

log = logging.getLogger(__name__)


def _dec(value: Decimal | None) -> Decimal128 | None:
    return Decimal128(value) if value is not None else None


def _undec(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return Decimal(str(value))


def stage_document(stage: Stage) -> Document:
    return {
        "id": stage.id,
        "name": stage.name,
        "order": stage.order,
        "kind": stage.kind.value,
        "probability": stage.probability,
        "rottingDays": stage.rotting_days,
    }


def stage_from_document(document: Mapping[str, Any]) -> Stage:
    rotting = document.get("rottingDays")
    return Stage(
        id=str(document["id"]),
        name=str(document["name"]),
        order=int(document["order"]),
        kind=StageKind(document["kind"]),
        probability=float(document.get("probability", 0.0)),
        rotting_days=int(rotting) if rotting is not None else None,
    )


def deal_document(state: DealState, revision: int) -> Document:
    stage = state.stage
    document: Document = {
        "_id": state.opportunity_id,
        "rev": revision,
        "lastSequence": state.last_sequence,
        "held": list(state.held),
        "gapsSkipped": state.gaps_skipped,
        "pipelineId": state.pipeline_id,
        "ownerId": state.owner_id,
        "customerId": state.customer_id,
        "title": state.title,
        "amount": (
            {"amount": _dec(state.amount), "currency": state.currency}
            if state.amount is not None
            else None
        ),
        "status": state.status.value if state.status is not None else None,
        "stage": stage_document(stage) if stage is not None else None,
        "stageId": stage.id if stage is not None else None,
        "stageOrder": stage.order if stage is not None else None,
        "stageKind": stage.kind.value if stage is not None else None,
        "createdAt": state.created_at,
        "updatedAt": state.updated_at,
        "closedAt": state.closed_at,
        "closedBy": state.closed_by,
        "expectedCloseDate": state.expected_close_date,
        "lostReason": state.lost_reason,
        "team": state.team,
        "source": {
            "channel": state.source_channel,
            "campaign": state.source_campaign,
            "medium": state.source_medium,
        },
        "maxOpenOrderReached": state.max_open_order,
        "reachedWon": state.reached_won,
        "stays": [
            {
                "stageId": s.stage_id,
                "stageName": s.stage_name,
                "order": s.order,
                "kind": s.kind.value,
                "enteredAt": s.entered_at,
                "leftAt": s.left_at,
                "ownerId": s.owner_id,
                "amount": _dec(s.amount),
                "currency": s.currency,
                "nextStageId": s.next_stage_id,
                "nextKind": s.next_kind.value if s.next_kind is not None else None,
            }
            for s in state.stays
        ],
        "moves": [
            {
                "at": m.at,
                "ownerId": m.owner_id,
                "fromStageId": m.from_stage_id,
                "fromOrder": m.from_order,
                "fromKind": m.from_kind.value if m.from_kind is not None else None,
                "toStageId": m.to_stage_id,
                "toOrder": m.to_order,
                "toKind": m.to_kind.value,
            }
            for m in state.moves
        ],
        "moveTimes": sorted({m.at for m in state.moves}),
        "credits": [
            {"stageId": k, "ownerId": c.owner_id, "advanced": c.advanced}
            for k, c in state.credits.items()
        ],
        "creditOwners": sorted({c.owner_id for c in state.credits.values() if c.owner_id}),
    }
    if state.held_since is not None:  # absent otherwise: the sparse index holds held deals only
        document["heldSince"] = state.held_since
    return document


def _kind(value: Any) -> StageKind | None:
    return StageKind(value) if value is not None else None


def deal_from_document(document: Mapping[str, Any]) -> DealState:
    amount = document.get("amount") or {}
    stage = document.get("stage")
    status = document.get("status")
    return DealState(
        opportunity_id=str(document["_id"]),
        last_sequence=int(document.get("lastSequence", 0)),
        held=[int(s) for s in document.get("held") or []],
        held_since=document.get("heldSince"),
        gaps_skipped=int(document.get("gapsSkipped", 0)),
        pipeline_id=document.get("pipelineId"),
        owner_id=document.get("ownerId"),
        customer_id=document.get("customerId"),
        title=document.get("title"),
        amount=_undec(amount.get("amount")),
        currency=amount.get("currency"),
        status=DealStatus(status) if status is not None else None,
        stage=stage_from_document(stage) if stage else None,
        created_at=document.get("createdAt"),
        updated_at=document.get("updatedAt"),
        closed_at=document.get("closedAt"),
        closed_by=document.get("closedBy"),
        expected_close_date=document.get("expectedCloseDate"),
        lost_reason=document.get("lostReason"),
        team=document.get("team"),
        source_channel=(document.get("source") or {}).get("channel"),
        source_campaign=(document.get("source") or {}).get("campaign"),
        source_medium=(document.get("source") or {}).get("medium"),
        max_open_order=document.get("maxOpenOrderReached"),
        reached_won=bool(document.get("reachedWon")),
        stays=[
            Stay(
                stage_id=s["stageId"],
                stage_name=s.get("stageName", ""),
                order=int(s["order"]),
                kind=StageKind(s["kind"]),
                entered_at=s["enteredAt"],
                left_at=s.get("leftAt"),
                owner_id=s.get("ownerId"),
                amount=_undec(s.get("amount")),
                currency=s.get("currency"),
                next_stage_id=s.get("nextStageId"),
                next_kind=_kind(s.get("nextKind")),
            )
            for s in document.get("stays") or []
        ],
        moves=[
            Move(
                at=m["at"],
                owner_id=m.get("ownerId"),
                from_stage_id=m.get("fromStageId"),
                from_order=m.get("fromOrder"),
                from_kind=_kind(m.get("fromKind")),
                to_stage_id=m["toStageId"],
                to_order=int(m["toOrder"]),
                to_kind=StageKind(m["toKind"]),
            )
            for m in document.get("moves") or []
        ],
        credits={
            c["stageId"]: Credit(c.get("ownerId"), bool(c.get("advanced")))
            for c in document.get("credits") or []
        },
    )
