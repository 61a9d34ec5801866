"""CSV export neutralises spreadsheet formulas (OWASP CSV injection): a cell starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written after an apostrophe, which
Excel and LibreOffice show as text; re-importing the export gives back the original value."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customers.service_layer.importing import (
    FORMULA_STARTS,
    TEXT_MARK,
    neutralise_cell,
    restore_cell,
)
from devstack import Suite
from support.graphql import data

FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1",
    "\r=1",
    "'=already marked",
]


@given(st.text())
def test_neutralised_cells_never_start_a_formula_and_restore_exactly(value: str) -> None:
    cell = neutralise_cell(value)
    assert not cell.startswith(FORMULA_STARTS)
    assert restore_cell(cell) == value


@pytest.mark.parametrize("value", FORMULAS)
def test_each_formula_start_is_marked(value: str) -> None:
    assert neutralise_cell(value) == TEXT_MARK + value


@pytest.mark.asyncio(loop_scope="session")
async def test_export_is_safe_and_reimports_to_the_same_values(suite: Suite, token: Any) -> None:
    admin = token("admin", f"admin-{uuid.uuid4().hex[:6]}")
    tag = uuid.uuid4().hex[:6]
    names = [f"{formula.strip()} {tag}" for formula in FORMULAS[:4]]
    ids = []
    for name in names:
        created = await data(
            suite.gateway_url,
            """mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id name } }""",
            {"i": {"kind": "COMPANY", "name": name, "tags": [f"t{tag}"]}},
            token=admin,
        )
        ids.append(created["createCustomer"]["id"])
    customers_url = suite.subgraph_url("customers").removesuffix("/graphql")
    async with httpx.AsyncClient(timeout=60) as client:
        exported = await client.get(
            f"{customers_url}/export/customers.csv",
            headers={"authorization": f"Bearer {admin}"},
        )
        assert exported.status_code == 200
        text = exported.text.lstrip("\ufeff")
        rows = [r for r in csv.DictReader(io.StringIO(text)) if r["id"] in ids]
        assert len(rows) == len(names)
        for row in rows:
            for cell in row.values():
                assert not (cell or "").startswith(FORMULA_STARTS), row
        assert sorted(row["name"] for row in rows) == sorted(TEXT_MARK + n for n in names)
        # The same export through the gateway (proxied, streamed).
        via_gateway = await client.get(
            suite.gateway_url.removesuffix("/graphql") + "/export/customers.csv",
            headers={"authorization": f"Bearer {admin}"},
        )
        assert via_gateway.status_code == 200
        assert via_gateway.text == exported.text
        # Re-import the rows as exported: nothing changes (the values come back as they were).
        lines = text.splitlines()
        mine = [line for line in lines[1:] if any(i in line for i in ids)]
        reimport = await client.post(
            f"{customers_url}/import/customers.csv",
            content=("\r\n".join([lines[0], *mine]) + "\r\n").encode(),
            headers={"authorization": f"Bearer {admin}", "content-type": "text/csv"},
        )
        assert reimport.status_code == 200, reimport.text
        report = reimport.json()
        assert (report["updated"], report["failed"]) == (0, 0), report
        assert report["unchanged"] == len(names)
    for customer_id, name in zip(ids, names, strict=True):
        got = await data(
            suite.gateway_url,
            "query($id: ID!) { customer(id: $id) { name } }",
            {"id": customer_id},
            token=admin,
        )
        assert got["customer"]["name"] == name
