"""The process shell every subgraph serves from (``crm_common.shell``), over a real MongoDB, a
real RabbitMQ virtual host (through a proxy that can cut it) and real HTTP (uvicorn)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, NewType

import httpx
import strawberry
import uvicorn
from starlette.applications import Starlette

from crm_common.errors import BadUserInput, NotFound
from crm_common.graphql import SubgraphSchema, subgraph_extensions
from crm_common.identity import Identity, mint_token
from crm_common.settings import CommonSettings
from crm_common.shell import Lifetime, Readiness, create_service_app
from support.infrastructure import Infrastructure
from support.tcp_proxy import CuttableProxy


def _even(value: object) -> int:
    number = int(str(value))
    if number % 2:
        raise BadUserInput("an even number, please", field="n")
    return number


Even = strawberry.scalar(NewType("Even", int), name="Even", parse_value=_even, serialize=int)


@strawberry.type
class Query:
    @strawberry.field
    def whoami(self, info: strawberry.Info[Identity, None]) -> str:
        return info.context.user_id

    @strawberry.field
    def half(self, n: Even) -> int:  # type: ignore[valid-type]
        return int(n) // 2

    @strawberry.field
    def missing(self) -> str:
        raise NotFound("nothing here", id="x")


schema = SubgraphSchema(query=Query, extensions=subgraph_extensions())


@dataclass
class Runtime:
    readiness: Readiness


def build(settings: CommonSettings) -> Starlette:
    async def open_runtime(lifetime: Lifetime) -> Runtime:
        client = lifetime.mongo(settings.mongodb_url)
        connection = await lifetime.amqp(settings.amqp_url)
        return Runtime(Readiness(client, connection))

    return create_service_app(
        name="shell-test",
        settings=settings,
        schema=schema,
        open=open_runtime,
        readiness=lambda runtime: runtime.readiness,
        context=lambda _runtime, identity, _request, _response: identity,
    )


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def _ready_status(client: httpx.AsyncClient, base: str, want: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        response = await client.get(f"{base}/health/ready")
        if response.status_code == want or time.monotonic() > deadline:
            assert response.status_code == want, response.text
            body: dict[str, Any] = response.json()
            return body
        await asyncio.sleep(0.2)


async def test_readiness_follows_the_broker_and_graphql_maps_errors(
    infrastructure: Infrastructure,
) -> None:
    proxy = CuttableProxy.for_url(infrastructure.amqp_url)
    await proxy.start()
    settings = CommonSettings(
        mongodb_url=infrastructure.mongodb_url, amqp_url=proxy.url_through(infrastructure.amqp_url)
    )
    assert settings.jwt_secret is not None
    token = mint_token(settings.jwt_secret, user_id="rep-1", roles=["rep"], name="R")
    auth = {"Authorization": f"Bearer {token}"}
    try:
        async with serving(build(settings)) as base, httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(f"{base}/health/live")).json() == {"status": "ok"}
            ready = await _ready_status(client, base, 200)
            assert ready["checks"] == {"mongo": "ok", "amqp": "ok"}
            assert (await client.get(f"{base}/metrics")).status_code == 200

            # /graphql needs a token; the identity reaches the context.
            query = {"query": "{ whoami }"}
            assert (await client.post(f"{base}/graphql", json=query)).status_code == 401
            answer = await client.post(f"{base}/graphql", json=query, headers=auth)
            assert answer.json() == {"data": {"whoami": "rep-1"}}

            # A CrmError raised while coercing a variable keeps its code and message.
            odd = {"query": "query($n: Even!) { half(n: $n) }", "variables": {"n": 3}}
            errors = (await client.post(f"{base}/graphql", json=odd, headers=auth)).json()["errors"]
            assert errors[0]["message"] == "an even number, please"
            assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
            assert errors[0]["extensions"]["field"] == "n"
            missing = (
                await client.post(f"{base}/graphql", json={"query": "{ missing }"}, headers=auth)
            ).json()
            assert missing["errors"][0]["extensions"] == {"code": "NOT_FOUND", "id": "x"}

            # GraphiQL outside production.
            page = await client.get(f"{base}/graphql", headers={"Accept": "text/html", **auth})
            assert page.status_code == 200
            assert "graphiql" in page.text.lower()

            # The broker out of reach: not ready (the robust connection is reconnecting);
            # back: ready again.
            await proxy.cut()
            down = await _ready_status(client, base, 503)
            assert down["checks"]["mongo"] == "ok"
            assert down["checks"]["amqp"].startswith("down:")
            await proxy.restore()
            await _ready_status(client, base, 200)
    finally:
        await proxy.close()


def test_no_graphiql_in_production() -> None:
    from crm_common.shell import graphql_ide

    production = CommonSettings(environment="production", jwt_secret="s" * 40)
    assert graphql_ide(production) is None
    assert graphql_ide(CommonSettings(environment="test")) == "graphiql"
    assert graphql_ide(CommonSettings(environment="development")) == "graphiql"


async def test_closes_are_bounded_and_all_run() -> None:
    closed: list[str] = []

    async def hangs() -> None:
        await asyncio.sleep(60)

    async def fails() -> None:
        raise RuntimeError("broken")

    async def works() -> None:
        closed.append("works")

    started = time.monotonic()
    async with AsyncExitStack() as stack:
        lifetime = Lifetime(stack, "bounded-test")
        lifetime.on_close("works", works)  # closed last
        lifetime.on_close("fails", fails)
        lifetime.on_close("hangs", hangs, seconds=0.3)
        task = lifetime.run(asyncio.sleep(60), "background")
    assert closed == ["works"]
    assert task.cancelled()
    assert time.monotonic() - started < 5
