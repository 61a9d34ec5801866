"""CSV import (the mutation and the streaming HTTP endpoint) and the CSV export endpoint,
through the real customers process."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

Api = Any

IMPORT = """
mutation($csv: String!, $dry: Boolean) {
  importCustomers(csv: $csv, dryRun: $dry) {
    dryRun rows created updated unchanged failed ignoredColumns errors { line field message }
  }
}"""

HEADER = (
    "External ID,Name,E-mail,Phone,Lifecycle,Tags,Channel,Campaign,City,Country,attributes,Notes"
)

# (the row's cells after the external id, the field the error names)
BROKEN: list[tuple[str, str | None]] = [
    ("Bad Mail,not-an-email,,LEAD,,,,,,,", "email"),
    ("Bad Mail 2,two@@example.com,,LEAD,,,,,,,", "email"),
    ("Bad Phone,,call me,LEAD,,,,,,,", "phone"),
    ("Short Phone,,12,LEAD,,,,,,,", "phone"),
    (",blank-name@example.com,,LEAD,,,,,,,", "name"),
    ("Bad Stage,,,SUPERSTAR,,,,,,,", "lifecycle"),
    ("Bad Stage 2,,,lead-ish,,,,,,,", "lifecycle"),
    ("Bad Country,,,LEAD,,,,Berlin,Germany,,", "address.country"),
    ('Bad Json,,,LEAD,,,,,,"{not json}",', "attributes"),
    ('Not Object,,,LEAD,,,,,,"[1,2]",', "attributes"),
    ('Too Deep,,,LEAD,,,,,,"{""a"":{""b"":{""c"":{""d"":{""e"":{""f"":1}}}}}}",', "attributes"),
    ("Too Few Cells,x@example.com", "csv"),
    ("Too,Many,Cells,LEAD,,,,,,,,,,", "csv"),
    ("Long Tag,,,LEAD," + "t" * 60 + ",,,,,,", "tags"),
    ("x" * 201 + ",,,LEAD,,,,,,,", "name"),
    ("Ctrl \x01 Name,,,LEAD,,,,,,,", "name"),
    ("Bad Mail 3,a@b,,LEAD,,,,,,,", "email"),
    ("Bad Phone 2,,+999 123,LEAD,,,,,,,", "phone"),
    ("Bad Mail 4,@x.com,,LEAD,,,,,,,", "email"),
    ('Huge Attr,,,LEAD,,,,,,"{""blob"": ""' + "x" * 17000 + '""}",', "attributes"),
]


def build_csv(prefix: str, rows: int = 1000, broken_every: int = 50) -> tuple[str, dict[int, str]]:
    """``rows`` data rows; every ``broken_every``-th is broken. Returns the text and, per broken
    line number, the field its error must name."""
    lines = ["\ufeff" + HEADER]
    expected: dict[int, str] = {}
    broken = iter(BROKEN)
    for i in range(rows):
        line_number = i + 2
        if i % broken_every == broken_every - 1:
            cells, field = next(broken)
            lines.append(f"{prefix}-{i}," + cells)
            expected[line_number] = field or ""
            continue
        lines.append(
            f"{prefix}-{i},Custômer {i},c{i}.{prefix}@Example.com,+49 30 {1000000 + i},"
            f"{['LEAD', 'PROSPECT', 'customer'][i % 3]},a;b,web,autumn,Köln,de,"
            f'"{{""size"": {i}}}",ignored note'
        )
    return "\r\n".join(lines) + "\r\n", expected


def run_import(api: Api, text: str, user: str, dry: bool = False) -> dict[str, Any]:
    body = api.post(IMPORT, {"csv": text, "dry": dry}, user_id=user)
    assert not body.get("errors"), body
    report: dict[str, Any] = body["data"]["importCustomers"]
    return report


def test_import_1000_rows_with_20_broken_then_again_changes_nothing(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    prefix = uuid.uuid4().hex[:8]
    text, expected = build_csv(prefix)
    assert len(expected) == 20

    before = customers_api.collection.count_documents({})
    dry = run_import(customers_api, text, owner, dry=True)
    assert (dry["dryRun"], dry["rows"], dry["created"], dry["failed"]) == (True, 1000, 980, 20)
    assert customers_api.collection.count_documents({}) == before

    report = run_import(customers_api, text, owner)
    assert (report["rows"], report["created"], report["updated"], report["failed"]) == (
        1000,
        980,
        0,
        20,
    )
    assert report["ignoredColumns"] == ["Notes"]
    assert {e["line"]: e["field"] for e in report["errors"]} == expected
    assert all(e["message"] for e in report["errors"])
    assert customers_api.collection.count_documents({"owner_id": owner}) == 980
    stored = customers_api.collection.find_one({"external_id": f"{prefix}-4"})
    assert stored["name"] == "Custômer 4"
    assert stored["emails"] == [f"c4.{prefix}@example.com"]
    assert stored["phones"] == ["+49301000004"]
    assert stored["lifecycle"] == "PROSPECT"
    assert stored["tags"] == ["a", "b"]
    assert stored["address"]["country"] == "DE"
    assert stored["attributes"] == {"size": 4}

    versions = {d["_id"]: d["version"] for d in customers_api.collection.find({"owner_id": owner})}
    again = run_import(customers_api, text, owner)
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (
        0,
        0,
        980,
        20,
    )
    assert {
        d["_id"]: d["version"] for d in customers_api.collection.find({"owner_id": owner})
    } == versions

    # A changed row updates its customer (upsert by external id), and is audited.
    changed = text.replace(f"Custômer 7,c7.{prefix}", f"Customer Seven,c7.{prefix}")
    third = run_import(customers_api, changed, owner)
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 1, 979)
    seven = customers_api.collection.find_one({"external_id": f"{prefix}-7"})
    assert (seven["name"], seven["version"]) == ("Customer Seven", 2)


def test_import_upserts_by_email_and_refuses_a_file_without_name(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    mail = f"upsert-{uuid.uuid4().hex[:6]}@example.com"
    first = run_import(customers_api, f"name,email\nFirst,{mail}\n", owner)
    assert first["created"] == 1
    second = run_import(customers_api, f"Name,E-Mail,tags\nRenamed,{mail.upper()},t\n", owner)
    assert (second["created"], second["updated"]) == (0, 1)
    assert customers_api.collection.find_one({"emails": mail})["name"] == "Renamed"
    body = customers_api.post(IMPORT, {"csv": "email\nx@example.com\n"}, user_id=owner)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_http_import_streams_and_export_round_trips(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    prefix = uuid.uuid4().hex[:8]
    text, expected = build_csv(prefix, rows=120, broken_every=40)
    headers = {"Authorization": f"Bearer {customers_api.token(owner)}"}
    response = httpx.post(
        f"{customers_api.url}/import/customers.csv",
        content=text.encode("utf-8"),
        headers={**headers, "Content-Type": "text/csv"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["failed"]) == (117, 3)
    assert {e["line"] for e in report["errors"]} == set(expected)

    assert httpx.get(f"{customers_api.url}/export/customers.csv", timeout=10).status_code == 401
    exported = httpx.get(
        f"{customers_api.url}/export/customers.csv",
        params={"ownerId": owner},
        headers=headers,
        timeout=60,
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 117
    row = next(r for r in rows if r["externalId"] == f"{prefix}-5")
    assert row["name"] == "Custômer 5"
    # A leading "+" would start a spreadsheet formula: the export marks it as text (the
    # import removes the mark again: tests/security/test_security_csv.py).
    assert row["phone"] == "'+49301000005"
    assert row["tags"] == "a;b"
    assert json.loads(row["attributes"]) == {"size": 5}
    # Someone else's export does not show these customers.
    other = httpx.get(
        f"{customers_api.url}/export/customers.csv",
        params={"ownerId": owner},
        headers={"Authorization": f"Bearer {customers_api.token(unique_user())}"},
        timeout=60,
    )
    assert len(list(csv.DictReader(io.StringIO(other.content.decode("utf-8-sig"))))) == 0
    # The export imports back unchanged.
    again = httpx.post(
        f"{customers_api.url}/import/customers.csv",
        content=exported.content,
        headers=headers,
        timeout=60,
    ).json()
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (
        0,
        0,
        117,
        0,
    )
