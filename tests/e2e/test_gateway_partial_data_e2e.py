"""One subgraph down does not empty the rest of a response: with a real subgraph process
stopped, the fields of the others still answer, and each field the stopped one was to give is
null beside an error at its path (docs/API.md, "Partial answers")."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

from devstack import Suite
from support.graphql import admin_post

CODE = "SUBREQUEST_HTTP_ERROR"


def post(suite: Suite, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return admin_post(suite.gateway_url, query, variables)


@contextlib.contextmanager
def stopped(suite: Suite, name: str) -> Iterator[None]:
    """The subgraph's process stopped (SIGTERM, port closed), started again afterwards."""
    suite.stop(name)
    try:
        yield
    finally:
        suite.start(name)


def errors_at(body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(e.get("path") or ()): e.get("extensions", {}) for e in body.get("errors", [])}


def customer_with_a_deal(suite: Suite) -> tuple[str, str]:
    name = f"Partial {uuid.uuid4().hex[:8]}"
    created = post(
        suite,
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
        {"i": {"kind": "COMPANY", "name": name}},
    )
    customer_id = created["data"]["createCustomer"]["id"]
    deal = post(
        suite,
        "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",
        {
            "i": {
                "title": f"{name} deal",
                "customerId": customer_id,
                "amount": {"amount": "100.00", "currency": "EUR"},
            }
        },
    )
    return customer_id, deal["data"]["createOpportunity"]["id"]


def test_with_customers_down_the_pipeline_still_answers(suite: Suite) -> None:
    _, deal_id = customer_with_a_deal(suite)
    query = """query($deal: ID!) {
      pipelines { id name }
      customers(first: 5) { totalCount }
      opportunity(id: $deal) { title customer { name } }
    }"""
    healthy = post(suite, query, {"deal": deal_id})
    assert "errors" not in healthy, healthy
    with stopped(suite, "customers"):
        body = post(suite, query, {"deal": deal_id})
    data = body["data"]
    assert data["pipelines"] == healthy["data"]["pipelines"]
    assert data["customers"] is None
    # The deal is pipeline's: it answers, only its customer (from customers) is null.
    assert data["opportunity"] == {
        "title": healthy["data"]["opportunity"]["title"],
        "customer": None,
    }
    errors = errors_at(body)
    assert errors[("customers",)]["code"] == CODE
    assert errors[("customers",)]["service"] == "customers"
    assert errors[("opportunity", "customer")]["code"] == CODE
    # Nothing else was reported: no "Cannot return null" beside the real cause.
    assert set(errors) == {("customers",), ("opportunity", "customer")}
    # Back up: the same query answers whole again.
    assert "errors" not in post(suite, query, {"deal": deal_id})


def test_with_pipeline_down_the_archive_and_reports_still_answer(suite: Suite) -> None:
    customer_id, _ = customer_with_a_deal(suite)
    query = """query($id: ID!) {
      customer(id: $id) { name opportunities { title } openPipelineValue { amount } }
      pipelines { id }
      funnel(pipelineId: "default") { won lost }
    }"""
    healthy = post(suite, query, {"id": customer_id})
    assert "errors" not in healthy, healthy
    assert healthy["data"]["customer"]["opportunities"]
    with stopped(suite, "pipeline"):
        body = post(suite, query, {"id": customer_id})
    data = body["data"]
    assert data["customer"] == {
        "name": healthy["data"]["customer"]["name"],
        "opportunities": None,
        "openPipelineValue": None,
    }
    assert data["pipelines"] is None
    assert data["funnel"] == healthy["data"]["funnel"]
    errors = errors_at(body)
    assert set(errors) == {("customer",), ("pipelines",)}
    assert all(e["code"] == CODE and e["service"] == "pipeline" for e in errors.values())


def test_with_analytics_down_the_rest_still_answers(suite: Suite) -> None:
    query = """{
      funnel(pipelineId: "default") { won }
      pipelines { id }
      customers(first: 1) { edges { node { id } } }
    }"""
    healthy = post(suite, query)
    assert "errors" not in healthy, healthy
    with stopped(suite, "analytics"):
        body = post(suite, query)
    assert body["data"]["funnel"] is None
    assert body["data"]["pipelines"] == healthy["data"]["pipelines"]
    assert body["data"]["customers"] == healthy["data"]["customers"]
    errors = errors_at(body)
    assert set(errors) == {("funnel",)}
    assert errors[("funnel",)]["service"] == "analytics"
