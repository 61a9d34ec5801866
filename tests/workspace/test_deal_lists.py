"""Deal lists people can work from, through the gateway: every filter of ``opportunities``,
every sort with its keyset cursor (pages walked to the end give the whole order, once), title
and customer-name fragments (CJK: any two characters), visibility per role, bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from devstack import Suite
from workspace.workspace_client import Caller, admin, new_customer, new_deal, rep, unique

LIST = """query($f: OpportunityFilter, $s: OpportunitySort, $after: String, $first: Int) {
  opportunities(filter: $f, sort: $s, first: $first, after: $after) {
    totalCount edges { cursor node {
      id title updatedAt expectedCloseDate amount { amount currency } } }
    pageInfo { hasNextPage endCursor } } }"""


async def walk(
    caller: Caller, filter: dict[str, Any], sort: dict[str, str] | None, size: int = 2
) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await caller.data(LIST, {"f": filter, "s": sort, "after": after, "first": size}))[
            "opportunities"
        ]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


@pytest.fixture(scope="module")
async def deals(suite: Suite) -> dict[str, Any]:
    seller = rep(suite)
    tag = unique("list")
    customer = await new_customer(seller, f"北京测试科技有限公司 {tag}")
    made = []
    for title, amount, close in (
        ("Alpha 科技 renewal", "300.00", "2027-03-01"),
        ("beta rollout", "50.00", None),
        ("Gamma expansion", "300.00", "2027-01-15"),
        ("delta pilot", "1200.50", "2027-02-01"),
        ("Épsilon audit", "7.25", None),
    ):
        extra = {"expectedCloseDate": close} if close else {}
        made.append(await new_deal(seller, customer, f"{tag} {title}", amount, **extra))
    return {"rep": seller, "tag": tag, "customer": customer, "deals": made}


@pytest.mark.parametrize("field", ["AMOUNT", "EXPECTED_CLOSE", "UPDATED", "CREATED", "TITLE"])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_every_sort_pages_through_the_whole_order_once(
    deals: dict[str, Any], field: str, direction: str
) -> None:
    seller: Caller = deals["rep"]
    nodes = await walk(
        seller, {"titleContains": deals["tag"]}, {"field": field, "direction": direction}
    )
    assert sorted(n["id"] for n in nodes) == sorted(d["id"] for d in deals["deals"])

    def key(node: dict[str, Any]) -> Any:
        if field == "AMOUNT":
            return Decimal(node["amount"]["amount"])
        if field == "EXPECTED_CLOSE":
            return node["expectedCloseDate"] or "9999-12-31"
        if field == "TITLE":
            return node["title"].casefold().replace("é", "e")
        if field == "UPDATED":
            return node["updatedAt"]
        return None

    if field != "CREATED":
        keys = [key(n) for n in nodes]
        assert keys == sorted(keys, reverse=direction == "DESC")
    else:
        created = [d["id"] for d in deals["deals"]]
        order = [n["id"] for n in nodes]
        assert order == (created[::-1] if direction == "DESC" else created)


async def test_filters_narrow_the_list(deals: dict[str, Any]) -> None:
    seller: Caller = deals["rep"]
    tag = deals["tag"]

    async def titles(**filter: Any) -> set[str]:
        nodes = await walk(seller, {"titleContains": tag, **filter}, None, size=50)
        return {n["title"].removeprefix(tag + " ") for n in nodes}

    assert await titles(amountMin="300", amountMax="1200.50") == {
        "Alpha 科技 renewal",
        "Gamma expansion",
        "delta pilot",
    }
    assert await titles(currency="eur", amountMax="50") == {"beta rollout", "Épsilon audit"}
    assert await titles(currency="USD") == set()
    assert await titles(expectedCloseFrom="2027-01-01", expectedCloseTo="2027-02-15") == {
        "Gamma expansion",
        "delta pilot",
    }
    assert await titles(customerId=deals["customer"], status="OPEN") == {
        "Alpha 科技 renewal",
        "beta rollout",
        "Gamma expansion",
        "delta pilot",
        "Épsilon audit",
    }
    assert (
        await titles(updatedFrom="2000-01-01T00:00:00Z", updatedTo="2001-01-01T00:00:00Z") == set()
    )


async def test_title_fragments_case_accents_and_cjk(deals: dict[str, Any]) -> None:
    seller: Caller = deals["rep"]
    for fragment, expected in (
        ("科技", 1),
        ("EPSILON", 1),
        ("rollou", 1),
        ("expan", 1),
        ("科学", 0),
    ):
        filter = {"titleContains": fragment, "customerId": deals["customer"]}
        nodes = await walk(seller, filter, None, 50)
        assert len(nodes) == expected, fragment


async def test_chinese_customer_names_found_by_any_two_characters(
    suite: Suite, deals: dict[str, Any]
) -> None:
    seller: Caller = deals["rep"]
    query = """query($s: String!) {
      customers(filter: { search: $s }, first: 50) { edges { node { id } } } }"""
    for fragment in ("北京", "测试", "科技", "有限", "有限公司", "京测试", "技有限公"):
        found = await seller.data(query, {"s": fragment})
        ids = [e["node"]["id"] for e in found["customers"]["edges"]]
        assert deals["customer"] in ids, fragment
    found = await seller.data(query, {"s": "京科"})
    assert deals["customer"] not in [e["node"]["id"] for e in found["customers"]["edges"]]


async def test_other_reps_see_none_of_it_admins_all(suite: Suite, deals: dict[str, Any]) -> None:
    outsider = rep(suite, team="team-elsewhere")
    assert await walk(outsider, {"titleContains": deals["tag"]}, None) == []
    assert len(await walk(admin(suite), {"titleContains": deals["tag"]}, None, 50)) == 5


async def test_bad_input_and_foreign_cursors(deals: dict[str, Any]) -> None:
    seller: Caller = deals["rep"]
    page = await seller.data(
        LIST,
        {
            "f": {"titleContains": deals["tag"]},
            "s": {"field": "AMOUNT", "direction": "ASC"},
            "first": 1,
        },
    )
    cursor = page["opportunities"]["pageInfo"]["endCursor"]
    other_sort = {"field": "TITLE", "direction": "ASC"}
    assert await seller.codes(LIST, {"f": {}, "s": other_sort, "after": cursor}) == [
        "BAD_USER_INPUT"
    ]
    assert await seller.codes(LIST, {"f": {"amountMin": "-1"}}) == ["BAD_USER_INPUT"]
    assert await seller.codes(LIST, {"f": {"amountMin": "5", "amountMax": "1"}}) == [
        "BAD_USER_INPUT"
    ]
    assert await seller.codes(LIST, {"f": {"titleContains": "  "}}) == ["BAD_USER_INPUT"]
