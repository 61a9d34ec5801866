"""Excel through the gateway: ``/export/customers.xlsx`` and ``/export/opportunities.xlsx``
hold the rows of the CSV exports; ``/import/customers.xlsx`` and ``/import/opportunities.xlsx``
read a workbook's first sheet as the CSV imports read it, with the same row-level report."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from openpyxl import Workbook, load_workbook

from devstack import Suite
from support.graphql import data
from support.polling import eventually


def _root(suite: Suite) -> str:
    return suite.gateway_url.removesuffix("/graphql")


def _sheet_rows(body: bytes) -> list[list[str]]:
    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def _workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_excel_exports_and_imports_through_the_gateway(suite: Suite, token: Any) -> None:
    admin = token("admin", user_id="admin-xlsx")
    auth = {"Authorization": f"Bearer {admin}"}
    name = f"Sheet Co {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(timeout=60) as client:
        imported = await client.post(
            _root(suite) + "/import/customers.xlsx",
            content=_workbook(
                [["kind", "name", "email"], ["COMPANY", name, ""], ["ALIEN", "x", ""]]
            ),
            headers=auth,
        )
        assert imported.status_code == 200, imported.text
        report = imported.json()
        assert (report["created"], report["failed"]) == (1, 1)
        assert report["errors"][0]["line"] == 3

        customers = await client.get(_root(suite) + "/export/customers.xlsx", headers=auth)
        assert customers.status_code == 200, customers.text
        sheet = _sheet_rows(customers.content)
        as_csv = await client.get(_root(suite) + "/export/customers.csv", headers=auth)
        assert sheet == list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        header = sheet[0]
        [row] = [r for r in sheet[1:] if r[header.index("name")] == name]
        customer = row[header.index("id")]

        day = (datetime.now(UTC) - timedelta(days=40)).date().isoformat()
        later = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
        deals = _workbook(
            [
                ["title", "customerId", "amount", "currency", "stageHistory"],
                ["sheet deal", customer, 250, "EUR", f"Initial contact@{day}; Won@{later}"],
                ["no currency", customer, 250, "", ""],
            ]
        )

        async def import_deals() -> dict[str, Any]:
            response = await client.post(
                _root(suite) + "/import/opportunities.xlsx", content=deals, headers=auth
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        result = await eventually(
            import_deals, lambda r: r["created"] == 1, what="the customer known to the pipeline"
        )
        assert result["failed"] == 1
        assert [(e["line"], e["field"], e["code"]) for e in result["errors"]] == [
            (3, "currency", "REQUIRED")
        ]
        [deal] = result["opportunity_ids"]
        exported = await client.get(_root(suite) + "/export/opportunities.xlsx", headers=auth)
        assert exported.status_code == 200, exported.text
        rows = _sheet_rows(exported.content)
        as_csv = await client.get(_root(suite) + "/export/opportunities.csv", headers=auth)
        assert rows == list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        header = rows[0]
        [mine] = [r for r in rows[1:] if r[header.index("id")] == deal]
        assert mine[header.index("status")] == "WON"
        assert mine[header.index("closedAt")].startswith(later)
        bad = await client.post(
            _root(suite) + "/import/opportunities.xlsx", content=b"not a workbook", headers=auth
        )
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    opened = await data(
        suite.gateway_url,
        "query($id: ID!){ opportunity(id: $id){ stageHistory { at } } }",
        {"id": deal},
        token=admin,
    )
    assert [h["at"][:10] for h in opened["opportunity"]["stageHistory"]] == [day, later]
