"""Subgraphs in production: no introspection, no GraphiQL, and ``_service { sdl }`` only for a
service token (the gateway and the registry); elsewhere everything stays open."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import strawberry

from crm_common.graphql import SubgraphSchema, subgraph_extensions
from crm_common.identity import Identity
from crm_common.settings import CommonSettings
from crm_common.shell import graphql_ide


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hi"


SCHEMA = SubgraphSchema(query=Query, extensions=subgraph_extensions())


@dataclass
class Context:
    identity: Identity


def as_role(role: str) -> Context:
    return Context(Identity(user_id=f"{role}-1", name=role, roles=frozenset({role})))


QUERIES = {
    "schema": "{ __schema { queryType { name } } }",
    "type": '{ __type(name: "Query") { name } }',
    "nested": 'query { hello ... on Query { __type(name: "Query") { name } } }',
    "service": "{ _service { sdl } }",
}


async def code_of(query: str, role: str) -> str | None:
    result = await SCHEMA.execute(query, context_value=as_role(role))
    if not result.errors:
        return None
    return (result.errors[0].extensions or {}).get("code")


@pytest.mark.parametrize("role", ["admin", "rep"])
async def test_production_refuses_introspection_to_everyone(
    monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    monkeypatch.setenv("CRM_ENV", "production")
    for name in ("schema", "type", "nested"):
        assert await code_of(QUERIES[name], role) == "FORBIDDEN", name
    assert await code_of(QUERIES["service"], role) == "FORBIDDEN"
    assert await code_of("{ hello }", role) is None


async def test_production_answers_service_sdl_to_a_service_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_ENV", "production")
    result = await SCHEMA.execute(QUERIES["service"], context_value=as_role("service"))
    assert not result.errors
    assert result.data is not None
    assert "hello" in result.data["_service"]["sdl"]
    assert await code_of(QUERIES["schema"], "service") == "FORBIDDEN"


async def test_development_keeps_introspection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENV", "development")
    for query in QUERIES.values():
        assert await code_of(query, "rep") is None


def test_no_graphiql_in_production() -> None:
    production = CommonSettings.model_validate(
        {"environment": "production", "jwt_secret": "s" * 40}
    )
    assert graphql_ide(production) is None
    assert graphql_ide(CommonSettings.model_validate({"jwt_secret": "s" * 40})) == "graphiql"
