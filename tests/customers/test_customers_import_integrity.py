"""One customer per external id, through the real process: two imports of the same file at
the same time store each external id once (the unique partial index), a duplicate external id
is a clear BAD_USER_INPUT with nothing written, contacts link to companies of the same file,
and the GraphQL import is bounded (bigger files go to the streaming endpoint)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from customers_process import CustomersProcess
from pymongo import MongoClient

Api = Any  # the ``CustomersApi`` of conftest

CREATE = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id version } }"""
UPDATE = """
mutation($id: ID!, $input: UpdateCustomerInput!) { updateCustomer(id: $id, input: $input) {
  id version } }"""
IMPORT = """
mutation($csv: String!) { importCustomers(csv: $csv) { rows created failed
  errors { line field message } } }"""


def company_file(prefix: str, rows: int) -> str:
    """Every tenth row a company; the rows after it are its contacts (``companyExternalId``),
    so that links fall within a chunk and across chunks."""
    lines = ["externalId,kind,name,email,companyExternalId"]
    company = ""
    for i in range(rows):
        if i % 10 == 0:
            company = f"{prefix}-co-{i}"
            lines.append(f"{company},COMPANY,Company {i},,")
        else:
            lines.append(f"{prefix}-p-{i},PERSON,Person {i},p{i}.{prefix}@example.com,{company}")
    return "\n".join(lines) + "\n"


def test_two_imports_of_the_same_file_at_once_store_each_external_id_once(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    prefix = uuid.uuid4().hex[:8]
    rows = 600  # two chunks (500 rows each)
    text = company_file(prefix, rows).encode()

    def post() -> dict[str, Any]:
        response = httpx.post(
            f"{customers_api.url}/import/customers.csv",
            content=text,
            headers={"Authorization": f"Bearer {customers_api.token(owner)}"},
            timeout=300,
        )
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: post(), range(2)))
    for report in reports:
        assert report["failed"] == 0, report["errors"][:5]
        assert report["created"] + report["updated"] + report["unchanged"] == rows
    assert sum(r["created"] for r in reports) == rows  # each row created by one of them

    collection = customers_api.collection
    documents = list(
        collection.find(
            {"external_id": {"$regex": f"^{prefix}-"}}, {"external_id": 1, "company_id": 1}
        )
    )
    assert len(documents) == rows
    assert len({d["external_id"] for d in documents}) == rows
    companies = {d["external_id"]: d["_id"] for d in documents if "-co-" in d["external_id"]}
    for document in documents:
        if "-p-" in document["external_id"]:
            number = int(document["external_id"].rsplit("-", 1)[1])
            assert document["company_id"] == companies[f"{prefix}-co-{number - number % 10}"]


def test_a_duplicate_external_id_is_bad_user_input_and_writes_nothing(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    external = f"ext-{uuid.uuid4().hex[:8]}"
    first = customers_api.post(
        CREATE, {"input": {"kind": "PERSON", "name": "One", "externalId": external}}, user_id=owner
    )
    assert not first.get("errors"), first
    second = customers_api.post(
        CREATE, {"input": {"kind": "PERSON", "name": "Two", "externalId": external}}, user_id=owner
    )
    [error] = second["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "externalId"
    assert customers_api.collection.count_documents({"external_id": external}) == 1

    other = customers_api.post(
        CREATE, {"input": {"kind": "PERSON", "name": "Three"}}, user_id=owner
    )
    other_id = other["data"]["createCustomer"]["id"]
    taken = customers_api.post(
        UPDATE, {"id": other_id, "input": {"externalId": external}}, user_id=owner
    )
    assert taken["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    document = customers_api.collection.find_one({"_id": other_id})
    assert (document["version"], document.get("external_id")) == (1, None)
    indexes = customers_api.collection.index_information()
    assert indexes["external_id_unique"]["unique"] is True


def test_the_graphql_import_has_a_size_limit_pointing_to_the_streaming_endpoint(
    infrastructure: Any,
) -> None:
    database = f"test_customers_limit_{uuid.uuid4().hex[:10]}"
    process = CustomersProcess(
        infrastructure.mongodb_url,
        infrastructure.amqp_url,
        database,
        infrastructure.log_dir,
        CUSTOMERS_IMPORT_GRAPHQL_MAX_CHARS="2000",
    )
    mongo: MongoClient[dict[str, Any]] = MongoClient(infrastructure.mongodb_url)
    try:
        process.start()
        small = company_file("small", 20)
        assert len(small) < 2000
        body = process.post(IMPORT, {"csv": small})
        assert body["data"]["importCustomers"]["created"] == 20, body
        big = company_file("big", 200)
        body = process.post(IMPORT, {"csv": big})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == "csv"
        assert error["extensions"]["maxChars"] == 2000
        assert "POST /import/customers.csv" in error["message"]
        assert mongo[database].customers.count_documents({"external_id": {"$regex": "^big"}}) == 0
    finally:
        process.stop()
        mongo.drop_database(database)
        mongo.close()
