"""Fragment search (names, e-mails, phones), list paging and the search-field backfill: through
the service, and against the repository with enough sampled documents to page in windows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from itertools import count
from typing import Any

import pytest
from customers_client import CustomersApi as Api
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.mongo import connect_mongo
from customers.adapters.customer_documents import to_document
from customers.adapters.customer_search import MIN_SAMPLES, SAMPLE_FIELD
from customers.adapters.mongo_collections import create_indexes, customers_collection
from customers.adapters.mongo_repository import MongoCustomerRepository
from customers.domain.model import Customer, CustomerKind, LifecycleStage
from customers.domain.search_terms import (
    SEARCH_VERSION,
    customer_grams,
    fold_text,
    fragment_grams,
    is_sample,
    pick_gram,
)
from customers.service_layer.ports import CustomerQuery, Scope, Sort, SortField

CREATE = "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }"
LIST = """
query($filter: CustomerFilter, $first: Int, $after: String, $sort: CustomerSort) {
  customers(filter: $filter, first: $first, after: $after, sort: $sort) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id name } }
  }
}"""


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


# --- pure functions ---------------------------------------------------------------------------


def test_grams_fold_case_accents_and_whitespace() -> None:
    assert fold_text("  Jürgen   ÖSTER ") == "jurgen oster"
    grams = customer_grams("Anna Müller", ["A.B@Exämple.com"], ["4930555"])
    assert {"n:ull", "n:mul", "n:a m", "e:xam", "p:305"} <= set(grams)
    assert not any(g.startswith("n:") and "ü" in g for g in grams)
    # Every gram of a fragment of the name is a gram of the name: one lookup finds it.
    assert set(fragment_grams("n:", fold_text("ÜLLE"))) <= set(grams)


def test_pick_gram_prefers_the_rarest_in_the_sample() -> None:
    assert pick_gram(["n:mul", "n:ull"], {"n:mul": 3, "n:ull": 40}) == "n:mul"
    # Without a sample: the gram with the fewest common characters.
    assert pick_gram(["n:ull", "n:xyz"], {}) == "n:xyz"


# --- through the service ----------------------------------------------------------------------


def test_fragments_anywhere_in_names_emails_and_phones(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    people = [
        ("Anna Müller", "anna.mueller@north-wind.example", "+49 30 5550101"),
        ("Müller Bäckerei GmbH", "info@baeckerei.example", "+49 89 7771234"),
        ("Zoë Núñez", "zoe@nunez.example", "+34 91 1234567"),
        ("Bob Builder", "bob@builder.example", "+1 202 555 0199"),
    ]
    for name, email, phone in people:
        ok(
            customers_api.post(
                CREATE,
                {"input": {"kind": "PERSON", "name": name, "email": email, "phone": phone}},
                user_id=owner,
            )
        )

    def names(flt: dict[str, Any]) -> list[str]:
        body = customers_api.post(LIST, {"filter": {"ownerId": owner, **flt}}, user_id=owner)
        return sorted(e["node"]["name"] for e in ok(body)["customers"]["edges"])

    both = ["Anna Müller", "Müller Bäckerei GmbH"]
    assert names({"nameContains": "uller"}) == both  # mid-word
    assert names({"nameContains": "ÜLL"}) == both  # case and accents folded
    assert names({"nameContains": "na mü"}) == ["Anna Müller"]  # across words
    assert names({"nameContains": "ckerei g"}) == ["Müller Bäckerei GmbH"]
    assert names({"nameContains": "NUNEZ"}) == ["Zoë Núñez"]
    assert names({"nameContains": "zoe nú"}) == ["Zoë Núñez"]
    assert names({"nameContains": "ullerx"}) == []
    assert names({"nameContains": "mu"}) == both  # short: the start of a word
    assert names({"emailContains": "ORTH-WI"}) == ["Anna Müller"]  # mid-address
    assert names({"emailContains": "ckerei.ex"}) == ["Müller Bäckerei GmbH"]
    assert names({"emailContains": "example"}) == sorted(p[0] for p in people)
    assert names({"phoneContains": "555010"}) == ["Anna Müller"]  # mid-number
    assert names({"phoneContains": "(89) 777-12"}) == ["Müller Bäckerei GmbH"]  # digits only
    assert names({"phoneContains": "0199"}) == ["Bob Builder"]
    assert names({"nameContains": "uller", "emailContains": "info"}) == ["Müller Bäckerei GmbH"]
    assert names({"nameContains": "uller", "phoneContains": "4930"}) == ["Anna Müller"]
    assert names({"search": "bob", "emailContains": "uilde"}) == ["Bob Builder"]


def test_paging_a_fragment_gives_each_match_once(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    made = set()
    for i in range(7):
        body = customers_api.post(
            CREATE, {"input": {"kind": "PERSON", "name": f"Kröger {i} Schüller"}}, user_id=owner
        )
        made.add(ok(body)["createCustomer"]["id"])
    ok(customers_api.post(CREATE, {"input": {"kind": "PERSON", "name": "Other"}}, user_id=owner))
    for sort in ({"field": "ID", "direction": "ASC"}, {"field": "NAME", "direction": "DESC"}):
        seen: list[str] = []
        after = None
        while True:
            variables = {
                "filter": {"ownerId": owner, "nameContains": "HULLER"},
                "first": 3,
                "after": after,
                "sort": sort,
            }
            page = ok(customers_api.post(LIST, variables, user_id=owner))["customers"]
            assert page["totalCount"] == 7
            seen += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert len(seen) == len(set(seen)) == 7
        assert set(seen) == made


def test_total_count_is_counted_only_when_asked_for(
    customers_api: Api, unique_user: Callable[[], str]
) -> None:
    owner = unique_user()
    for i in range(3):
        ok(
            customers_api.post(
                CREATE, {"input": {"kind": "PERSON", "name": f"Tally {i}"}}, user_id=owner
            )
        )
    without = (
        "query($f: CustomerFilter) { customers(filter: $f, first: 1) { edges { node { id } } } }"
    )
    with_count = "query($f: CustomerFilter) { customers(filter: $f, first: 1) { totalCount } }"
    variables = {"f": {"ownerId": owner, "nameContains": "tally"}}
    # A count is an ``aggregate`` (count_documents); the page itself is a ``find``. Background
    # sweeps send finds and updates, never aggregates, so the aggregate counter is exact here.
    before = customers_api.command_count("aggregate")
    page = ok(customers_api.post(without, variables, user_id=owner))["customers"]
    assert len(page["edges"]) == 1
    assert customers_api.command_count("aggregate") == before
    counted = ok(customers_api.post(with_count, variables, user_id=owner))["customers"]
    assert counted["totalCount"] == 3
    assert customers_api.command_count("aggregate") == before + 1


# --- against the repository -------------------------------------------------------------------


@pytest.fixture
async def database(mongodb_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client = connect_mongo(mongodb_url, "customers-tests")
    name = f"test_customers_search_{uuid.uuid4().hex[:10]}"
    try:
        await create_indexes(client[name])
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_backfill_gives_old_documents_the_search_fields(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    collection = customers_collection(database)
    repository = MongoCustomerRepository(collection)
    customer = Customer.create(
        kind=CustomerKind.PERSON, name="Jürgen Schüller", owner_id="rep-1", phone="+49 30 1234567"
    )
    old = to_document(customer)
    for name in ("search_grams", "emails_search", "sort_id", "search_version", SAMPLE_FIELD):
        old.pop(name, None)
    old["name_search"] = "jürgen schüller"  # an older folding
    await collection.insert_one(old)
    current = Customer.create(kind=CustomerKind.PERSON, name="Neu Schüller", owner_id="rep-1")
    await collection.insert_one(to_document(current))

    assert await repository.backfill_search_fields() == 1
    stored = await collection.find_one({"_id": customer.id})
    assert stored is not None
    assert stored["search_version"] == SEARCH_VERSION
    assert stored["sort_id"] == customer.id
    assert stored["name_search"] == "jurgen schuller"
    assert "n:ull" in stored["search_grams"]
    assert "p:301" in stored["search_grams"]
    assert await repository.backfill_search_fields() == 0  # idempotent

    found = await repository.page(CustomerQuery(name_contains="ÜLLER"), Sort(), 10, None)
    assert sorted(c.name for c in found.items) == ["Jürgen Schüller", "Neu Schüller"]
    found = await repository.page(CustomerQuery(phone_contains="301234"), Sort(), 10, None)
    assert [c.id for c in found.items] == [customer.id]


def _sample_ids(wanted: int) -> list[str]:
    ids = []
    for n in count():
        candidate = f"sampled-{n:06d}"
        if is_sample(candidate):
            ids.append(candidate)
            if len(ids) == wanted:
                return ids
    raise AssertionError("unreachable")


async def test_windowed_pages_give_every_customer_once_in_order(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    """With enough sampled documents, lists without a selective clause are read in windows
    between sampled keys: paging through them must still give everything once, in order."""
    collection = customers_collection(database)
    repository = MongoCustomerRepository(collection)
    ids = [str(uuid.uuid4()) for _ in range(300)] + _sample_ids(MIN_SAMPLES + 4)
    names = ["Anna", "Émile", "zoë", "Bob", "Ömer", "carl", "Dora"]
    customers = [
        Customer.create(
            kind=CustomerKind.PERSON,
            name=f"{names[n % len(names)]} {n % 37}",
            owner_id=f"rep-{n % 3}",
            team=f"team-{n % 2}",
            lifecycle=list(LifecycleStage)[n % 4],
            customer_id=customer_id,
        )
        for n, customer_id in enumerate(ids)
    ]
    await collection.insert_many([to_document(c) for c in customers])
    sample = await repository.sample()
    assert sample.size >= MIN_SAMPLES

    async def walk(query: CustomerQuery, sort: Sort, first: int) -> list[Customer]:
        seen: list[Customer] = []
        after: tuple[Any, str] | None = None
        while True:
            page = await repository.page(query, sort, first, after)
            seen += page.items
            if not page.has_next:
                return seen
            last = page.items[-1]
            after = (_sort_value(last, sort.field), last.id)

    cases = [
        (CustomerQuery(), Sort(SortField.ID), lambda c: c.id, False),
        (CustomerQuery(), Sort(SortField.NAME, descending=True), _name_key, True),
        (CustomerQuery(), Sort(SortField.CREATED_AT), _created_key, False),
        (
            CustomerQuery(lifecycles=(LifecycleStage.CUSTOMER,)),
            Sort(SortField.ID, descending=True),
            lambda c: c.id,
            True,
        ),
        (CustomerQuery(scope=Scope(owner_id="mgr", team="team-1")), Sort(), lambda c: c.id, False),
    ]
    for query, sort, key, reverse in cases:
        expected = [
            c
            for c in customers
            if (not query.lifecycles or c.lifecycle in query.lifecycles)
            and (query.scope is None or c.team == query.scope.team)
        ]
        expected.sort(key=key, reverse=reverse)
        for first in (1, 7, 50):
            got = await walk(query, sort, first)
            assert [c.id for c in got] == [c.id for c in expected], (query, sort, first)


def _name_key(customer: Customer) -> str:
    return f"{fold_text(customer.name)}\x00{customer.id}"


def _created_key(customer: Customer) -> str:
    return f"{customer.created_at.isoformat()}\x00{customer.id}"


def _sort_value(customer: Customer, field: SortField) -> str:
    if field is SortField.NAME:
        return fold_text(customer.name)
    if field is SortField.CREATED_AT:
        return customer.created_at.isoformat()
    return customer.id
