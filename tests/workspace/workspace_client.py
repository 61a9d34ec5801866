"""Calls to the suite's gateway as a role, for the sales workspace tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from crmstack.suite import make_token
from devstack import Suite
from support.graphql import error_codes, gql


@dataclass(frozen=True)
class Caller:
    """One user of the suite (a role, an id, a team) talking to the gateway."""

    suite: Suite
    role: str
    user_id: str
    team: str | None = "team-1"

    @property
    def token(self) -> str:
        return make_token(self.role, self.user_id, self.team)

    async def body(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await gql(self.suite.gateway_url, query, variables, token=self.token)

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.body(query, variables)
        assert not body.get("errors"), body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def codes(self, query: str, variables: dict[str, Any] | None = None) -> list[str]:
        return error_codes(await self.body(query, variables))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rep(suite: Suite, team: str = "team-1") -> Caller:
    return Caller(suite, "rep", unique("rep"), team)


def admin(suite: Suite) -> Caller:
    return Caller(suite, "admin", "admin-1")


async def new_customer(caller: Caller, name: str) -> str:
    created = await caller.data(
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
        {"i": {"kind": "COMPANY", "name": name}},
    )
    customer_id: str = created["createCustomer"]["id"]
    return customer_id


async def new_deal(
    caller: Caller, customer_id: str, title: str, amount: str, currency: str = "EUR", **more: Any
) -> dict[str, Any]:
    """Created through the gateway; the pipeline learns the customer from its event, so the
    first attempt may come too early (retried for a while)."""
    import asyncio

    variables = {
        "i": {
            "title": title,
            "customerId": customer_id,
            "amount": {"amount": amount, "currency": currency},
            **more,
        }
    }
    query = """mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) {
        id version title amount { amount currency } } }"""
    for _ in range(100):
        body = await caller.body(query, variables)
        if not body.get("errors"):
            deal: dict[str, Any] = body["data"]["createOpportunity"]
            return deal
        await asyncio.sleep(0.1)
    raise AssertionError(f"the deal was never created: {body['errors']}")
