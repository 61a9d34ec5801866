"""Use cases: record an incoming event, and answer the funnel report."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.domain.funnel import FunnelStep, cohort_funnel
from analytics.domain.model import ConversionMethod, OpportunityChange
from analytics.service_layer.ports import EventStore, FunnelReadModel, OpportunityProjection
from crm_common.errors import BadUserInput, Forbidden
from crm_common.identity import Identity

log = logging.getLogger(__name__)

#: Roles that may read reports over every owner's deals. Team scoping for managers needs the
#: team of each owner, which no event carries yet; until then a manager sees every owner.
_ALL_OWNERS_ROLES = frozenset({"manager", "admin", "service"})


async def record_event(
    event_id: str,
    envelope: Mapping[str, Any],
    change: OpportunityChange | None,
    *,
    events: EventStore,
    projection: OpportunityProjection,
) -> bool:
    """Store the event and fold it into the projections; ``False`` if it was already processed.

    The projection is written before the event id is recorded: a crash in between leaves the id
    unrecorded, the broker redelivers, and the (idempotent) projection update runs again. The
    reverse order could record an event whose count was never made.
    """
    if await events.contains(event_id):
        log.info("duplicate event skipped", extra={"event_id": event_id})
        return False
    if change is not None:
        await projection.apply(change)
    await events.append(event_id, envelope)
    return True


@dataclass(frozen=True, slots=True)
class FunnelReport:
    pipeline_id: str
    method: ConversionMethod
    steps: tuple[FunnelStep, ...]
    won: int
    lost: int


def _owner_scope(viewer: Identity, owner_id: str | None) -> str | None:
    """The owner filter the viewer may use: reps only ever see their own deals."""
    if viewer.roles & _ALL_OWNERS_ROLES:
        return owner_id
    if "rep" in viewer.roles:
        if owner_id is not None and owner_id != viewer.user_id:
            raise Forbidden("a rep may only read reports on their own deals")
        return viewer.user_id
    raise Forbidden("reading reports needs the role rep, manager, admin or service")


async def funnel_report(
    pipeline_id: str,
    *,
    viewer: Identity,
    method: ConversionMethod,
    created_from: datetime | None,
    created_to: datetime | None,
    owner_id: str | None,
    read_model: FunnelReadModel,
) -> FunnelReport:
    """The funnel of the pipeline (API.md ``funnel``).

    COHORT: the deals created in ``[created_from, created_to)`` (optionally of one owner),
    each counted once per OPEN stage it passed. An unknown pipeline (no event ever named it)
    gives a report with no steps and zero counts, not an error: analytics cannot tell a
    pipeline without deals from a pipeline that does not exist.
    """
    if method is not ConversionMethod.COHORT:
        raise BadUserInput(f"funnel method {method.value} is not yet supported", field="method")
    if created_from is not None and created_to is not None and created_from >= created_to:
        raise BadUserInput("'from' must be before 'to'", field="from")
    owner = _owner_scope(viewer, owner_id)
    stages = await read_model.stages(pipeline_id)
    if stages is None:
        return FunnelReport(pipeline_id=pipeline_id, method=method, steps=(), won=0, lost=0)
    deals = await read_model.cohort(
        pipeline_id, created_from=created_from, created_to=created_to, owner_id=owner
    )
    figures = cohort_funnel(stages, deals)
    return FunnelReport(
        pipeline_id=pipeline_id,
        method=method,
        steps=figures.steps,
        won=figures.won,
        lost=figures.lost,
    )
