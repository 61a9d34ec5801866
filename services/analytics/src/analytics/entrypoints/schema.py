"""The analytics subgraph (Strawberry, Apollo Federation 2): reports over the projections.

Resolvers only translate between GraphQL and the service layer; the figures come from
``analytics.service_layer.services`` and the arithmetic from ``analytics.domain``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Final

import strawberry
from strawberry.federation.schema_directives import Link
from strawberry.types import Info

from analytics.domain import model
from analytics.entrypoints.context import Context
from analytics.service_layer import services
from crm_common.graphql import ErrorCodes


@strawberry.enum(description="How a funnel counts deals.")
class ConversionMethod(Enum):
    COHORT = "COHORT"
    SNAPSHOT = "SNAPSHOT"


@strawberry.enum(description="How a forecast is computed.")
class ForecastMethod(Enum):
    WEIGHTED = "WEIGHTED"
    HISTORICAL = "HISTORICAL"
    MARKOV = "MARKOV"


@strawberry.type(description="One OPEN stage of a funnel.")
class FunnelStep:
    stage_id: strawberry.ID
    stage_name: str
    entered: int = strawberry.field(description="Deals that reached the stage (or skipped it).")
    advanced: int = strawberry.field(
        description="Of those, deals that reached a later OPEN stage or a WON stage."
    )
    conversion_rate: float = strawberry.field(description="advanced / entered; 0 if none.")
    cumulative_rate: float = strawberry.field(
        description="entered / entered of the first step; 0 if none."
    )


@strawberry.type(description="Stage-to-stage conversion of a pipeline's deals.")
class FunnelReport:
    pipeline_id: strawberry.ID
    method: ConversionMethod
    steps: list[FunnelStep]
    won: int
    lost: int


def _utc(moment: datetime | None) -> datetime | None:
    """Client times without an offset are taken as UTC (API.md: times are UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _report(report: services.FunnelReport) -> FunnelReport:
    return FunnelReport(
        pipeline_id=strawberry.ID(report.pipeline_id),
        method=ConversionMethod(report.method.value),
        steps=[
            FunnelStep(
                stage_id=strawberry.ID(step.stage_id),
                stage_name=step.stage_name,
                entered=step.entered,
                advanced=step.advanced,
                conversion_rate=step.conversion_rate,
                cumulative_rate=step.cumulative_rate,
            )
            for step in report.steps
        ],
        won=report.won,
        lost=report.lost,
    )


async def resolve_funnel(
    info: Info[Context, None],
    pipeline_id: strawberry.ID,
    from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
    to: datetime | None = None,
    method: ConversionMethod | None = ConversionMethod.COHORT,
    owner_id: strawberry.ID | None = None,
) -> FunnelReport:
    context = info.context
    report = await services.funnel_report(
        str(pipeline_id),
        viewer=context.identity,
        method=model.ConversionMethod((method or ConversionMethod.COHORT).value),
        created_from=_utc(from_),
        created_to=_utc(to),
        owner_id=str(owner_id) if owner_id is not None else None,
        read_model=context.resources.funnel_read_model,
    )
    return _report(report)


@strawberry.type
class Query:
    funnel: FunnelReport = strawberry.field(
        resolver=resolve_funnel,
        description=(
            "The pipeline's funnel. COHORT: deals created in [from, to) (every deal when no "
            "bound is given), optionally of one owner, each counted once per OPEN stage it "
            "passed. A pipeline analytics has never seen gives no steps. SNAPSHOT is not yet "
            "supported."
        ),
    )


#: Federation version of this subgraph (Strawberry's default; every subgraph speaks Fed 2).
FEDERATION_VERSION: Final = "2.11"

schema = strawberry.federation.Schema(
    query=Query,
    types=[ForecastMethod],
    extensions=[ErrorCodes],
    federation_version=FEDERATION_VERSION,
    # Strawberry writes ``@link`` only for the federation directives a schema uses, and this
    # subgraph uses none yet: without an explicit link, composition would take it for a
    # Federation 1 subgraph. Remove this once a federation directive (@key, @shareable ...)
    # is used here, or Strawberry's own @link for the same URL would duplicate it.
    schema_directives=[
        Link(url=f"https://specs.apollo.dev/federation/v{FEDERATION_VERSION}", import_=[])
    ],
)
