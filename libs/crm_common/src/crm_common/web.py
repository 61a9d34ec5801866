"""HTTP pieces every process serves: health, metrics, and the identity gate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_common.errors import Unauthenticated
from crm_common.identity import TokenVerifier

ReadinessCheck = Callable[[], Awaitable[object]]


def health_routes(checks: Mapping[str, ReadinessCheck], timeout: float = 3.0) -> list[Route]:
    """``/health/live`` (the process answers) and ``/health/ready`` (its dependencies answer)."""

    async def live(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"down: {type(exc).__name__}: {exc}"[:300]
        healthy = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "checks": results},
            status_code=200 if healthy else 503,
        )

    return [Route("/health/live", live), Route("/health/ready", ready)]


async def _metrics(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


metrics_route = Route("/metrics", _metrics)


def unauthenticated_body(message: str) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": Unauthenticated.code}}]}
    ).encode()


class IdentityMiddleware:
    """Refuses any request under ``protected_prefix`` without a valid bearer token (401).

    The verified ``Identity`` is left in ``scope["state"]["identity"]`` for the handlers.
    Health and metrics stay open so that orchestrators can probe the process.
    """

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, protected_prefix: str) -> None:
        self.app = app
        self.verifier = verifier
        self.protected_prefix = protected_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.protected_prefix):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        try:
            identity = await self.verifier.averify_header(authorization)
        except Unauthenticated as exc:
            response = Response(
                unauthenticated_body(exc.message),
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="crm"'},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)
