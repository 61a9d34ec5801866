"""The archive's capabilities through the real customers process: profile and versions,
lifecycle, audit, timeline, search, visibility, duplicates and merge, transfers, and the
consumer of the funnel's events (published here straight onto the broker)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import yaml
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from crm_common.events import EXCHANGE, CloudEvent, new_event

Api = Any  # the ``CustomersApi`` of conftest

FIELDS = """
  id kind name email emails phone phones lifecycle lifecycleReason ownerId team tags attributes
  externalId mergedIds version createdAt updatedAt
  address { street city postalCode region country }
  source { channel campaign medium referrer }
"""
CREATE = (
    f"mutation($input: CreateCustomerInput!) {{ createCustomer(input: $input) {{ {FIELDS} }} }}"
)
GET = f"query($id: ID!) {{ customer(id: $id) {{ {FIELDS} }} }}"
UPDATE = f"""
mutation($id: ID!, $input: UpdateCustomerInput!, $v: Int) {{
  updateCustomer(id: $id, input: $input, expectedVersion: $v) {{ {FIELDS} }}
}}"""
AUDIT = """
query($id: ID!) { customer(id: $id) { audit(first: 50) { edges { node {
  customerId version action actorId actorName note changes { field from to } } } } } }"""
LOG = """
mutation($id: ID!, $input: InteractionInput!) {
  logInteraction(customerId: $id, input: $input) { id kind summary occurredAt actorId actorName }
}"""
TIMELINE = """
query($id: ID!, $first: Int, $after: String, $kinds: [InteractionKind!], $from: DateTime,
      $to: DateTime) {
  customer(id: $id) { timeline(first: $first, after: $after, kinds: $kinds, from: $from, to: $to) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind summary occurredAt actorId opportunityId mergedFrom details } }
  } }
}"""
LIST = """
query($filter: CustomerFilter, $first: Int, $after: String, $sort: CustomerSort) {
  customers(filter: $filter, first: $first, after: $after, sort: $sort) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id name } }
  }
}"""
ENTITIES = """
query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id name emails } } }"""
DUPLICATES = "query($id: ID!) { duplicateCandidates(customerId: $id) { id name } }"
MERGE = """
mutation($t: ID!, $s: [ID!]!, $dry: Boolean) {
  mergeCustomers(targetId: $t, sourceIds: $s, dryRun: $dry) {
    dryRun mergedIds movedInteractions movedContacts changes { field }
    survivor { id name emails phones tags attributes mergedIds lifecycle version }
  }
}"""
TRANSFER = """
mutation($from: ID!, $to: ID!) {
  transferOwnership(fromOwnerId: $from, toOwnerId: $to) {
    transferId transferredCount movedCustomerIds customerIds runs
  }
}"""


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def code(body: dict[str, Any]) -> str:
    [error] = body["errors"]
    value: str = error["extensions"]["code"]
    return value


def stored(api: Api, customer_id: str) -> dict[str, Any] | None:
    """The stored document without the outbox (the relay empties it at its own pace)."""
    document: dict[str, Any] | None = api.collection.find_one(
        {"_id": customer_id}, {"outbox": 0, "outbox_pending": 0}
    )
    return document


def create(api: Api, user: str, roles: tuple[str, ...] = ("rep",), **fields: Any) -> Any:
    body = api.post(CREATE, {"input": {"kind": "PERSON", **fields}}, user_id=user, roles=roles)
    return ok(body)["createCustomer"]


def token(api: Api, user: str, roles: tuple[str, ...], team: str | None) -> str:
    value: str = api.token(user, roles, team)
    return value


# --- profile, versions, lifecycle, audit ----------------------------------------------------


def test_profile_is_normalised_and_updates_are_versioned_and_audited(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    created = create(
        customers_api,
        owner,
        name="Zoë Ångström",
        email="Zoe@Example.COM",
        emails=["zoe@example.com", "ZOE.A@Other.example"],
        phone="+49 (30) 1234-567",
        phones=["+1 202 555 0143"],
        address={
            "street": " Hauptstr. 1 ",
            "city": "Berlin",
            "postalCode": "10115",
            "country": "de",
        },
        tags=["VIP"],
        externalId="crm-1",
    )
    assert created["emails"] == ["zoe@example.com", "zoe.a@other.example"]
    assert created["phone"] == "+49301234567"
    assert created["phones"] == ["+49301234567", "+12025550143"]
    assert created["address"] == {
        "street": "Hauptstr. 1",
        "city": "Berlin",
        "postalCode": "10115",
        "region": None,
        "country": "DE",
    }
    cid = created["id"]
    updated = ok(
        customers_api.post(
            UPDATE,
            {"id": cid, "v": 1, "input": {"name": "Zoë Å.", "tags": ["vip", "b2b"], "phone": None}},
            user_id=owner,
        )
    )["updateCustomer"]
    assert updated["version"] == 2
    assert updated["tags"] == ["vip", "b2b"]
    assert updated["phones"] == ["+12025550143"]

    # A stale version: CONFLICT, nothing written.
    before = stored(customers_api, cid)
    stale = customers_api.post(UPDATE, {"id": cid, "v": 1, "input": {"name": "X"}}, user_id=owner)
    assert code(stale) == "CONFLICT"
    assert stored(customers_api, cid) == before

    trail = ok(customers_api.post(AUDIT, {"id": cid}, user_id=owner))["customer"]["audit"]
    entries = [edge["node"] for edge in trail["edges"]]
    assert [e["version"] for e in entries] == [2, 1]
    assert entries[0]["action"] == "UPDATE"
    assert entries[0]["actorId"] == owner
    changes = {c["field"]: (c["from"], c["to"]) for c in entries[0]["changes"]}
    assert changes["name"] == ("Zoë Ångström", "Zoë Å.")
    assert changes["tags"] == (["VIP"], ["vip", "b2b"])
    assert changes["phone"] == ("+49301234567", "+12025550143")
    assert entries[1]["action"] == "CREATE"


def test_lifecycle_transitions_and_bad_input_write_nothing(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    cid = create(customers_api, owner, name="Cycle Ltd")["id"]
    to_customer = ok(
        customers_api.post(
            UPDATE,
            {"id": cid, "input": {"lifecycle": "CUSTOMER", "lifecycleReason": "signed"}},
            user_id=owner,
        )
    )["updateCustomer"]
    assert (to_customer["lifecycle"], to_customer["lifecycleReason"]) == ("CUSTOMER", "signed")
    before = stored(customers_api, cid)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"lifecycle": "LEAD"}, "lifecycle"),  # CUSTOMER cannot go back to LEAD
        ({"lifecycle": "CHURNED"}, "lifecycleReason"),  # churn needs a reason
        ({"email": "not-an-email"}, "email"),
        ({"attributes": {"blob": "x" * 17000}}, "attributes"),
        ({"phone": "call me"}, "phone"),
        ({"address": {"country": "Germany"}}, "address.country"),
    ]
    for change, field in bad:
        body = customers_api.post(UPDATE, {"id": cid, "input": change}, user_id=owner)
        assert code(body) == "BAD_USER_INPUT", (change, body)
        assert body["errors"][0]["extensions"]["field"] == field
    assert stored(customers_api, cid) == before
    churned = ok(
        customers_api.post(
            UPDATE,
            {"id": cid, "input": {"lifecycle": "CHURNED", "lifecycleReason": "moved away"}},
            user_id=owner,
        )
    )["updateCustomer"]
    assert churned["lifecycle"] == "CHURNED"


# --- timeline -------------------------------------------------------------------------------

MANUAL_KINDS = [
    "CALL",
    "EMAIL",
    "MEETING",
    "NOTE",
    "MATERIAL_VIEWED",
    "PURCHASE",
    "SERVICE_TICKET",
    "QUOTE",
]


def test_timeline_newest_first_filtered_and_paged(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    cid = create(customers_api, owner, name="Timeline GmbH")["id"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i, kind in enumerate(MANUAL_KINDS):
        logged = ok(
            customers_api.post(
                LOG,
                {
                    "id": cid,
                    "input": {
                        "kind": kind,
                        "summary": f"{kind} #{i}",
                        "occurredAt": (start + timedelta(days=i)).isoformat(),
                    },
                },
                user_id=owner,
            )
        )["logInteraction"]
        assert logged["actorId"] == owner
        assert logged["actorName"] == f"User {owner}"
    system = customers_api.post(
        LOG, {"id": cid, "input": {"kind": "STAGE_CHANGE", "summary": "x"}}, user_id=owner
    )
    assert code(system) == "BAD_USER_INPUT"

    seen: list[str] = []
    after = None
    while True:
        page = ok(
            customers_api.post(TIMELINE, {"id": cid, "first": 3, "after": after}, user_id=owner)
        )
        timeline = page["customer"]["timeline"]
        assert timeline["totalCount"] == 8
        seen += [edge["node"]["kind"] for edge in timeline["edges"]]
        if not timeline["pageInfo"]["hasNextPage"]:
            break
        after = timeline["pageInfo"]["endCursor"]
    assert seen == list(reversed(MANUAL_KINDS))

    calls = ok(
        customers_api.post(TIMELINE, {"id": cid, "kinds": ["CALL", "QUOTE"]}, user_id=owner)
    )["customer"]["timeline"]
    assert [e["node"]["kind"] for e in calls["edges"]] == ["QUOTE", "CALL"]
    period = ok(
        customers_api.post(
            TIMELINE,
            {
                "id": cid,
                "from": (start + timedelta(days=2)).isoformat(),
                "to": (start + timedelta(days=4)).isoformat(),
            },
            user_id=owner,
        )
    )["customer"]["timeline"]
    assert [e["node"]["kind"] for e in period["edges"]] == ["NOTE", "MEETING"]


# --- search and lists -----------------------------------------------------------------------


def test_search_folds_case_and_accents_and_sorts(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    names = ["Müller Bäckerei", "Ömer Çelik", "Anna MULLER", "Bob Builder"]
    ids = {}
    for i, name in enumerate(names):
        ids[name] = create(
            customers_api,
            owner,
            name=name,
            email=f"contact{i}@{name.split()[0].lower()}-{owner}.example",
            phone=f"+49 30 5550{i}{i}{i}",
            tags=["Tag-A"] if i % 2 == 0 else ["tag-b"],
            source={"channel": "web" if i < 2 else "fair", "campaign": "spring"},
        )["id"]

    def names_for(flt: dict[str, Any], **extra: Any) -> list[str]:
        body = customers_api.post(
            LIST, {"filter": {"ownerId": owner, **flt}, **extra}, user_id=owner
        )
        return [e["node"]["name"] for e in ok(body)["customers"]["edges"]]

    assert sorted(names_for({"nameContains": "muller"})) == ["Anna MULLER", "Müller Bäckerei"]
    assert names_for({"nameContains": "BACKER"}) == ["Müller Bäckerei"]
    # Any fragment of the name (tests/customers/test_customers_search.py has more).
    assert sorted(names_for({"nameContains": "uller"})) == ["Anna MULLER", "Müller Bäckerei"]
    assert names_for({"nameContains": "muller ba"}) == ["Müller Bäckerei"]
    assert names_for({"nameContains": "ba muller"}) == []
    assert names_for({"nameContains": "omer c"}) == ["Ömer Çelik"]
    assert names_for({"search": "çel"}) == ["Ömer Çelik"]
    assert sorted(names_for({"search": "mull"})) == ["Anna MULLER", "Müller Bäckerei"]
    assert names_for({"emailContains": "CONTACT3@"}) == ["Bob Builder"]
    assert names_for({"phoneContains": "555022"}) == ["Anna MULLER"]
    assert names_for({"search": "0305550111"}) == ["Ömer Çelik"]  # national digits
    assert sorted(names_for({"tag": "TAG-B"})) == ["Bob Builder", "Ömer Çelik"]
    assert sorted(names_for({"sourceChannel": "fair"})) == ["Anna MULLER", "Bob Builder"]
    assert (
        names_for({"createdFrom": "2000-01-01T00:00:00Z", "createdTo": "2001-01-01T00:00:00Z"})
        == []
    )
    assert len(names_for({"createdFrom": "2000-01-01T00:00:00Z"})) == 4

    ascending = names_for({}, sort={"field": "NAME", "direction": "ASC"})
    assert ascending == ["Anna MULLER", "Bob Builder", "Müller Bäckerei", "Ömer Çelik"]
    # Paging in a sort: cursors carry the sort key.
    seen: list[str] = []
    after = None
    while True:
        body = ok(
            customers_api.post(
                LIST,
                {
                    "filter": {"ownerId": owner},
                    "first": 1,
                    "after": after,
                    "sort": {"field": "NAME", "direction": "DESC"},
                },
                user_id=owner,
            )
        )["customers"]
        assert body["totalCount"] == 4
        seen += [e["node"]["name"] for e in body["edges"]]
        if not body["pageInfo"]["hasNextPage"]:
            break
        after = body["pageInfo"]["endCursor"]
    assert seen == list(reversed(ascending))
    newest = names_for({}, sort={"field": "CREATED_AT", "direction": "DESC"})
    assert newest == list(reversed(names))


# --- visibility -----------------------------------------------------------------------------


def test_visibility_rep_manager_admin_service(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    rep, other = unique_user(), unique_user()
    team = f"team-{uuid.uuid4().hex[:6]}"
    mine = customers_api.post(
        CREATE,
        {"input": {"kind": "PERSON", "name": "Visible"}},
        token=token(customers_api, rep, ("rep",), team),
    )
    cid = ok(mine)["createCustomer"]["id"]
    assert ok(mine)["createCustomer"]["team"] == team

    other_token = token(customers_api, other, ("rep",), "elsewhere")
    assert code(customers_api.post(GET, {"id": cid}, token=other_token)) == "FORBIDDEN"
    before = stored(customers_api, cid)
    refused = customers_api.post(
        UPDATE, {"id": cid, "input": {"name": "Hijacked"}}, token=other_token
    )
    assert code(refused) == "FORBIDDEN"
    refused_log = customers_api.post(
        LOG, {"id": cid, "input": {"kind": "NOTE", "summary": "x"}}, token=other_token
    )
    assert code(refused_log) == "FORBIDDEN"
    assert stored(customers_api, cid) == before
    listed = ok(customers_api.post(LIST, {"filter": {"ownerId": rep}}, token=other_token))
    assert listed["customers"]["totalCount"] == 0

    manager = token(customers_api, "mgr-" + uuid.uuid4().hex[:6], ("manager",), team)
    assert ok(customers_api.post(GET, {"id": cid}, token=manager))["customer"]["id"] == cid
    other_manager = token(customers_api, "mgr-x", ("manager",), "other-team")
    assert code(customers_api.post(GET, {"id": cid}, token=other_manager)) == "FORBIDDEN"
    admin = token(customers_api, "admin-1", ("admin",), None)
    assert ok(customers_api.post(GET, {"id": cid}, token=admin))["customer"]["id"] == cid
    service = token(customers_api, "reports", ("service",), None)
    assert code(customers_api.post(GET, {"id": cid}, token=service)) == "FORBIDDEN"
    service_create = customers_api.post(
        CREATE, {"input": {"kind": "PERSON", "name": "No"}}, token=service
    )
    assert code(service_create) == "FORBIDDEN"
    entities = customers_api.post(
        ENTITIES, {"r": [{"__typename": "Customer", "id": cid}]}, token=other_token
    )
    assert entities["data"]["_entities"] == [None]
    assert code(entities) == "FORBIDDEN"


# --- duplicates, merge, transfer ------------------------------------------------------------


def test_duplicates_and_merge_keep_everything(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    shared = f"dup-{uuid.uuid4().hex[:6]}@example.com"
    target = create(
        customers_api,
        owner,
        name="Jane Doe",
        email=shared,
        phone="+1 202 555 0101",
        tags=["a"],
        attributes={"size": 1, "tier": "gold"},
    )
    source = create(
        customers_api,
        owner,
        name="Jane  DOE",
        emails=[f"other-{shared}", shared.upper()],
        phone="+1 202 555 0102",
        tags=["b"],
        attributes={"tier": "silver", "region": "north"},
        lifecycle="PROSPECT",
    )
    unrelated = create(customers_api, owner, name="Someone Else")
    candidates = ok(customers_api.post(DUPLICATES, {"id": target["id"]}, user_id=owner))
    assert [c["id"] for c in candidates["duplicateCandidates"]] == [source["id"]]
    for cid, text in ((target["id"], "target call"), (source["id"], "source call")):
        ok(
            customers_api.post(
                LOG, {"id": cid, "input": {"kind": "CALL", "summary": text}}, user_id=owner
            )
        )

    before = (customers_api.collection.count_documents({}), customers_api.command_count("update"))
    dry = ok(
        customers_api.post(
            MERGE, {"t": target["id"], "s": [source["id"]], "dry": True}, user_id=owner
        )
    )["mergeCustomers"]
    assert dry["dryRun"] is True
    assert dry["survivor"]["tags"] == ["a", "b"]
    assert (
        customers_api.collection.count_documents({}),
        customers_api.command_count("update"),
    ) == before
    assert customers_api.collection.find_one({"_id": source["id"]}) is not None

    merged = ok(customers_api.post(MERGE, {"t": target["id"], "s": [source["id"]]}, user_id=owner))
    result = merged["mergeCustomers"]
    survivor = result["survivor"]
    assert result["mergedIds"] == [source["id"]]
    assert result["movedInteractions"] == 1
    assert set(survivor["emails"]) == {shared, f"other-{shared}"}
    assert survivor["phones"] == ["+12025550101", "+12025550102"]
    assert survivor["tags"] == ["a", "b"]
    assert survivor["attributes"]["size"] == 1
    assert survivor["attributes"]["tier"] == "gold"
    assert survivor["attributes"]["region"] == "north"
    assert survivor["attributes"]["mergedAttributes"][source["id"]]["tier"] == "silver"
    assert survivor["lifecycle"] == "PROSPECT"
    assert survivor["mergedIds"] == [source["id"]]

    # The old id resolves to the survivor, through customer() and _entities.
    via_old = ok(customers_api.post(GET, {"id": source["id"]}, user_id=owner))["customer"]
    assert via_old["id"] == target["id"]
    entities = ok(
        customers_api.post(
            ENTITIES,
            {"r": [{"__typename": "Customer", "id": i} for i in (source["id"], unrelated["id"])]},
            user_id=owner,
        )
    )["_entities"]
    assert [e["id"] for e in entities] == [target["id"], unrelated["id"]]
    timeline = ok(customers_api.post(TIMELINE, {"id": target["id"]}, user_id=owner))
    entries = timeline["customer"]["timeline"]["edges"]
    assert sorted(e["node"]["summary"] for e in entries) == ["source call", "target call"]
    assert {e["node"]["mergedFrom"] for e in entries} == {None, source["id"]}
    assert customers_api.collection.find_one({"_id": source["id"]}) is None
    assert (
        customers_api.mongo[customers_api.database]["merged_customers"].find_one(
            {"_id": source["id"]}
        )["merged_into"]
        == target["id"]
    )
    # The survivor's audit shows the merge and the history of the merged customer.
    trail = ok(customers_api.post(AUDIT, {"id": target["id"]}, user_id=owner))
    entries = [e["node"] for e in trail["customer"]["audit"]["edges"]]
    assert entries[0]["action"] == "MERGE"
    assert entries[0]["note"] == f"merged {source['id']}"
    assert (source["id"], "CREATE") in {(e["customerId"], e["action"]) for e in entries}
    # Running it again changes nothing.
    again = ok(customers_api.post(MERGE, {"t": target["id"], "s": [source["id"]]}, user_id=owner))
    assert again["mergeCustomers"]["survivor"]["version"] == survivor["version"]


def test_transfer_is_recorded_and_safe_to_run_twice(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    leaving, taking = unique_user(), unique_user()
    ids = {
        create(customers_api, "boss", ("admin",), name=f"T{i}", ownerId=leaving)["id"]
        for i in range(3)
    }
    rep_try = customers_api.post(TRANSFER, {"from": leaving, "to": taking}, user_id=leaving)
    assert code(rep_try) == "FORBIDDEN"
    first = ok(
        customers_api.post(
            TRANSFER, {"from": leaving, "to": taking}, user_id="boss", roles=("admin",)
        )
    )
    second = ok(
        customers_api.post(
            TRANSFER, {"from": leaving, "to": taking}, user_id="boss", roles=("admin",)
        )
    )
    one, two = first["transferOwnership"], second["transferOwnership"]
    assert one["transferId"] == two["transferId"]
    assert set(one["movedCustomerIds"]) == ids
    assert one["transferredCount"] == 3
    assert two["transferredCount"] == 0
    assert set(two["customerIds"]) == ids
    assert two["runs"] == 2
    for cid in ids:
        document = stored(customers_api, cid)
        assert document["owner_id"] == taking
        assert document["version"] == 2
    trail = ok(customers_api.post(AUDIT, {"id": sorted(ids)[0]}, user_id="boss", roles=("admin",)))
    latest = trail["customer"]["audit"]["edges"][0]["node"]
    assert latest["action"] == "TRANSFER"
    assert latest["actorId"] == "boss"
    assert latest["changes"] == [{"field": "ownerId", "from": leaving, "to": taking}]


# --- events in and out ----------------------------------------------------------------------


def _stage(name: str, order: int, kind: str = "OPEN") -> dict[str, Any]:
    return {"id": f"s-{order}", "name": name, "order": order, "kind": kind, "probability": 0.5}


def pipeline_event(
    type_: str,
    opportunity: str,
    customer: str,
    sequence: int,
    to: dict[str, Any],
    from_: dict[str, Any] | None,
    status: str = "OPEN",
) -> CloudEvent:
    return new_event(
        source="crm/pipeline",
        type=type_,
        subject=opportunity,
        sequence=sequence,
        actor_id="rep-events",
        actor_name="Rep Events",
        data={
            "opportunityId": opportunity,
            "customerId": customer,
            "pipelineId": "default",
            "ownerId": "rep-events",
            "title": "Big deal",
            "amount": {"amount": "100.00", "currency": "EUR"},
            "status": status,
            "fromStage": from_,
            "toStage": to,
            "stages": [],
            "changedAt": "2026-11-26T18:00:00.000Z",
        },
    )


async def _publish(amqp_url: str, events: list[CloudEvent]) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for event in events:
            await exchange.publish(
                aio_pika.Message(body=event.to_json(), content_type="application/cloudevents+json"),
                routing_key=event.type,
            )
    finally:
        await connection.close()


async def _until(
    probe: Callable[[], Any], accept: Callable[[Any], bool], seconds: float = 20
) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await asyncio.to_thread(probe)
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached: {value!r}")
        await asyncio.sleep(0.2)


@pytest.mark.asyncio(loop_scope="session")
async def test_funnel_events_feed_timeline_and_lifecycle_idempotently(
    customers_api: Api, amqp_url: str, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    cid = (await asyncio.to_thread(create, customers_api, owner, name="Funnel Fed"))["id"]
    deal = str(uuid.uuid4())
    first, second, won = _stage("Initial", 1), _stage("Proposal", 2), _stage("Won", 9, "WON")
    created = pipeline_event("pipeline.opportunity.created", deal, cid, 1, first, None)
    moved = pipeline_event("pipeline.opportunity.stage_changed", deal, cid, 2, second, first)
    into_won = pipeline_event(
        "pipeline.opportunity.stage_changed", deal, cid, 3, won, second, "WON"
    )
    won_event = pipeline_event("pipeline.opportunity.won", deal, cid, 3, won, second, "WON")
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="customers.customer.lifecycle_changed")
    try:
        # Every event twice (at-least-once delivery), and the won move in both forms.
        await _publish(amqp_url, [created, created, moved, into_won, moved, won_event, into_won])

        def state() -> tuple[str, int]:
            document = stored(customers_api, cid)
            timeline = customers_api.mongo[customers_api.database]["interactions"]
            return document["lifecycle"], timeline.count_documents({"customer_id": cid})

        await _until(state, lambda s: s == ("CUSTOMER", 5))
        await asyncio.sleep(1.0)  # late duplicates change nothing
        assert await asyncio.to_thread(state) == ("CUSTOMER", 5)
        body = await asyncio.to_thread(customers_api.post, TIMELINE, {"id": cid}, user_id=owner)
        kinds = [
            (e["node"]["kind"], e["node"]["summary"])
            for e in ok(body)["customer"]["timeline"]["edges"]
        ]
        assert sorted(kinds) == sorted(
            [
                ("STAGE_CHANGE", "Deal “Big deal” opened in Initial"),
                ("LIFECYCLE_CHANGE", "LEAD → PROSPECT: deal opened: Big deal"),
                ("STAGE_CHANGE", "Deal “Big deal” moved from Initial to Proposal"),
                ("STAGE_CHANGE", "Deal “Big deal” won (Proposal → Won)"),
                ("LIFECYCLE_CHANGE", "PROSPECT → CUSTOMER: deal won: Big deal"),
            ]
        )
        changes = []
        async with asyncio.timeout(20):
            async with queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        event = CloudEvent.from_json(message.body)
                        if event.subject == cid:
                            changes.append(event)
                            if len(changes) == 2:
                                break
        assert [(e.data["from"], e.data["to"]) for e in changes] == [
            ("LEAD", "PROSPECT"),
            ("PROSPECT", "CUSTOMER"),
        ]
        assert changes[1].data["cause"]["type"] == "pipeline.opportunity.won"
        assert changes[1].data["cause"]["opportunityId"] == deal
        assert changes[1].sequence == 3
    finally:
        await connection.close()


# --- the events we publish match the contract -----------------------------------------------

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def _load_contract(uri: str) -> Resource[Any]:
    path = CONTRACTS / uri.removeprefix("file://contracts/")
    return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7)


def contract_validators() -> dict[str, Draft7Validator]:
    asyncapi = yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text())
    registry: Registry[Any] = Registry(retrieve=_load_contract)  # type: ignore[call-arg]
    validators = {}
    for message in asyncapi["components"]["messages"].values():
        schema = {"$id": "file://contracts/asyncapi.yaml", **message["payload"]["schema"]}
        validators[message["name"]] = Draft7Validator(
            schema, registry=registry, format_checker=FormatChecker()
        )
    return validators


@pytest.mark.asyncio(loop_scope="session")
async def test_published_customer_events_match_the_contract(
    customers_api: Api, amqp_url: str, unique_user: Callable[[], str]
) -> None:
    validators = contract_validators()
    owner, heir = unique_user(), unique_user()
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="customers.#")

        def scenario() -> set[str]:
            a = create(customers_api, owner, name="Contract A", email=f"{owner}@example.com")
            b = create(customers_api, owner, name="Contract B", email=f"{owner}@example.com")
            ok(
                customers_api.post(
                    UPDATE,
                    {"id": a["id"], "input": {"lifecycle": "PROSPECT", "lifecycleReason": "call"}},
                    user_id=owner,
                )
            )
            ok(customers_api.post(MERGE, {"t": a["id"], "s": [b["id"]]}, user_id=owner))
            ok(
                customers_api.post(
                    TRANSFER, {"from": owner, "to": heir}, user_id="boss", roles=("admin",)
                )
            )
            return {a["id"], b["id"]}

        ids = await asyncio.to_thread(scenario)
        seen: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(20):
            async with queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        body = json.loads(message.body)
                        data = body["data"]
                        mine = body["subject"] in ids or data.get("fromOwnerId") == owner
                        if not mine:
                            continue
                        errors = list(validators[body["type"]].iter_errors(body))
                        assert not errors, (body["type"], [e.message for e in errors])
                        seen[body["type"]] = body
                        if len(seen) == 4:
                            break
        assert set(seen) == {
            "customers.customer.created",
            "customers.customer.lifecycle_changed",
            "customers.customer.merged",
            "customers.ownership.transferred",
        }
        transferred = seen["customers.ownership.transferred"]["data"]
        assert transferred["toOwnerId"] == heir
        assert len(transferred["customerIds"]) == 1  # the survivor of the merge
        assert seen["customers.customer.lifecycle_changed"]["data"]["cause"] is None
    finally:
        await connection.close()
