"""Plain HTTP endpoints of the pipeline beside ``/graphql``: ``GET /export/opportunities.csv``
streams every deal the caller may see (``Authorization: Bearer``; 401 without, 403 for a role
that reads no deal). The gateway serves it under the same path."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from crm_common import access
from crm_common.access import Kind
from crm_common.errors import CrmError, Forbidden, Unauthenticated
from crm_common.identity import TokenVerifier
from crm_common.spreadsheets import XLSX_MEDIA_TYPE, collect, rows_to_xlsx, xlsx_to_csv
from crm_common.web import unauthenticated_body
from pipeline.adapters.unit_of_work import MongoUnitOfWork
from pipeline.service_layer.exporting import export_rows
from pipeline.service_layer.importing import import_opportunities
from pipeline.service_layer.ports import Actor
from pipeline.service_layer.services import new_id, now

UnitOfWorkGetter = Callable[[], MongoUnitOfWork]
#: Rows per chunk of the streamed body.
CHUNK_ROWS = 200


def _csv_lines(rows: list[list[str]]) -> str:
    sink = io.StringIO()
    csv.writer(sink, lineterminator="\r\n").writerows(rows)
    return sink.getvalue()


def _unauthenticated(exc: Unauthenticated) -> Response:
    return Response(
        unauthenticated_body(exc.message),
        status_code=401,
        media_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="crm"'},
    )


def _error(exc: CrmError) -> Response:
    status = {"FORBIDDEN": 403, "BAD_USER_INPUT": 400, "NOT_FOUND": 404}.get(exc.code, 500)
    body = {"errors": [{"message": exc.message, "extensions": {"code": exc.code, **exc.details}}]}
    return JSONResponse(body, status_code=status)


def export_route(verifier: TokenVerifier, uow: UnitOfWorkGetter) -> Route:
    async def export(request: Request) -> Response:
        try:
            identity = verifier.verify_header(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return Response(
                unauthenticated_body(exc.message),
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="crm"'},
            )
        unit = uow()
        rows = export_rows(identity, unit.pipelines, unit.opportunities)
        try:
            header = await anext(rows)
        except CrmError as exc:
            error = {"errors": [{"message": exc.message, "extensions": {"code": exc.code}}]}
            return JSONResponse(error, status_code=403 if exc.code == "FORBIDDEN" else 400)

        async def body() -> AsyncIterator[bytes]:
            yield ("\ufeff" + _csv_lines([header])).encode()  # a BOM: spreadsheets read UTF-8
            chunk: list[list[str]] = []
            async for row in rows:
                chunk.append(row)
                if len(chunk) >= CHUNK_ROWS:
                    yield _csv_lines(chunk).encode()
                    chunk = []
            if chunk:
                yield _csv_lines(chunk).encode()

        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="opportunities.csv"'},
        )

    return Route("/export/opportunities.csv", export, methods=["GET"])


def xlsx_routes(verifier: TokenVerifier, uow: UnitOfWorkGetter) -> list[Route]:
    """``GET /export/opportunities.xlsx`` (the CSV export's rows in a workbook) and
    ``POST /import/opportunities.xlsx`` (body: a workbook whose first sheet has the columns of
    ``importOpportunities``; ``?dryRun=true``): the same row-level report, as JSON."""

    async def export_xlsx(request: Request) -> Response:
        try:
            identity = verifier.verify_header(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return _unauthenticated(exc)
        unit = uow()
        try:
            rows = await collect(export_rows(identity, unit.pipelines, unit.opportunities))
        except CrmError as exc:
            return _error(exc)
        return Response(
            rows_to_xlsx(rows, "opportunities"),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="opportunities.xlsx"'},
        )

    async def import_xlsx(request: Request) -> Response:
        try:
            identity = verifier.verify_header(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return _unauthenticated(exc)
        actor = Actor(
            user_id=identity.user_id,
            name=identity.name,
            roles=identity.roles,
            team=identity.team,
        )
        dry_run = request.query_params.get("dryRun", "false").lower() in ("1", "true", "yes")
        try:
            if not access.may_change_any(actor.viewer, Kind.DEAL):
                raise Forbidden("importing deals needs the role rep, manager or admin")
            text = xlsx_to_csv(await request.body())
            report = await import_opportunities(
                text, actor, uow(), dry_run=dry_run, now=now(), make_id=new_id
            )
        except CrmError as exc:
            return _error(exc)
        return JSONResponse(asdict(report))

    return [
        Route("/export/opportunities.xlsx", export_xlsx, methods=["GET"]),
        Route("/import/opportunities.xlsx", import_xlsx, methods=["POST"]),
    ]
