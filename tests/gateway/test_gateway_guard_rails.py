"""Guard rails of the gateway: each limit refuses fast, with its own code and HTTP 400, before
any subgraph is called, while a legitimate query still runs; the body limit (413), the
request timeout (504) and cancellation reaching the subgraph; the subgraphs' own limits."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from gateway_processes import rep_token, running_gateway, slow_subgraph
from gateway_stack import GatewayStack

from crm_common.graphql import SubgraphLimits, guard_extensions


def _code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


def _refused(stack: GatewayStack, query: str, code: str) -> None:
    started = time.perf_counter()
    response = stack.post(query)
    elapsed = time.perf_counter() - started
    assert response.status_code == 400, response.text
    assert _code(response) == code
    assert "data" not in response.json()
    assert elapsed < 2.0
    assert stack.requests_to("products") == []
    assert stack.requests_to("reviews") == []


def _nested(levels: int) -> str:
    inner = "name"
    for _ in range(levels):
        inner = f"reviews {{ product {{ {inner} }} }}"
    return f'{{ product(upc: "p1") {{ {inner} }} }}'


def test_a_deep_query_is_refused_before_any_subgraph(stack: GatewayStack) -> None:
    _refused(stack, _nested(20), "QUERY_TOO_DEEP")
    legit = stack.query(_nested(2))
    assert "errors" not in legit
    assert legit["data"]["product"]["reviews"]


def test_a_fragment_does_not_hide_depth(stack: GatewayStack) -> None:
    fragments = "fragment F0 on Product { name }\n"
    for i in range(1, 20):
        fragments += f"fragment F{i} on Product {{ reviews {{ product {{ ...F{i - 1} }} }} }}\n"
    _refused(stack, '{ product(upc: "p1") { ...F19 } }\n' + fragments, "QUERY_TOO_DEEP")


def test_too_many_aliases(stack: GatewayStack) -> None:
    aliases = " ".join(f"a{i}: topProducts {{ upc }}" for i in range(100))
    _refused(stack, "{ " + aliases + " }", "QUERY_TOO_MANY_ALIASES")
    assert "errors" not in stack.query("{ a: topProducts { upc } b: topProducts { name } }")


def test_too_many_root_fields(stack: GatewayStack) -> None:
    _refused(
        stack, "{ " + " ".join(["topProducts { upc }"] * 25) + " }", "QUERY_TOO_MANY_ROOT_FIELDS"
    )


def test_too_many_directives(stack: GatewayStack) -> None:
    fields = " ".join(["upc @include(if: true)"] * 60)
    _refused(stack, "{ topProducts { " + fields + " } }", "QUERY_TOO_MANY_DIRECTIVES")


def test_too_many_tokens(stack: GatewayStack) -> None:
    _refused(stack, "{ topProducts { " + " ".join(["upc"] * 6000) + " } }", "QUERY_TOO_MANY_TOKENS")


def test_too_costly(stack: GatewayStack) -> None:
    query = "{ topProducts(first: 1000) { reviews { product { reviews { body } } } } }"
    _refused(stack, query, "QUERY_TOO_COMPLEX")
    # The same shape with a small page runs.
    body = stack.query("{ topProducts(first: 2) { reviews { product { reviews { body } } } } }")
    assert "errors" not in body


def test_a_page_size_given_as_a_variable_counts(stack: GatewayStack) -> None:
    query = (
        "query($n: Int!) { topProducts(first: $n) { reviews { product { reviews { body } } } } }"
    )
    # A small page first: the cost check is cached per page-size values, not per text.
    assert stack.post(query, {"n": 2}).status_code == 200
    response = stack.post(query, {"n": 1000})
    assert response.status_code == 400
    assert _code(response) == "QUERY_TOO_COMPLEX"
    assert stack.post(query, {"n": 2}).status_code == 200


def test_the_shape_walk_counts_every_alias_directive_and_page_variable() -> None:
    from graphql import parse

    from gateway.limits import measure_shape

    shape = measure_shape(
        parse(
            "query Q($n: Int @deprecated, $m: Int) @a { x: topProducts(first: $n) @b {"
            " ... on Product @c { y: name } ...F } }"
            " fragment F on Product @d { reviews(limit: $m) { body @e } }"
        )
    )
    assert (shape.aliases, shape.directives) == (2, 6)
    assert shape.page_size_variables == {"n", "m"}


def test_a_large_body_is_refused_with_413(stack: GatewayStack) -> None:
    big = json.dumps({"query": "{ __typename }", "variables": {"x": "y" * (10 * 1024 * 1024)}})
    started = time.perf_counter()
    response = httpx.post(
        stack.gateway_url,
        content=big.encode(),
        headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert _code(response) == "PAYLOAD_TOO_LARGE"
    assert time.perf_counter() - started < 5


def test_a_client_that_writes_its_whole_body_first_still_reads_the_413(
    stack: GatewayStack,
) -> None:
    # http.client (as urllib and many SDKs) sends the whole body before reading a byte of the
    # answer: the gateway reads the rest and throws it away, or the client would get a
    # reset connection instead of the 413.
    big = json.dumps({"query": "{ __typename }", "variables": {"x": "y" * (10 * 1024 * 1024)}})
    host, port = stack.gateway_url.split("//")[1].split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        started = time.perf_counter()
        connection.request(
            "POST",
            "/graphql",
            body=big.encode(),
            headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
        )
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["errors"][0]["extensions"]["code"] == (
            "PAYLOAD_TOO_LARGE"
        )
        assert time.perf_counter() - started < 5
    finally:
        connection.close()


def test_a_large_chunked_body_is_refused_while_streaming(stack: GatewayStack) -> None:
    def chunks() -> Any:
        yield b'{"query": "{ __typename }", "variables": {"x": "'
        for _ in range(100):
            yield b"y" * 100_000
        yield b'"}}'

    response = httpx.post(
        stack.gateway_url,
        content=chunks(),
        headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


def test_limits_can_be_turned_off(stack: GatewayStack, tmp_path: Path) -> None:
    urls = {n: f"{b}/graphql" for n, b in stack.subgraph_bases.items()}
    with running_gateway(tmp_path, urls, {"GATEWAY_LIMITS_ENABLED": "false"}) as gateway:
        response = httpx.post(
            gateway.graphql,
            json={"query": _nested(8)},
            headers={"authorization": f"Bearer {rep_token()}"},
            timeout=30,
        )
        assert response.status_code == 200
        assert "errors" not in response.json()


def test_request_timeout_answers_504_and_closes_the_subgraph_request(
    stack: GatewayStack, tmp_path: Path
) -> None:
    with slow_subgraph(tmp_path, seconds=10) as slow:
        urls = {
            "products": f"{slow.base}/graphql",
            "reviews": f"{stack.subgraph_bases['reviews']}/graphql",
        }
        env = {"GATEWAY_REQUEST_TIMEOUT_SECONDS": "1"}
        with running_gateway(tmp_path, urls, env) as gateway:
            started = time.perf_counter()
            response = httpx.post(
                gateway.graphql,
                json={"query": "{ topProducts { upc } }"},
                headers={"authorization": f"Bearer {rep_token()}"},
                timeout=30,
            )
            assert time.perf_counter() - started < 5
            assert response.status_code == 504
            assert _code(response) == "GATEWAY_TIMEOUT"
            log = _wait_for_disconnect(slow.base)
            # The subgraph saw its client (the gateway) go away at the timeout, long before
            # it would have answered.
            assert log[0]["disconnectedAfter"] is not None
            assert log[0]["disconnectedAfter"] < 3


def test_client_disconnect_closes_the_subgraph_request(stack: GatewayStack, tmp_path: Path) -> None:
    with slow_subgraph(tmp_path, seconds=10) as slow:
        urls = {
            "products": f"{slow.base}/graphql",
            "reviews": f"{stack.subgraph_bases['reviews']}/graphql",
        }
        with running_gateway(tmp_path, urls) as gateway:
            port = int(gateway.base.rsplit(":", 1)[1])
            body = json.dumps({"query": "{ topProducts { upc } }"}).encode()
            head = (
                f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {rep_token()}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(head + body)
                time.sleep(0.5)  # the gateway is now waiting for the slow subgraph
            log = _wait_for_disconnect(slow.base)
            assert log[0]["disconnectedAfter"] is not None
            assert log[0]["disconnectedAfter"] < 3


def _wait_for_disconnect(base: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 8
    while True:
        log: list[dict[str, Any]] = httpx.get(f"{base}/_log", timeout=5).json()
        if (log and log[0]["disconnectedAfter"] is not None) or time.monotonic() > deadline:
            return log
        time.sleep(0.1)


# -- the subgraphs' own limits (Strawberry's extensions, configured in crm_common) ------------


@strawberry.type
class Node:
    name: str = "n"

    @strawberry.field
    def child(self) -> Node:
        return Node()


@strawberry.type
class Query:
    @strawberry.field
    def root(self) -> Node:
        return Node()


@pytest.fixture(scope="module")
def limited_schema() -> strawberry.Schema:
    limits = SubgraphLimits(max_depth=5, max_aliases=3, max_tokens=200)
    return strawberry.Schema(query=Query, extensions=guard_extensions(limits))


def test_subgraph_refuses_a_deep_query(limited_schema: strawberry.Schema) -> None:
    inner = "name"
    for _ in range(10):
        inner = f"child {{ {inner} }}"
    result = limited_schema.execute_sync("{ root { " + inner + " } }")
    assert result.errors
    assert "exceeds maximum operation depth" in result.errors[0].message
    assert limited_schema.execute_sync("{ root { child { name } } }").errors is None


def test_subgraph_refuses_aliases_and_tokens(limited_schema: strawberry.Schema) -> None:
    aliases = " ".join(f"a{i}: root {{ name }}" for i in range(5))
    result = limited_schema.execute_sync("{ " + aliases + " }")
    assert result.errors
    assert "aliases" in result.errors[0].message
    result = limited_schema.execute_sync("{ root { " + " ".join(["name"] * 300) + " } }")
    assert result.errors
    assert "tokens" in result.errors[0].message
