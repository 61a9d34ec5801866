"""Plain HTTP endpoints of the customers service, beside ``/graphql``.

- ``GET /export/customers.csv`` streams every customer the caller may see as CSV (the import's
  columns). Query parameters filter like ``customers(filter)``: ``lifecycle`` (repeatable),
  ``ownerId``, ``tag``, ``search``, ``nameContains``.
- ``POST /import/customers.csv`` (body: the CSV; ``?dryRun=true``) imports like the
  ``importCustomers`` mutation, but reads the body as a stream (spooled to disk beyond 1 MiB),
  so that a file of any size costs the service only a chunk of rows in memory.

Both need ``Authorization: Bearer <token>`` (401 otherwise) and apply the visibility rule.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from crm_common.errors import (
    BadUserInput,
    CrmError,
    RuleViolation,
    Unauthenticated,
    as_crm_error,
)
from crm_common.identity import TokenVerifier
from crm_common.spreadsheets import XLSX_MEDIA_TYPE, rows_to_xlsx, xlsx_to_csv
from crm_common.web import unauthenticated_body
from customers.domain.model import LifecycleStage
from customers.service_layer import importing
from customers.service_layer.ports import CustomerQuery, CustomerRepository
from customers.settings import Settings

RepositoryGetter = Callable[[], CustomerRepository]


def _unauthenticated(exc: Unauthenticated) -> Response:
    return Response(
        unauthenticated_body(exc.message),
        status_code=401,
        media_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="crm"'},
    )


def _error(raised: CrmError | RuleViolation) -> Response:
    exc = as_crm_error(raised) or CrmError(str(raised))
    status = {"FORBIDDEN": 403, "BAD_USER_INPUT": 400, "NOT_FOUND": 404}.get(exc.code, 500)
    body = {"errors": [{"message": exc.message, "extensions": {"code": exc.code, **exc.details}}]}
    return JSONResponse(body, status_code=status)


def export_route(verifier: TokenVerifier, repository: RepositoryGetter) -> Route:
    async def export(request: Request) -> Response:
        try:
            identity = await verifier.averify_header(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return _unauthenticated(exc)
        params = request.query_params
        try:
            query = CustomerQuery(
                lifecycles=tuple(LifecycleStage(v) for v in params.getlist("lifecycle")),
                owner_id=params.get("ownerId"),
                tag=params.get("tag"),
                search=params.get("search"),
                name_contains=params.get("nameContains"),
            )
        except ValueError:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": "lifecycle: unknown stage",
                            "extensions": {"code": "BAD_USER_INPUT"},
                        }
                    ]
                },
                status_code=400,
            )
        lines = importing.export_csv(query, identity, repository())
        try:
            first = await anext(lines)  # the role check runs before the response starts
        except (CrmError, RuleViolation) as exc:
            return _error(exc)

        async def body() -> AsyncIterator[bytes]:
            yield ("\ufeff" + first).encode()  # a BOM, so spreadsheets read UTF-8
            async for chunk in lines:
                yield chunk.encode()

        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
        )

    return Route("/export/customers.csv", export, methods=["GET"])


def _too_large(what: str, **limit: int) -> Response:
    """413 naming the limit (``maxBytes`` or ``maxRows``, the setting that sets it)."""
    setting = "CUSTOMERS_IMPORT_MAX_BYTES" if "maxBytes" in limit else "CUSTOMERS_IMPORT_MAX_ROWS"
    return JSONResponse(
        {
            "errors": [
                {
                    "message": f"csv: {what} ({setting}); split the file",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE", **limit},
                }
            ]
        },
        status_code=413,
    )


def _count_rows(text: Iterable[str], limit: int) -> int:
    """The CSV records after the header, counted up to ``limit + 1`` (a quoted cell may span
    lines, so records, not lines, are counted); counted before anything is written, so a file
    over the limit writes nothing."""
    rows = -1
    for _ in csv.reader(text):
        rows += 1
        if rows > limit:
            break
    return max(rows, 0)


def import_route(
    verifier: TokenVerifier, repository: RepositoryGetter, settings: Settings
) -> Route:
    async def import_csv(request: Request) -> Response:
        try:
            identity = await verifier.averify_header(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return _unauthenticated(exc)
        dry_run = request.query_params.get("dryRun", "false").lower() in ("1", "true", "yes")
        max_bytes, max_rows = settings.import_max_bytes, settings.import_max_rows
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            return _too_large(f"more than {max_bytes} bytes", maxBytes=max_bytes)
        with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+b") as spool:
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes:  # stop reading: nothing beyond the limit is kept
                    return _too_large(f"more than {max_bytes} bytes", maxBytes=max_bytes)
                spool.write(chunk)
            spool.seek(0)
            try:
                rows = _count_rows(codecs.getreader("utf-8-sig")(spool), max_rows)
            except (UnicodeDecodeError, csv.Error):
                rows = 0  # answered below, by the import's own reading
            if rows > max_rows:
                return _too_large(f"more than {max_rows} rows", maxRows=max_rows)
            spool.seek(0)
            text = codecs.getreader("utf-8-sig")(spool)
            try:
                report = await importing.import_customers(
                    text, dry_run, identity, repository(), phone_region=settings.phone_region
                )
            except (CrmError, RuleViolation) as exc:
                return _error(exc)
            except UnicodeDecodeError as exc:
                return JSONResponse(
                    {
                        "errors": [
                            {
                                "message": f"csv: not UTF-8 ({exc})",
                                "extensions": {"code": "BAD_USER_INPUT"},
                            }
                        ]
                    },
                    status_code=400,
                )
        body = asdict(report)
        return Response(json.dumps(body), media_type="application/json")

    return Route("/import/customers.csv", import_csv, methods=["POST"])


def xlsx_routes(
    verifier: TokenVerifier, repository: RepositoryGetter, settings: Settings
) -> list[Route]:
    """``GET /export/customers.xlsx`` (the CSV export's rows in a workbook, the same filters)
    and ``POST /import/customers.xlsx`` (the first sheet read as the CSV import would read it:
    the same columns, the same row-level report; ``?dryRun=true``)."""

    async def export_xlsx(request: Request) -> Response:
        try:
            identity = verifier.verify_header(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return _unauthenticated(exc)
        params = request.query_params
        try:
            query = CustomerQuery(
                lifecycles=tuple(LifecycleStage(v) for v in params.getlist("lifecycle")),
                owner_id=params.get("ownerId"),
                tag=params.get("tag"),
                search=params.get("search"),
                name_contains=params.get("nameContains"),
            )
        except ValueError:
            return _error(BadUserInput("lifecycle: unknown stage"))
        try:
            text = "".join(
                [chunk async for chunk in importing.export_csv(query, identity, repository())]
            )
        except (CrmError, RuleViolation) as exc:
            return _error(exc)
        rows = list(csv.reader(io.StringIO(text)))
        return Response(
            rows_to_xlsx(rows, "customers"),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="customers.xlsx"'},
        )

    async def import_xlsx(request: Request) -> Response:
        try:
            identity = verifier.verify_header(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return _unauthenticated(exc)
        dry_run = request.query_params.get("dryRun", "false").lower() in ("1", "true", "yes")
        try:
            text = xlsx_to_csv(await request.body())
            report = await importing.import_customers(
                io.StringIO(text),
                dry_run,
                identity,
                repository(),
                phone_region=settings.phone_region,
            )
        except (CrmError, RuleViolation) as exc:
            return _error(exc)
        return Response(json.dumps(asdict(report)), media_type="application/json")

    return [
        Route("/export/customers.xlsx", export_xlsx, methods=["GET"]),
        Route("/import/customers.xlsx", import_xlsx, methods=["POST"]),
    ]
