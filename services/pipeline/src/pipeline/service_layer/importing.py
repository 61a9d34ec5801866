"""``importOpportunities``: deals with their history, so forecasts and backtests have a past.

A team leaving a spreadsheet brings its deals with the dates they went through each stage.
Each row becomes a deal whose events carry those dates (created at the first stage's date,
then one move per stage, then the win or loss), so analytics folds them as if they had
happened then: the funnel, durations, win rates, forecasts and backtests cover that past.

Columns (header row, any order; unknown columns are reported as ignored):
``title``, ``customerId``, ``amount``, ``currency`` (required); ``ownerId`` (default: the
caller), ``pipelineId`` (default ``default``), ``expectedCloseDate`` (YYYY-MM-DD),
``lostReason`` (for a deal that ends in a LOST stage) and ``stageHistory``: the stages in the
order the deal went through them, each ``<stage name or id>@<date or UTC time>``, separated by
``;`` (e.g. ``Initial contact@2026-01-05; Proposal@2026-02-10; Won@2026-03-01``). Without
it the deal opens today in the first stage. Dates must not go backwards nor lie ahead.

Every row is checked first; a row in error is reported (line, field, code, message) and not
written; the others are (unless ``dryRun``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from crm_common.errors import Forbidden
from pipeline.domain import access
from pipeline.domain.access import AccessDenied
from pipeline.domain.errors import DomainError
from pipeline.domain.model import (
    DEFAULT_PIPELINE_ID,
    Opportunity,
    Pipeline,
    Stage,
    StageKind,
    check_id_shape,
)
from pipeline.domain.money import Money
from pipeline.domain.ranking import rank_between
from pipeline.service_layer.ports import Actor
from pipeline.service_layer.unit_of_work import UnitOfWork

COLUMNS = (
    "title",
    "customerId",
    "amount",
    "currency",
    "ownerId",
    "pipelineId",
    "expectedCloseDate",
    "lostReason",
    "stageHistory",
)
REQUIRED = ("title", "customerId", "amount", "currency")
MAX_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str | None
    code: str
    message: str


@dataclass(slots=True)
class ImportReport:
    dry_run: bool
    rows: int = 0
    created: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    opportunity_ids: list[str] = field(default_factory=list)


class RowProblem(Exception):
    def __init__(self, field: str | None, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


def _moment(text: str) -> datetime:
    value = text.strip()
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stage(pipeline: Pipeline, name_or_id: str) -> Stage:
    wanted = name_or_id.strip()
    for stage in pipeline.stages:
        if stage.id == wanted or stage.name.casefold() == wanted.casefold():
            return stage
    raise RowProblem("stageHistory", "UNKNOWN_STAGE", f"no stage {wanted!r} in {pipeline.id}")


def parse_history(text: str, pipeline: Pipeline, now: datetime) -> list[tuple[Stage, datetime]]:
    steps: list[tuple[Stage, datetime]] = []
    for part in (p for p in text.split(";") if p.strip()):
        name, at_sign, when = part.rpartition("@")
        if not at_sign or not name.strip():
            raise RowProblem(
                "stageHistory", "INVALID_HISTORY", f"{part.strip()!r} is not <stage>@<date>"
            )
        try:
            moment = _moment(when)
        except ValueError as exc:
            raise RowProblem(
                "stageHistory", "INVALID_DATE", f"{when.strip()!r} is not a date"
            ) from exc
        if moment > now:
            raise RowProblem("stageHistory", "FUTURE_DATE", f"{when.strip()} lies ahead")
        if steps and moment < steps[-1][1]:
            raise RowProblem("stageHistory", "DATES_GO_BACK", "the stage dates go backwards")
        steps.append((_stage(pipeline, name), moment))
    if steps and steps[0][0].is_closed:
        raise RowProblem("stageHistory", "STARTS_CLOSED", "the history starts in an OPEN stage")
    if any(stage.is_closed for stage, _ in steps[:-1]):
        raise RowProblem(
            "stageHistory", "CLOSED_BEFORE_END", "only the last stage may be WON or LOST"
        )
    return steps


def build(
    row: dict[str, str],
    pipeline: Pipeline,
    actor: Actor,
    make_id: str,
    now: datetime,
    source: dict[str, str] | None = None,
) -> Opportunity:
    """The deal of one row with its whole history recorded as events (raises RowProblem)."""
    for name in REQUIRED:
        if not (row.get(name) or "").strip():
            raise RowProblem(name, "REQUIRED", f"{name} is required")
    try:
        amount = Money.of(row["amount"].strip(), row["currency"].strip().upper())
        customer_id = check_id_shape(row["customerId"].strip(), "customerId")
        owner_id = check_id_shape((row.get("ownerId") or "").strip() or actor.user_id, "ownerId")
        team = access.assignment(actor.viewer, owner_id, None, explicit_team=None)
        close = (row.get("expectedCloseDate") or "").strip()
        expected = date.fromisoformat(close) if close else None
    except AccessDenied as exc:
        raise RowProblem("ownerId", "FORBIDDEN", exc.message) from exc
    except DomainError as exc:
        raise RowProblem(None, "INVALID_VALUE", exc.message) from exc
    except ValueError as exc:
        raise RowProblem("expectedCloseDate", "INVALID_DATE", str(exc)) from exc
    steps = parse_history(row.get("stageHistory") or "", pipeline, now) or [
        (pipeline.first_stage, now)
    ]
    first_stage, opened_at = steps[0]
    position = rank_between(None, None)
    try:
        opportunity = Opportunity.create(
            id=make_id,
            title=row["title"],
            customer_id=customer_id,
            amount=amount,
            owner_id=owner_id,
            pipeline=pipeline,
            stage=first_stage,
            position=position,
            expected_close_date=expected,
            actor_id=actor.user_id,
            at=opened_at,
            team=team,
            source=source,
        )
        for stage, at in steps[1:]:
            if stage.kind is StageKind.WON:
                opportunity.win(pipeline=pipeline, position=position, actor_id=actor.user_id, at=at)
            elif stage.kind is StageKind.LOST:
                reason = (row.get("lostReason") or "").strip() or "imported"
                opportunity.lose(
                    pipeline=pipeline,
                    reason=reason,
                    position=position,
                    actor_id=actor.user_id,
                    at=at,
                )
            else:
                opportunity.move(
                    pipeline=pipeline,
                    to_stage_id=stage.id,
                    position=position,
                    actor_id=actor.user_id,
                    at=at,
                )
    except DomainError as exc:
        raise RowProblem("stageHistory", "INVALID_HISTORY", exc.message) from exc
    return opportunity


async def import_opportunities(
    text: str,
    actor: Actor,
    uow: UnitOfWork,
    *,
    dry_run: bool,
    now: datetime,
    make_id: Callable[[], str],
) -> ImportReport:
    """Checks every row, then writes the good ones (nothing with ``dry_run``)."""
    from pipeline.service_layer.services import require_customer_visible

    report = ImportReport(dry_run=dry_run)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        report.errors.append(RowError(1, missing[0], "MISSING_COLUMN", f"no column {missing[0]}"))
        report.failed = 1
        return report
    report.ignored_columns = [h for h in header if h not in COLUMNS]
    pipelines: dict[str, Pipeline] = {}
    ready: list[Opportunity] = []
    for line, raw in enumerate(reader, start=2):
        if report.rows >= MAX_ROWS:
            report.errors.append(RowError(line, None, "TOO_MANY_ROWS", f"at most {MAX_ROWS}"))
            report.failed += 1
            break
        report.rows += 1
        row = {(k or "").strip(): (v or "") for k, v in raw.items()}
        try:
            pipeline_id = row.get("pipelineId", "").strip() or DEFAULT_PIPELINE_ID
            if pipeline_id not in pipelines:
                found = await uow.pipelines.get(pipeline_id)
                if found is None:
                    raise RowProblem("pipelineId", "UNKNOWN_PIPELINE", f"no pipeline {pipeline_id}")
                pipelines[pipeline_id] = found
            customer_id = row.get("customerId", "").strip()
            if customer_id and not await uow.customers.exists(customer_id):
                raise RowProblem("customerId", "UNKNOWN_CUSTOMER", f"no customer {customer_id}")
            if customer_id:
                customer_id = await uow.customers.survivor_of(customer_id) or customer_id
                row["customerId"] = customer_id
                try:
                    await require_customer_visible(uow.customers, actor, customer_id)
                except Forbidden as exc:
                    raise RowProblem("customerId", "FORBIDDEN", exc.message) from exc
            source = await uow.customers.source_of(customer_id) if customer_id else None
            opportunity = build(row, pipelines[pipeline_id], actor, make_id(), now, source)
        except RowProblem as problem:
            report.errors.append(RowError(line, problem.field, problem.code, problem.message))
            report.failed += 1
            continue
        ready.append(opportunity)
    if not dry_run:
        for opportunity in ready:
            await uow.add(opportunity, by=actor)
            report.opportunity_ids.append(opportunity.id)
    report.created = len(ready)
    return report
