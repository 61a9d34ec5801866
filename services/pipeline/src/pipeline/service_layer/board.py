"""The board and the idle filter as read use cases: load the pipeline, let storage count and
sum, let the domain (``domain/board.py``) shape the columns."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from crm_common.errors import NotFound
from pipeline.domain import board
from pipeline.domain.access import Scope
from pipeline.domain.model import OpportunityStatus, Pipeline
from pipeline.service_layer.ports import OpportunityFilter, OpportunityReads, PipelineRepository


@dataclass(frozen=True, slots=True)
class BoardQuery:
    pipeline_id: str
    scope: Scope
    owner_id: str | None = None
    idle_only: bool = False
    include_closed: bool = False


@dataclass(frozen=True, slots=True)
class BoardColumn:
    figures: board.ColumnFigures
    cards: OpportunityFilter  # the column's cards, for its paged connection


@dataclass(frozen=True, slots=True)
class BoardView:
    pipeline: Pipeline
    columns: list[BoardColumn]


async def board_of(
    query: BoardQuery,
    pipelines: PipelineRepository,
    reads: OpportunityReads,
    at: datetime,
) -> BoardView:
    pipeline = await pipelines.get(query.pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipeline {query.pipeline_id} does not exist")
    where = OpportunityFilter(
        pipeline_id=pipeline.id,
        status=None if query.include_closed else OpportunityStatus.OPEN,
        owner_id=query.owner_id,
        scope=query.scope,
        idle_before=board.idle_cutoffs(pipeline, at) if query.idle_only else None,
    )
    sums = await reads.column_totals(where)
    figures = board.columns(pipeline, sums, include_closed=query.include_closed)
    return BoardView(
        pipeline=pipeline,
        columns=[BoardColumn(f, replace(where, stage_id=f.stage.id)) for f in figures],
    )


async def idle_cutoffs_everywhere(
    pipelines: PipelineRepository, at: datetime
) -> dict[str, datetime]:
    """The idle cut-off of every OPEN stage of every pipeline (stage ids are unique)."""
    return {
        stage_id: cutoff
        for pipeline in await pipelines.list_all()
        for stage_id, cutoff in board.idle_cutoffs(pipeline, at).items()
    }
