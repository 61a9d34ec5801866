"""No existence oracles: what a caller names of a record they may not see is answered exactly
as what names no record at all, through the gateway and straight at the customers subgraph.

- an ``importCustomers`` row with the e-mail of another's customer creates the caller's own
  customer, as a row with an unknown e-mail does (it never answers with that customer's id);
- ``companyId`` (createCustomer, updateCustomer, an import row) of a company the caller may
  not see is refused with the very error of an unknown id.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from devstack import Suite
from support.graphql import data, gql

pytestmark = pytest.mark.asyncio(loop_scope="session")

CREATE = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }"""
UPDATE = """mutation($id: ID!, $input: UpdateCustomerInput!) {
  updateCustomer(id: $id, input: $input) { id companyId } }"""
IMPORT = """mutation($csv: String!, $dry: Boolean) { importCustomers(csv: $csv, dryRun: $dry) {
  dryRun rows created updated unchanged failed errors { line field message } ignoredColumns } }"""
CUSTOMER = """query($id: ID!) { customer(id: $id) { id name ownerId email } }"""

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def urls(suite: Suite) -> list[str]:
    return [suite.gateway_url, suite.subgraph_url("customers")]


def without_ids(value: Any) -> Any:
    """The answer with every id replaced, so two answers about two ids compare."""
    return UUID.sub("<id>", repr(value))


async def theirs(suite: Suite, token: Any, tag: str) -> tuple[str, str, str]:
    """Another rep's person (with an e-mail) and company: (person id, e-mail, company id)."""
    admin = token("admin")
    owner = f"rep-b-{tag}"
    email = f"hidden-{tag}@example.com"
    person = await data(
        suite.gateway_url,
        CREATE,
        {"input": {"kind": "PERSON", "name": "Hidden", "email": email, "ownerId": owner}},
        token=admin,
    )
    company = await data(
        suite.gateway_url,
        CREATE,
        {"input": {"kind": "COMPANY", "name": "Hidden Co", "ownerId": owner}},
        token=admin,
    )
    return person["createCustomer"]["id"], email, company["createCustomer"]["id"]


@pytest.mark.parametrize("dry_run", [True, False])
async def test_an_import_row_with_an_invisible_customers_email_is_a_row_of_an_unknown_one(
    suite: Suite, token: Any, dry_run: bool
) -> None:
    for url in urls(suite):
        # Fresh names per entry point: an import that wrote made the e-mail the rep's own.
        tag = uuid.uuid4().hex[:6]
        person, email, _ = await theirs(suite, token, tag)
        rep = token("rep", f"rep-a-{tag}", "team-1")
        unknown = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
        answers = []
        for address in (email, unknown):
            csv = f"name,email,phone\nSomeone,{address},not a phone\nSomeone,{address},\n"
            body = await gql(url, IMPORT, {"csv": csv, "dry": dry_run}, token=rep)
            assert person not in repr(body)
            answers.append(without_ids(body).replace(address, "<email>"))
        assert answers[0] == answers[1]
        # Their customer is untouched; the rep's row made a customer of the rep's own.
        hidden = await data(suite.gateway_url, CUSTOMER, {"id": person}, token=token("admin"))
        assert hidden["customer"]["name"] == "Hidden"
        assert hidden["customer"]["ownerId"] == f"rep-b-{tag}"


async def test_a_company_the_caller_may_not_see_is_an_unknown_company(
    suite: Suite, token: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    _, _, company = await theirs(suite, token, tag)
    unknown = str(uuid.uuid4())
    rep = token("rep", f"rep-a-{tag}", "team-1")
    mine = await data(
        suite.gateway_url, CREATE, {"input": {"kind": "PERSON", "name": "Mine"}}, token=rep
    )
    mine_id = mine["createCustomer"]["id"]
    for url in urls(suite):
        for make in (
            lambda c: (CREATE, {"input": {"kind": "PERSON", "name": "P", "companyId": c}}),
            lambda c: (UPDATE, {"id": mine_id, "input": {"companyId": c}}),
            lambda c: (IMPORT, {"csv": f"name,companyId\nP,{c}\n"}),
        ):
            hidden_answer = await gql(url, *make(company), token=rep)
            unknown_answer = await gql(url, *make(unknown), token=rep)
            assert without_ids(hidden_answer) == without_ids(unknown_answer)
            errors = (
                hidden_answer.get("errors") or (hidden_answer["data"]["importCustomers"]["errors"])
            )
            assert errors, hidden_answer
    # Nothing linked the rep's customer to the hidden company.
    linked = await data(suite.gateway_url, CUSTOMER, {"id": mine_id}, token=token("admin"))
    assert linked["customer"]["id"] == mine_id
