"""A property-based fuzz of every mutation's input through the gateway: whatever the values
(of the right shape or not), the answer is never a 500 nor INTERNAL_SERVER_ERROR, and a refused
mutation creates nothing (the stores hold as many records as before)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    build_client_schema,
    get_introspection_query,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient

from devstack import Suite

SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "Int": st.integers(-(2**40), 2**40),
    "Float": st.floats(allow_nan=False, allow_infinity=False),
    "Boolean": st.booleans(),
    "String": st.text(max_size=40),
    "ID": st.one_of(st.uuids().map(str), st.text(max_size=20)),
    "Date": st.one_of(st.dates().map(str), st.text(max_size=12)),
    "DateTime": st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), st.text(max_size=12)),
    "Decimal": st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False).map(str), st.text(max_size=8)
    ),
}
JUNK = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def value_of(type_: GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly well-shaped values, sometimes junk (wrong types reach the coercion too)."""
    if depth > 4:
        return st.none()
    if isinstance(type_, GraphQLNonNull):
        return value_of(type_.of_type, depth)
    if isinstance(type_, GraphQLList):
        return st.lists(value_of(type_.of_type, depth + 1), max_size=3)
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(list(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        fields = {name: value_of(f.type, depth + 1) for name, f in type_.fields.items()}
        return st.fixed_dictionaries(
            {n: s for n, s in fields.items() if isinstance(type_.fields[n].type, GraphQLNonNull)},
            optional={
                n: s
                for n, s in fields.items()
                if not isinstance(type_.fields[n].type, GraphQLNonNull)
            },
        )
    if isinstance(type_, GraphQLScalarType):
        return SCALARS.get(type_.name, JUNK)
    return JUNK


def written(client: MongoClient[dict[str, Any]], suite: Suite) -> dict[str, int]:
    """How many records the stores hold. The consumers of events only change records (a
    lifecycle, an owner), never create them, so a refused mutation must leave these counts."""
    counts: dict[str, int] = {}
    for service, collections in (
        ("customers", ("customers",)),
        ("pipeline", ("opportunities", "pipelines")),
    ):
        db = client[suite.database(service)]
        for name in collections:
            counts[f"{service}.{name}"] = db[name].count_documents({})
    return counts


@pytest.mark.timeout(900)
def test_every_mutation_survives_any_input(suite: Suite, token: Any) -> None:
    admin = token("admin")
    headers = {"authorization": f"Bearer {admin}"}
    introspection = httpx.post(
        suite.gateway_url, json={"query": get_introspection_query()}, headers=headers, timeout=30
    ).json()["data"]
    schema = build_client_schema(introspection)
    mutation = schema.mutation_type
    assert mutation is not None
    mongo: MongoClient[dict[str, Any]] = MongoClient(suite.mongodb_url)
    problems: list[Any] = []
    with httpx.Client(timeout=30, headers=headers) as http:
        for name, field in sorted(mutation.fields.items()):
            arguments = {a: value_of(arg.type) for a, arg in field.args.items()}
            definitions = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
            call = ", ".join(f"{a}: ${a}" for a in field.args)
            head = f"mutation({definitions})" if definitions else "mutation"
            selection = f"{name}({call})" if call else name
            query = f"{head} {{ {selection} {{ __typename }} }}"

            @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
            @given(st.just(query), st.fixed_dictionaries(arguments))
            def fuzz(query: str, variables: dict[str, Any]) -> None:
                before = written(mongo, suite)
                response = http.post(
                    suite.gateway_url, json={"query": query, "variables": variables}
                )
                if response.status_code >= 500:
                    problems.append((query, variables, response.status_code, response.text[:200]))
                    return
                body = response.json()
                codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
                if "INTERNAL_SERVER_ERROR" in codes:
                    problems.append((query, variables, body["errors"][:1]))
                if body.get("errors") and not body.get("data"):
                    # A refused mutation created nothing.
                    after = written(mongo, suite)
                    if after != before:
                        problems.append(("written on error", query, variables, codes))

            fuzz()
    mongo.close()
    assert not problems, problems[:5]
