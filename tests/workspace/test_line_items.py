"""Products and a deal's line items through the gateway: the catalogue (managers and admins
keep it), the exact amount (half-even per line), the updated event, CONFLICT on a stale
version, BAD_USER_INPUT with a reason for each bad item and nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from devstack import Suite
from workspace.workspace_client import Caller, admin, new_customer, new_deal, rep, unique

CREATE_PRODUCT = """mutation($i: CreateProductInput!) { createProduct(input: $i) {
  id sku name unitPrice { amount currency } taxRate active version } }"""
SET_LINES = """mutation($id: ID!, $items: [LineItemInput!]!, $v: Int) {
  setLineItems(opportunityId: $id, items: $items, expectedVersion: $v) {
    id version amount { amount currency }
    lineItems { productId sku name quantity discountPercent
      unitPrice { amount } total { amount } } } }"""
DEAL = """query($id: ID!) { opportunity(id: $id) { version amount { amount currency }
  lineItems { sku total { amount } } } }"""


async def product(caller: Caller, name: str, price: str, currency: str = "EUR", **more: Any) -> str:
    made = await caller.data(
        CREATE_PRODUCT,
        {
            "i": {
                "sku": unique("SKU"),
                "name": name,
                "unitPrice": {"amount": price, "currency": currency},
                **more,
            }
        },
    )
    product_id: str = made["createProduct"]["id"]
    return product_id


@pytest.fixture(scope="module")
async def shop(suite: Suite) -> dict[str, Any]:
    boss = admin(suite)
    seller = rep(suite)
    customer = await new_customer(seller, unique("Line Co"))
    return {
        "admin": boss,
        "rep": seller,
        "customer": customer,
        "seat": await product(boss, "Seat licence", "19.99", taxRate="19"),
        "onboarding": await product(boss, "Onboarding", "500.00"),
        "half": await product(boss, "Half cent", "0.05"),
        "retired": await product(boss, "Retired", "1.00", active=False),
        "yen": await product(boss, "Yen thing", "1000", "JPY"),
    }


async def test_the_catalogue_is_kept_by_managers_and_admins(
    suite: Suite, shop: dict[str, Any]
) -> None:
    seller: Caller = shop["rep"]
    variables = {
        "i": {"sku": unique("SKU"), "name": "x", "unitPrice": {"amount": "1", "currency": "EUR"}}
    }
    assert await seller.codes(CREATE_PRODUCT, variables) == ["FORBIDDEN"]
    manager = Caller(suite, "manager", unique("mgr"))
    assert (await manager.data(CREATE_PRODUCT, variables))["createProduct"]["active"] is True
    assert await manager.codes(CREATE_PRODUCT, variables) == ["BAD_USER_INPUT"]  # duplicate sku
    found = await seller.data(
        """{ products(filter: { nameContains: "seat licence" }, first: 100) {
          edges { node { id } } } }"""
    )
    assert shop["seat"] in [e["node"]["id"] for e in found["products"]["edges"]]
    update = """mutation($id: ID!, $v: Int) {
      updateProduct(id: $id, input: { name: "Seat licence (year)" },
      expectedVersion: $v) { name version } }"""
    assert (await shop["admin"].data(update, {"id": shop["seat"], "v": 1}))["updateProduct"][
        "version"
    ] == 2
    assert await shop["admin"].codes(update, {"id": shop["seat"], "v": 1}) == ["CONFLICT"]


async def test_line_items_set_the_exact_amount(shop: dict[str, Any]) -> None:
    seller: Caller = shop["rep"]
    deal = await new_deal(seller, shop["customer"], unique("lines"), "100.00")
    items = [
        {"productId": shop["seat"], "quantity": 3, "discountPercent": 10},  # 53.973 -> 53.97
        {"productId": shop["onboarding"], "quantity": 1},
        {"productId": shop["half"], "quantity": "0.5"},  # 0.025 -> 0.02 (half-even)
        {"productId": shop["half"], "quantity": "1.5"},  # 0.075 -> 0.08 (half-even)
    ]
    got = (await seller.data(SET_LINES, {"id": deal["id"], "items": items, "v": deal["version"]}))[
        "setLineItems"
    ]
    assert got["amount"] == {"amount": "554.07", "currency": "EUR"}
    assert [line["total"]["amount"] for line in got["lineItems"]] == [
        "53.97",
        "500.00",
        "0.02",
        "0.08",
    ]
    assert got["version"] == deal["version"] + 1
    # A free amount needs the lines cleared first.
    update = """mutation($id: ID!) { updateOpportunity(id: $id,
      input: { amount: { amount: "1", currency: "EUR" } }) { id } }"""
    assert await seller.codes(update, {"id": deal["id"]}) == ["BAD_USER_INPUT"]
    # Stale version: CONFLICT, nothing written.
    assert await seller.codes(
        SET_LINES, {"id": deal["id"], "items": items[:1], "v": deal["version"]}
    ) == ["CONFLICT"]
    cleared = (await seller.data(SET_LINES, {"id": deal["id"], "items": []}))["setLineItems"]
    assert cleared["lineItems"] == []
    assert cleared["amount"]["amount"] == "554.07"
    assert (await seller.data(update, {"id": deal["id"]}))["updateOpportunity"]["id"] == deal["id"]


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"quantity": -1}, "INVALID_QUANTITY"),
        ({"quantity": 0}, "INVALID_QUANTITY"),
        ({"discountPercent": 101}, "INVALID_DISCOUNT"),
        ({"discountPercent": -1}, "INVALID_DISCOUNT"),
        ({"productId": "no-such-product"}, "UNKNOWN_PRODUCT"),
        ({"productId": "retired"}, "INACTIVE_PRODUCT"),
        ({"productId": "yen"}, "MIXED_CURRENCIES"),
    ],
)
async def test_bad_items_are_refused_and_nothing_is_written(
    shop: dict[str, Any], item: dict[str, Any], reason: str
) -> None:
    seller: Caller = shop["rep"]
    deal = await new_deal(seller, shop["customer"], unique("bad-lines"), "42.00")
    line = {"productId": shop["seat"], "quantity": 1, **item}
    if line["productId"] in ("retired", "yen"):
        line["productId"] = shop[line["productId"]]
    body = await seller.body(
        SET_LINES, {"id": deal["id"], "items": [{"productId": shop["seat"], "quantity": 1}, line]}
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"].get("reason") == reason, body["errors"]
    after = (await seller.data(DEAL, {"id": deal["id"]}))["opportunity"]
    assert after == {
        "version": deal["version"],
        "amount": {"amount": "42.00", "currency": "EUR"},
        "lineItems": [],
    }


async def test_only_those_who_may_change_the_deal_set_its_lines(
    suite: Suite, shop: dict[str, Any]
) -> None:
    deal = await new_deal(shop["rep"], shop["customer"], unique("others"), "10.00")
    outsider = rep(suite, team="team-elsewhere")
    codes = await outsider.codes(
        SET_LINES, {"id": deal["id"], "items": [{"productId": shop["seat"], "quantity": 1}]}
    )
    assert codes[:1] in (["FORBIDDEN"], ["NOT_FOUND"])
    manager = Caller(suite, "manager", unique("mgr"))  # same team
    got = await manager.data(
        SET_LINES, {"id": deal["id"], "items": [{"productId": shop["onboarding"], "quantity": 2}]}
    )
    assert got["setLineItems"]["amount"]["amount"] == "1000.00"
