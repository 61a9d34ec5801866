"""Persisted queries (APQ both ways, GET with cache headers, the manifest mode), introspection
per environment, the explorer page in development, CORS and per-subgraph readiness."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from gateway_processes import rep_token, running_gateway
from gateway_stack import JWT_SECRET, GatewayStack

QUERY = "query TopNames { topProducts { name } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
EXT = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}


def _post(url: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    return httpx.post(
        url, json=body, headers={"authorization": f"Bearer {token or rep_token()}"}, timeout=10
    )


def _code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


def _urls(stack: GatewayStack) -> dict[str, str]:
    return {n: f"{b}/graphql" for n, b in stack.subgraph_bases.items()}


def test_apq_registers_then_runs_by_hash(stack: GatewayStack) -> None:
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    miss = _post(stack.gateway_url, {"extensions": unknown})
    assert miss.status_code == 200
    assert _code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert stack.requests_to("products") == []

    registered = _post(stack.gateway_url, {"query": QUERY, "extensions": EXT})
    assert registered.json()["data"]["topProducts"]

    by_hash = _post(stack.gateway_url, {"extensions": EXT})
    assert by_hash.status_code == 200
    assert by_hash.json() == registered.json()

    # GET with the hash alone: what a CDN can cache (privately: answers depend on the token).
    get = httpx.get(
        stack.gateway_url,
        params={"extensions": json.dumps(EXT), "operationName": "TopNames"},
        headers={"authorization": f"Bearer {stack.token}"},
        timeout=10,
    )
    assert get.status_code == 200
    assert get.json() == registered.json()
    assert get.headers["cache-control"].startswith("private, max-age=")
    assert "Authorization" in get.headers["vary"]


def test_apq_refuses_a_hash_that_does_not_match(stack: GatewayStack) -> None:
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "f" * 64}}
    response = _post(stack.gateway_url, {"query": QUERY, "extensions": wrong})
    assert response.status_code == 400
    assert _code(response) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert stack.requests_to("products") == []


def test_manifest_mode_runs_only_listed_operations(stack: GatewayStack, tmp_path: Path) -> None:
    manifest = tmp_path / "persisted-query-manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": HASH, "name": "TopNames", "type": "query", "body": QUERY}],
            }
        )
    )
    env = {"GATEWAY_PERSISTED_OPERATIONS_PATH": str(manifest)}
    with running_gateway(tmp_path, _urls(stack), env) as gateway:
        by_id = _post(gateway.graphql, {"extensions": EXT})
        assert by_id.status_code == 200
        assert by_id.json()["data"]["topProducts"]
        by_text = _post(gateway.graphql, {"query": QUERY})
        assert by_text.json() == by_id.json()
        stack.reset_logs()
        other = _post(gateway.graphql, {"query": "{ topProducts { upc } }"})
        assert other.status_code == 400
        assert _code(other) == "PERSISTED_QUERY_NOT_IN_LIST"
        # APQ cannot register new operations around the list.
        other_query = "{ topProducts { price } }"
        sha = hashlib.sha256(other_query.encode()).hexdigest()
        apq = _post(
            gateway.graphql,
            {
                "query": other_query,
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}},
            },
        )
        assert _code(apq) == "PERSISTED_QUERY_NOT_IN_LIST"
        assert stack.requests_to("products") == []


def test_production_refuses_introspection_and_hides_the_explorer(
    stack: GatewayStack, tmp_path: Path
) -> None:
    env = {"CRM_ENV": "production", "JWT_SECRET": JWT_SECRET}
    with running_gateway(tmp_path, _urls(stack), env) as gateway:
        schema = _post(gateway.graphql, {"query": "{ __schema { types { name } } }"})
        assert "data" not in schema.json() or not schema.json().get("data")
        assert "introspection has been disabled" in schema.json()["errors"][0]["message"]
        typ = _post(gateway.graphql, {"query": '{ __type(name: "Product") { name } }'})
        assert typ.json().get("errors")
        # __typename is no introspection of the schema: it stays.
        assert _post(gateway.graphql, {"query": "{ __typename }"}).json() == {
            "data": {"__typename": "Query"}
        }
        page = httpx.get(gateway.graphql, headers={"accept": "text/html"}, timeout=10)
        assert page.status_code == 401  # no explorer: the endpoint wants a token


def test_development_serves_the_explorer_and_introspection(
    stack: GatewayStack, tmp_path: Path
) -> None:
    env = {
        "CRM_ENV": "development",
        "GATEWAY_REGISTRY_ENABLED": "false",
        "GATEWAY_CORS_ORIGINS": '["http://console.example"]',
    }
    with running_gateway(tmp_path, _urls(stack), env) as gateway:
        page = httpx.get(gateway.graphql, headers={"accept": "text/html"}, timeout=10)
        assert page.status_code == 200
        assert "<html" in page.text.lower()
        assert "cdn" not in page.text.lower()
        assert "unpkg" not in page.text.lower()
        for asset in ("graphiql.js", "graphiql.css", "react.js", "react-dom.js"):
            served = httpx.get(f"{gateway.base}/graphql-explorer/{asset}", timeout=10)
            assert served.status_code == 200, asset
            assert len(served.content) > 1000
        schema = _post(gateway.graphql, {"query": "{ __schema { queryType { name } } }"})
        assert schema.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
        preflight = httpx.options(
            gateway.graphql,
            headers={
                "origin": "http://console.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
            timeout=10,
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://console.example"
        elsewhere = httpx.options(
            gateway.graphql,
            headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
            timeout=10,
        )
        assert "access-control-allow-origin" not in elsewhere.headers


def test_readiness_reports_each_subgraph(stack: GatewayStack, tmp_path: Path) -> None:
    urls = {**_urls(stack), "reviews": "http://127.0.0.1:9/graphql"}
    with running_gateway(tmp_path, urls) as gateway:
        ready = httpx.get(f"{gateway.base}/health/ready", timeout=10)
        assert ready.status_code == 503
        subgraphs = ready.json()["subgraphs"]
        assert subgraphs["products"]["status"] == "ok"
        assert subgraphs["reviews"]["status"].startswith("down")


def test_access_log_has_no_token_and_no_variables(stack: GatewayStack, tmp_path: Path) -> None:
    with running_gateway(tmp_path, _urls(stack)) as gateway:
        token = rep_token()
        secret_value = "secret-upc-jane.doe@example.com"
        _post(
            gateway.graphql,
            {
                "query": "query ByUpc($u: String!) { product(upc: $u) { name } }",
                "variables": {"u": secret_value},
            },
            token,
        )
        log = gateway.log_text()
        assert '"operation_name": "ByUpc"' in log
        assert token not in log
        assert token.split(".")[1] not in log
        assert secret_value not in log
