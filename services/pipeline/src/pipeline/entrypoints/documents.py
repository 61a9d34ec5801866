"""``GET /documents/quotes/{id}.html|.pdf``: a quote's printable document, for whoever may see
its deal (``Authorization: Bearer``; 401 without, 404 for an unknown or invisible quote). The
gateway serves the same path and forwards it here with the caller's token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from crm_common.errors import CrmError, Unauthenticated
from crm_common.identity import TokenVerifier
from crm_common.web import unauthenticated_body
from pipeline.adapters.quote_documents import quote_html, quote_pdf
from pipeline.service_layer.ports import Actor
from pipeline.service_layer.quotes import visible_quote

DOCUMENT_PATH = "/documents/quotes/{quote_id}.{format}"


def quote_document_route(verifier: TokenVerifier, services: Callable[[], Any]) -> Route:
    async def document(request: Request) -> Response:
        try:
            identity = verifier.verify_header(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return Response(
                unauthenticated_body(exc.message),
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="crm"'},
            )
        fmt = request.path_params["format"]
        if fmt not in ("html", "pdf"):
            return JSONResponse({"errors": [{"message": "format: html or pdf"}]}, status_code=404)
        actor = Actor(
            user_id=identity.user_id, name=identity.name, roles=identity.roles, team=identity.team
        )
        running = services()
        try:
            quote = await visible_quote(request.path_params["quote_id"], actor, running.uow)
        except CrmError as exc:
            body = {"errors": [{"message": exc.message, "extensions": {"code": exc.code}}]}
            return JSONResponse(body, status_code=404)
        filename = f"{quote.number}.{fmt}"
        disposition = {"Content-Disposition": f'inline; filename="{filename}"'}
        if fmt == "html":
            return HTMLResponse(quote_html(quote), headers=disposition)
        pdf = quote_pdf(quote, font=running.settings.quote_font)
        return Response(pdf, media_type="application/pdf", headers=disposition)

    return Route(DOCUMENT_PATH, document, methods=["GET"])
