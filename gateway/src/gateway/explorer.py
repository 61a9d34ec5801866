"""The GraphQL explorer (GraphiQL) at ``GET /graphql`` for a browser, in development.

The page and its assets come from this process, never from a CDN: GraphiQL's UMD build and
React's, installed by ``npm ci`` in ``tools/graphiql`` (``make setup`` does it) and served
under ``/graphql-explorer/``. It sits in front of the identity gate: the page holds no data;
its requests to ``/graphql`` carry the token the user puts in the headers editor.
"""

from __future__ import annotations

import html
import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

ASSETS_PREFIX = "/graphql-explorer/"
TOOLS_RELATIVE = Path("tools") / "graphiql" / "node_modules"

# The only files the page needs, each from its npm package.
ASSETS = {
    "react.js": ("react", "umd/react.production.min.js"),
    "react-dom.js": ("react-dom", "umd/react-dom.production.min.js"),
    "graphiql.js": ("graphiql", "graphiql.min.js"),
    "graphiql.css": ("graphiql", "graphiql.min.css"),
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>CRM graph explorer</title>
  <link rel="stylesheet" href="{prefix}graphiql.css">
  <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
  <div id="graphiql">Loading the explorer...</div>
  <script src="{prefix}react.js"></script>
  <script src="{prefix}react-dom.js"></script>
  <script src="{prefix}graphiql.js"></script>
  <script>
    // The token: `make -s token ROLE=manager`, pasted into the headers editor as
    // {{"Authorization": "Bearer ..."}}; GraphiQL keeps it in local storage.
    const fetcher = GraphiQL.createFetcher({{ url: "{endpoint}" }});
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher,
        defaultHeaders: '{{"Authorization": "Bearer <token from make -s token>"}}',
        shouldPersistHeaders: true,
      }}),
    );
  </script>
</body>
</html>
"""

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CRM graph explorer</title></head>
<body><h1>CRM graph explorer</h1>
<p>The explorer's assets are not installed: run <code>npm ci --prefix tools/graphiql</code>
(or <code>make setup</code>) and reload. Looked in <code>{where}</code>.</p></body></html>
"""


def default_assets_dir() -> Path:
    for parent in Path(__file__).resolve().parents:
        candidate = parent / TOOLS_RELATIVE
        if candidate.is_dir():
            return candidate
    return TOOLS_RELATIVE


def wants_explorer(scope: Scope) -> bool:
    """A browser's plain GET of the endpoint: HTML accepted, no query in the URL."""
    if scope["method"] != "GET" or scope.get("query_string"):
        return False
    for name, value in scope["headers"]:
        if name == b"accept":
            return b"text/html" in value
    return False


class ExplorerMiddleware:
    """Answers the explorer page and assets before the identity gate sees the request."""

    def __init__(self, app: ASGIApp, endpoint: str, assets_dir: Path | None) -> None:
        self.app = app
        self.endpoint = endpoint
        self.assets_dir = assets_dir or default_assets_dir()

    def _installed(self) -> bool:
        return all((self.assets_dir / p / f).is_file() for p, f in ASSETS.values())

    def page(self) -> Response:
        if not self._installed():
            return HTMLResponse(_MISSING.format(where=html.escape(str(self.assets_dir))))
        return HTMLResponse(
            _PAGE.format(prefix=ASSETS_PREFIX, endpoint=html.escape(self.endpoint)),
            headers={"Cache-Control": "no-store"},
        )

    def asset(self, name: str) -> Response:
        entry = ASSETS.get(name)
        if entry is None:
            return Response("not found", status_code=404)
        path = self.assets_dir / entry[0] / entry[1]
        if not path.is_file():
            return Response("not installed", status_code=404)
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=3600"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == self.endpoint and wants_explorer(scope):
                await self.page()(scope, receive, send)
                return
            if path.startswith(ASSETS_PREFIX) and scope["method"] == "GET":
                await self.asset(path[len(ASSETS_PREFIX) :])(scope, receive, send)
                return
        await self.app(scope, receive, send)


def explorer_request(request: Request) -> bool:
    return wants_explorer(request.scope)
