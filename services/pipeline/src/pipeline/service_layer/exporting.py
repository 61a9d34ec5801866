"""The opportunities export: every deal the caller may see, one row each, newest first.

The rows are what a spreadsheet of the deals holds (and what ``importOpportunities`` reads
back): the deal, its stage by id and name, amount and currency apart, owner and team, dates,
and the lead source the deal took from its customer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from crm_common import access
from crm_common.access import Caller, Kind
from crm_common.errors import Forbidden
from pipeline.domain.model import Opportunity
from pipeline.service_layer.ports import OpportunityFilter, OpportunityReads, PipelineRepository

EXPORT_COLUMNS = (
    "id",
    "title",
    "customerId",
    "pipelineId",
    "stageId",
    "stageName",
    "status",
    "amount",
    "currency",
    "ownerId",
    "team",
    "expectedCloseDate",
    "createdAt",
    "updatedAt",
    "closedAt",
    "lostReason",
    "sourceChannel",
    "sourceCampaign",
    "sourceMedium",
)
#: Deals read per page from the store while streaming.
PAGE = 500


def export_row(opportunity: Opportunity, stage_names: dict[str, str]) -> list[str]:
    source = opportunity.source or {}
    return [
        opportunity.id,
        opportunity.title,
        opportunity.customer_id,
        opportunity.pipeline_id,
        opportunity.stage_id,
        stage_names.get(opportunity.stage_id, ""),
        str(opportunity.status),
        opportunity.amount.formatted_amount(),
        opportunity.amount.currency,
        opportunity.owner_id,
        opportunity.team or "",
        opportunity.expected_close_date.isoformat() if opportunity.expected_close_date else "",
        opportunity.created_at.isoformat(),
        opportunity.updated_at.isoformat(),
        opportunity.closed_at.isoformat() if opportunity.closed_at else "",
        opportunity.lost_reason or "",
        source.get("channel", ""),
        source.get("campaign", ""),
        source.get("medium", ""),
    ]


async def export_rows(
    viewer: Caller, pipelines: PipelineRepository, opportunities: OpportunityReads
) -> AsyncIterator[list[str]]:
    """The header, then one row per visible deal. The role check runs before the first row."""
    scope = access.read_scope(viewer, Kind.DEAL)
    if scope.nothing:
        raise Forbidden("exporting deals needs the role rep, manager, admin or service")
    yield list(EXPORT_COLUMNS)
    stage_names = {
        stage.id: stage.name for pipeline in await pipelines.list_all() for stage in pipeline.stages
    }
    after: str | None = None
    while True:
        page = await opportunities.page(OpportunityFilter(scope=scope), PAGE, after)
        for _, opportunity in page.items:
            yield export_row(opportunity, stage_names)
        if not page.has_next_page or not page.items:
            return
        after = page.items[-1][0]
