"""The web console (``console/``, a Vite build) served at ``/``, and its development sign-in.

The build's hashed files under ``/assets/`` never change (a new build gives new names), so they
are cached for a year as immutable; ``index.html`` names them and is revalidated on every load
(``no-cache``), so a new build is picked up at once. Any other GET of a page path (``/board``,
``/customers/42``) answers ``index.html``: the console routes in the browser (SPA fallback).
The graph's own paths (``/graphql``, health, metrics) are routes of their own and never reach
this fallback.

``POST /dev/token`` mints a development token for a demo user and role, only outside production
and only when the gateway verifies HS256 tokens with a shared secret: the sign-in page of the
console uses it. In production the console takes a bearer token from the identity provider.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from crm_common.identity import mint_token

CONSOLE_DIST_RELATIVE = Path("console") / "dist"
ASSETS_PREFIX = "assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
# Paths that belong to the server: a miss there is a 404, never the console's page.
SERVER_PREFIXES = ("graphql", "health", "metrics", "dev/", "export/", "import/", "documents/")
DEV_ROLES = frozenset({"rep", "manager", "admin"})
DEV_TOKEN_TTL_SECONDS = 12 * 3600

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CRM console</title></head>
<body><h1>CRM console</h1>
<p>The console is not built: run <code>npm ci --prefix console &amp;&amp; npm run build --prefix
console</code> (<code>make demo</code> does it) and reload. Looked in <code>{where}</code>.</p>
</body></html>
"""


def default_console_dir() -> Path:
    """``console/dist`` of the repository (or image) this code runs from."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / CONSOLE_DIST_RELATIVE
        if candidate.is_dir():
            return candidate
    return CONSOLE_DIST_RELATIVE


class ConsoleFiles:
    """The built console: its index page and its assets, read from ``dist``."""

    def __init__(self, dist: Path) -> None:
        self.dist = dist.resolve()

    def index(self) -> Response:
        page = self.dist / "index.html"
        if not page.is_file():
            return HTMLResponse(
                _MISSING.format(where=self.dist),
                status_code=503,
                headers={"Cache-Control": "no-store"},
            )
        return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-cache"})

    def file(self, relative: str) -> Response | None:
        """A file of the build, or None when there is none (path escapes refused)."""
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        media_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        hashed = relative.startswith(ASSETS_PREFIX)
        cache = IMMUTABLE if hashed else "no-cache"
        return FileResponse(candidate, media_type=media_type, headers={"Cache-Control": cache})

    async def endpoint(self, request: Request) -> Response:
        relative = request.path_params.get("path", "")
        if relative in ("", "index.html"):
            return self.index()
        if relative.startswith(SERVER_PREFIXES):
            return Response("not found", status_code=404)
        found = self.file(relative)
        if found is not None:
            return found
        # A missing asset is a 404 (a stale page asking for an old hash must not get HTML).
        if relative.startswith(ASSETS_PREFIX) or "." in relative.rsplit("/", 1)[-1]:
            return Response("not found", status_code=404, headers={"Cache-Control": "no-store"})
        return self.index()


def dev_token_endpoint(secret: str) -> Callable[[Request], Awaitable[Response]]:
    """``POST /dev/token {"user": "rep-1", "role": "rep", "team": "team-1"}`` -> ``{"token"}``."""

    async def endpoint(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "a JSON object is expected"}, status_code=400)
        role = body.get("role")
        user = body.get("user") or f"{role}-1"
        team = body.get("team", "team-1")
        if role not in DEV_ROLES or not isinstance(user, str) or len(user) > 64:
            return JSONResponse(
                {"error": f"role must be one of {sorted(DEV_ROLES)}, user a short id"},
                status_code=400,
            )
        token = mint_token(
            secret,
            user_id=user,
            roles=[role],
            name=body.get("name") if isinstance(body.get("name"), str) else user,
            team=team if isinstance(team, str) else None,
            ttl_seconds=DEV_TOKEN_TTL_SECONDS,
        )
        return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})

    return endpoint


def console_routes(dist: Path | None, dev_secret: str | None) -> list[Route]:
    """The sign-in route (when ``dev_secret``) and the console's catch-all, to be listed last."""
    files = ConsoleFiles(dist or default_console_dir())
    routes: list[Route] = []
    if dev_secret is not None:
        routes.append(Route("/dev/token", dev_token_endpoint(secret=dev_secret), methods=["POST"]))
    routes.append(Route("/{path:path}", files.endpoint, methods=["GET", "HEAD"]))
    return routes
