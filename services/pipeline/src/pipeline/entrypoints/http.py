"""Plain HTTP endpoints of the pipeline beside ``/graphql``: ``GET /export/opportunities.csv``
streams every deal the caller may see (``Authorization: Bearer``; 401 without, 403 for a role
that reads no deal). The gateway serves it under the same path."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from crm_common.errors import CrmError, Unauthenticated
from crm_common.identity import TokenVerifier
from crm_common.web import unauthenticated_body
from pipeline.adapters.unit_of_work import MongoUnitOfWork
from pipeline.service_layer.exporting import export_rows

UnitOfWorkGetter = Callable[[], MongoUnitOfWork]
#: Rows per chunk of the streamed body.
CHUNK_ROWS = 200


def _csv_lines(rows: list[list[str]]) -> str:
    sink = io.StringIO()
    csv.writer(sink, lineterminator="\r\n").writerows(rows)
    return sink.getvalue()


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
