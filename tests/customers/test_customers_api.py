"""The customers service as a real process: GraphQL, identity, batching, bad input, events."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

import aio_pika
import httpx

from crm_common.events import EXCHANGE, CloudEvent

CUSTOMER_FIELDS = """
    id kind name email phone lifecycle ownerId tags attributes version createdAt updatedAt
    source { channel campaign medium referrer }
    company { id name }
    contacts { id name }
"""

CREATE = f"""
mutation Create($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ {CUSTOMER_FIELDS} }}
}}
"""

GET = f"query Get($id: ID!) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"

LIST = """
query List($filter: CustomerFilter, $first: Int, $after: String) {
  customers(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { id name ownerId lifecycle } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on Customer { id name } }
}
"""

Api = Any  # the ``CustomersApi`` of conftest


def create(api: Api, user: str, roles: tuple[str, ...] = ("rep",), **fields: Any) -> Any:
    body = api.post(CREATE, {"input": {"kind": "PERSON", **fields}}, user_id=user, roles=roles)
    assert "errors" not in body, body
    return body["data"]["createCustomer"]


def error_code(body: dict[str, Any]) -> str:
    [error] = body["errors"]
    code: str = error["extensions"]["code"]
    return code


def test_health_is_ready_and_open(customers_api: Api) -> None:
    response = httpx.get(f"{customers_api.url}/health/ready", timeout=10)
    assert response.status_code == 200
    assert response.json()["checks"] == {"mongo": "ok", "amqp": "ok"}
    assert httpx.get(f"{customers_api.url}/health/live", timeout=10).status_code == 200


def test_graphql_without_or_with_a_bad_token_is_401(customers_api: Api) -> None:
    query = {"query": "{ customers { totalCount } }"}
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic x"}):
        response = httpx.post(f"{customers_api.url}/graphql", json=query, headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_create_then_read_back(customers_api: Api, unique_user: Callable[[], str]) -> None:
    owner = unique_user()
    created = create(
        customers_api,
        owner,
        name="  Ada Lovelace ",
        email="Ada.Lovelace@Example.COM",
        phone="+44 20 7946 0000",
        source={"channel": "web", "campaign": "autumn", "referrer": " "},
        tags=["vip", "VIP", "b2b"],
        attributes={"industry": "computing", "score": 9.5, "nested": {"a": [1, 2]}},
    )
    assert created["name"] == "Ada Lovelace"
    assert created["email"] == "ada.lovelace@example.com"
    assert created["kind"] == "PERSON"
    assert created["lifecycle"] == "LEAD"
    assert created["ownerId"] == owner
    assert created["tags"] == ["vip", "b2b"]
    assert created["version"] == 1
    assert created["source"] == {
        "channel": "web",
        "campaign": "autumn",
        "medium": None,
        "referrer": None,
    }
    assert created["attributes"] == {"industry": "computing", "score": 9.5, "nested": {"a": [1, 2]}}
    assert created["createdAt"] == created["updatedAt"]
    assert created["company"] is None
    assert created["contacts"] == []

    fetched = customers_api.post(GET, {"id": created["id"]}, user_id=owner)
    assert fetched == {"data": {"customer": created}}

    listed = customers_api.post(LIST, {"filter": {"ownerId": owner}}, user_id=owner)
    connection = listed["data"]["customers"]
    assert connection["totalCount"] == 1
    assert [e["node"]["id"] for e in connection["edges"]] == [created["id"]]
    assert connection["pageInfo"]["hasNextPage"] is False

    missing = customers_api.post(GET, {"id": "no-such-customer"})
    assert missing == {"data": {"customer": None}}


def test_customers_pages_and_filters(customers_api: Api, unique_user: Callable[[], str]) -> None:
    owner = unique_user()
    ids = sorted(
        create(customers_api, owner, name=f"Pager {i}", lifecycle=lifecycle)["id"]
        for i, lifecycle in enumerate(["LEAD", "PROSPECT", "LEAD", "CUSTOMER", "LEAD"])
    )
    seen: list[str] = []
    after = None
    while True:
        body = customers_api.post(
            LIST, {"filter": {"ownerId": owner}, "first": 2, "after": after}, user_id=owner
        )
        connection = body["data"]["customers"]
        assert connection["totalCount"] == 5
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == ids

    leads = customers_api.post(
        LIST, {"filter": {"ownerId": owner, "lifecycle": ["LEAD", "CUSTOMER"]}}, user_id=owner
    )["data"]["customers"]
    assert leads["totalCount"] == 4
    assert {e["node"]["lifecycle"] for e in leads["edges"]} == {"LEAD", "CUSTOMER"}

    named = customers_api.post(
        LIST, {"filter": {"ownerId": owner, "nameContains": "PAGER 3"}}, user_id=owner
    )["data"]["customers"]
    assert [e["node"]["name"] for e in named["edges"]] == ["Pager 3"]

    bad_cursor = customers_api.post(LIST, {"after": "bm90LWEtY3Vyc29y"}, user_id=owner)
    assert error_code(bad_cursor) == "BAD_USER_INPUT"


def test_company_and_contacts(customers_api: Api, unique_user: Callable[[], str]) -> None:
    owner = unique_user()
    acme = create(customers_api, owner, kind="COMPANY", name="Acme")
    bob = create(customers_api, owner, name="Bob", companyId=acme["id"])
    amy = create(customers_api, owner, name="Amy", companyId=acme["id"])
    assert bob["company"] == {"id": acme["id"], "name": "Acme"}
    company = customers_api.post(GET, {"id": acme["id"]}, user_id=owner)["data"]["customer"]
    assert company["contacts"] == [
        {"id": amy["id"], "name": "Amy"},
        {"id": bob["id"], "name": "Bob"},
    ]
    not_a_company = customers_api.post(
        CREATE, {"input": {"kind": "PERSON", "name": "Eve", "companyId": bob["id"]}}
    )
    assert error_code(not_a_company) == "BAD_USER_INPUT"
    unknown = customers_api.post(
        CREATE, {"input": {"kind": "PERSON", "name": "Eve", "companyId": "nope"}}
    )
    assert error_code(unknown) == "BAD_USER_INPUT"


def test_bad_input_is_refused_and_nothing_is_written(customers_api: Api) -> None:
    bad_inputs: list[tuple[dict[str, Any], str]] = [
        ({"name": "Mallory", "email": "not-an-email"}, "email"),
        ({"name": "Mallory", "email": "two@@example.com"}, "email"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Mallory", "attributes": {"blob": "x" * 17000}}, "attributes"),
        (
            {"name": "Mallory", "attributes": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}},
            "attributes",
        ),
        ({"name": "Mallory", "attributes": [1, 2]}, "attributes"),
        ({"name": "Mallory", "phone": "call me maybe"}, "phone"),
        ({"name": "Mallory", "tags": ["t" * 51]}, "tags"),
    ]
    documents_before = customers_api.collection.count_documents({})
    inserts_before = customers_api.command_count("insert")
    for fields, field in bad_inputs:
        body = customers_api.post(CREATE, {"input": {"kind": "PERSON", **fields}})
        assert body["data"] is None, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["field"] == field
        assert error["message"].startswith(field)
    assert customers_api.collection.count_documents({}) == documents_before
    assert customers_api.command_count("insert") == inserts_before


def test_only_managers_create_for_other_owners(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    rep, other = unique_user(), unique_user()
    refused = customers_api.post(
        CREATE, {"input": {"kind": "PERSON", "name": "X", "ownerId": other}}, user_id=rep
    )
    assert error_code(refused) == "FORBIDDEN"
    created = create(customers_api, "mgr-1", ("manager",), name="X", ownerId=other)
    assert created["ownerId"] == other


def test_entities_batch_200_in_one_find(customers_api: Api, unique_user: Callable[[], str]) -> None:
    owner = unique_user()
    ids: list[str] = []
    for batch in range(4):  # 200 customers, 50 aliased mutations per request
        aliases = "\n".join(
            f'c{i}: createCustomer(input: {{kind: PERSON, name: "Entity {n}"}}) {{ id }}'
            for i, n in ((i, batch * 50 + i) for i in range(50))
        )
        body = customers_api.post(f"mutation {{ {aliases} }}", user_id=owner)
        assert "errors" not in body, body
        ids += [body["data"][f"c{i}"]["id"] for i in range(50)]
    assert len(set(ids)) == 200
    names = {customer_id: f"Entity {n}" for n, customer_id in enumerate(ids)}
    random.Random(7).shuffle(ids)
    representations = [{"__typename": "Customer", "id": customer_id} for customer_id in ids]

    # Right after the writes: their events went out without the relay reading anything.
    finds_before = customers_api.command_count("find")
    body = customers_api.post(ENTITIES, {"representations": representations}, user_id=owner)
    finds_after = customers_api.command_count("find")

    assert "errors" not in body, body
    assert body["data"]["_entities"] == [{"id": i, "name": names[i]} for i in ids]
    assert finds_after - finds_before == 1

    # Missing ids resolve to null, duplicates are fine, still one query.
    mixed = [ids[0], "missing-1", ids[1], ids[0], "missing-2"]
    finds_before = customers_api.command_count("find")
    body = customers_api.post(
        ENTITIES,
        {"representations": [{"__typename": "Customer", "id": i} for i in mixed]},
        user_id=owner,
    )
    assert customers_api.command_count("find") - finds_before == 1
    assert body["data"]["_entities"] == [
        {"id": ids[0], "name": names[ids[0]]},
        None,
        {"id": ids[1], "name": names[ids[1]]},
        {"id": ids[0], "name": names[ids[0]]},
        None,
    ]


async def test_created_event_reaches_a_bound_queue(
    customers_api: Api, amqp_url: str, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="customers.customer.created")

        created = await asyncio.to_thread(
            create, customers_api, owner, kind="COMPANY", name="Evented Ltd", lifecycle="PROSPECT"
        )

        event: CloudEvent | None = None
        async with asyncio.timeout(20):
            async with queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        candidate = CloudEvent.from_json(message.body)
                        if candidate.subject == created["id"]:
                            assert message.content_type == "application/cloudevents+json"
                            assert message.routing_key == "customers.customer.created"
                            event = candidate
                            break
        assert event is not None
        assert event.type == "customers.customer.created"
        assert event.source == "crm/customers"
        assert event.sequence == 1
        assert event.actorid == owner
        assert event.data == {
            "customerId": created["id"],
            "name": "Evented Ltd",
            "kind": "COMPANY",
            "ownerId": owner,
            "lifecycle": "PROSPECT",
        }
        assert json.loads(event.to_json())["specversion"] == "1.0"
    finally:
        await connection.close()

    # Once published, the event left the document's outbox.
    document = customers_api.collection.find_one({"_id": created["id"]})
    for _ in range(50):
        if not document["outbox"]:
            break
        await asyncio.sleep(0.1)
        document = customers_api.collection.find_one({"_id": created["id"]})
    assert document["outbox"] == []
