"""``importOpportunities``: deals with their stage history from a CSV (see
``pipeline.service_layer.importing``). ``schema.py`` composes it into the Mutation type."""

from __future__ import annotations

import strawberry

from crm_common import access
from crm_common.access import Kind
from crm_common.errors import BadUserInput, Forbidden
from pipeline.entrypoints.graphql_types import Ctx, described_mutation
from pipeline.service_layer import importing
from pipeline.service_layer.services import new_id, now

#: The most characters of CSV one mutation takes (a larger file: split it).
MAX_CSV_CHARS = 5_000_000


@strawberry.type(description="A row of an import that was not written, and why.")
class OpportunityImportError:
    line: int = strawberry.field(description="Line of the file (the header is line 1).")
    field: str | None
    code: str
    message: str


@strawberry.type(description="What importOpportunities did (or would do, with dryRun).")
class OpportunityImportReport:
    dry_run: bool
    rows: int
    created: int
    failed: int
    errors: list[OpportunityImportError]
    ignored_columns: list[str]
    opportunity_ids: list[strawberry.ID]


@strawberry.type
class ImportMutation:
    @described_mutation(
        "Imports deals with their history (CSV: title, customerId, amount, currency, ownerId, "
        "pipelineId, expectedCloseDate, lostReason, stageHistory = 'Stage@date; Stage@date'): "
        "each deal's events carry those dates, so funnels, forecasts and backtests cover the "
        "past from day one. Rows in error are reported and not written."
    )
    async def import_opportunities(
        self, info: Ctx, csv: str, dry_run: bool = False
    ) -> OpportunityImportReport:
        actor = info.context.actor
        if not access.may_change_any(actor.viewer, Kind.DEAL):
            raise Forbidden("importing deals needs the role rep, manager or admin")
        if len(csv) > MAX_CSV_CHARS:
            raise BadUserInput(
                f"csv: at most {MAX_CSV_CHARS} characters", field="csv", reason="TOO_LARGE"
            )
        report = await importing.import_opportunities(
            csv, actor, info.context.services.uow, dry_run=dry_run, now=now(), make_id=new_id
        )
        return OpportunityImportReport(
            dry_run=report.dry_run,
            rows=report.rows,
            created=report.created,
            failed=report.failed,
            errors=[
                OpportunityImportError(line=e.line, field=e.field, code=e.code, message=e.message)
                for e in report.errors
            ],
            ignored_columns=report.ignored_columns,
            opportunity_ids=[strawberry.ID(i) for i in report.opportunity_ids],
        )
