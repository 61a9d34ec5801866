"""In-memory adapters of the ports (tests, property checks and the rebuild comparison)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from analytics.domain.deal import DealState
from analytics.domain.funnel import DealProgress
from analytics.domain.model import Stage
from analytics.service_layer.ports import ConcurrentUpdate


class MemoryEventStore:
    def __init__(self) -> None:
        self.events: dict[str, Mapping[str, Any]] = {}

    async def append(self, event_id: str, envelope: Mapping[str, Any]) -> bool:
        if event_id in self.events:
            return False
        self.events[event_id] = dict(envelope)
        return True

    async def append_many(self, items: list[tuple[str, Mapping[str, Any]]]) -> None:
        for event_id, envelope in items:
            await self.append(event_id, envelope)

    async def find(self, subject: str, sequence: int) -> Mapping[str, Any] | None:
        for envelope in self.events.values():
            if envelope.get("subject") == subject and envelope.get("sequence") == sequence:
                return envelope
        return None

    async def replay(self, pipeline_id: str | None = None) -> AsyncIterator[Mapping[str, Any]]:
        ordered = sorted(
            self.events.values(), key=lambda e: (str(e.get("subject")), int(e["sequence"]))
        )
        for envelope in ordered:
            if pipeline_id is None or envelope.get("data", {}).get("pipelineId") == pipeline_id:
                yield envelope


class MemoryDeals:
    """``DealRepository`` and ``ReadModel`` over dictionaries."""

    def __init__(self) -> None:
        self.states: dict[str, tuple[DealState, int]] = {}
        self.pipelines: dict[str, tuple[tuple[Stage, ...], datetime]] = {}
        self.changes: dict[str, int] = {}

    async def get(self, opportunity_id: str) -> tuple[DealState, int] | None:
        found = self.states.get(opportunity_id)
        return (copy.deepcopy(found[0]), found[1]) if found else None

    async def save(self, state: DealState, revision: int | None) -> None:
        current = self.states.get(state.opportunity_id)
        if (current[1] if current else None) != revision:
            raise ConcurrentUpdate(state.opportunity_id)
        self.states[state.opportunity_id] = (copy.deepcopy(state), (revision or 0) + 1)

    async def get_many(self, opportunity_ids: set[str]) -> dict[str, tuple[DealState, int]]:
        found = {key: await self.get(key) for key in opportunity_ids}
        return {key: value for key, value in found.items() if value is not None}

    async def save_many(self, states: list[tuple[DealState, int | None]]) -> set[str]:
        conflicts: set[str] = set()
        for state, revision in states:
            try:
                await self.save(state, revision)
            except ConcurrentUpdate:
                conflicts.add(state.opportunity_id)
        return conflicts

    async def note_pipeline(
        self, pipeline_id: str, stages: tuple[Stage, ...] | None, as_of: datetime
    ) -> None:
        self.changes[pipeline_id] = self.changes.get(pipeline_id, 0) + 1  # as bump()
        known = self.pipelines.get(pipeline_id)
        if stages is not None and (known is None or known[1] < as_of):
            self.pipelines[pipeline_id] = (stages, as_of)

    async def bump(self, pipeline_id: str) -> None:
        self.changes[pipeline_id] = self.changes.get(pipeline_id, 0) + 1

    async def held_before(self, moment: datetime) -> list[str]:
        return [
            key
            for key, (state, _) in self.states.items()
            if state.held_since is not None and state.held_since < moment
        ]

    # -- ReadModel ----------------------------------------------------------------------------

    async def stages(self, pipeline_id: str) -> list[Stage] | None:
        known = self.pipelines.get(pipeline_id)
        return list(known[0]) if known else None

    async def change_count(self, pipeline_id: str) -> int:
        return self.changes.get(pipeline_id, 0)

    async def cohort(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        owner_id: str | None,
    ) -> list[DealProgress]:
        deals = await self.deals(pipeline_id, created_from=created_from, created_to=created_to)
        return [
            DealProgress(d.status, d.max_open_order, d.reached_won)
            for d in deals
            if d.status is not None and (owner_id is None or d.owner_id == owner_id)
        ]

    async def deals(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        created_before: datetime | None = None,
        credited_to: str | None = None,
        moved_from: datetime | None = None,
        moved_to: datetime | None = None,
        open_only: bool = False,
        fields: tuple[str, ...] | None = None,
    ) -> list[DealState]:
        found: list[DealState] = []
        for state, _ in self.states.values():
            if state.pipeline_id != pipeline_id or state.status is None or state.created_at is None:
                continue
            if created_from is not None and state.created_at < created_from:
                continue
            if created_to is not None and state.created_at >= created_to:
                continue
            if created_before is not None and state.created_at > created_before:
                continue
            if credited_to is not None and credited_to not in {
                c.owner_id for c in state.credits.values()
            }:
                continue
            if (moved_from is not None or moved_to is not None) and not any(
                (moved_from is None or m.at >= moved_from) and (moved_to is None or m.at < moved_to)
                for m in state.moves
            ):
                continue
            if open_only and not state.is_open:
                continue
            found.append(copy.deepcopy(state))
        return found
