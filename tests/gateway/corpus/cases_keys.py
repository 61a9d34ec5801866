# ruff: noqa: E501  (canned data and SDL read best on one line)
"""Corpus, entity keys assembled from the fields of several subgraphs (issue 13, class 6):
``price`` resolves Product by ``id pid category { id tag }``; the root subgraph has ``id``,
``link`` gives ``pid`` by ``id``, ``categories`` gives ``category { id }`` by ``id pid`` (so
after ``link``), ``tags`` gives ``tag`` by the category's ``id``: no single subgraph can
provide the key whole."""

from __future__ import annotations

from typing import Any

from corpus.cases_federation import fail
from corpus.model import Corpus, Query, Subgraph


def _price(product: dict[str, Any]) -> Any:
    if product.get("price") == "down":
        fail("no price for this product today", "PRICE_DOWN")
    return product.get("price")


_C1 = {"id": "c1", "tag": "home"}
_C2 = {"id": "c2", "tag": "office"}

key_from_several_subgraphs = Corpus(
    "key_from_several_subgraphs",
    "a composite key (id pid category { id tag }) gathered from four subgraphs",
    [
        Subgraph(
            "catalog",
            """
            type Product @key(fields: "id") { id: ID! name: String! }
            type Query { products: [Product!]! product(id: ID!): Product }
            """,
            root={
                "products": [
                    {"__typename": "Product", "id": "p1", "name": "Lamp"},
                    {"__typename": "Product", "id": "p2", "name": "Desk"},
                    {"__typename": "Product", "id": "p3", "name": "Rug"},
                ]
            },
            resolvers={
                "Query.product": lambda parent, id: (
                    {"__typename": "Product", "id": id, "name": "Lamp"} if id == "p1" else None
                )
            },
        ),
        Subgraph(
            "link",
            """
            type Product @key(fields: "id") @key(fields: "id pid") { id: ID! pid: String! }
            """,
            entities={
                "Product": [
                    {"id": "p1", "pid": "A"},
                    {"id": "p2", "pid": "B"},
                    {"id": "p3", "pid": "C"},
                ]
            },
        ),
        Subgraph(
            "categories",
            """
            type Category @key(fields: "id") { id: ID! }
            type Product @key(fields: "id pid") { id: ID! pid: String! category: Category! @shareable }
            """,
            entities={
                "Product": [
                    {"id": "p1", "pid": "A", "category": {"__typename": "Category", "id": "c1"}},
                    {"id": "p2", "pid": "B", "category": {"__typename": "Category", "id": "c2"}},
                    {"id": "p3", "pid": "C", "category": {"__typename": "Category", "id": "c1"}},
                ],
                "Category": [{"id": "c1"}, {"id": "c2"}],
            },
        ),
        Subgraph(
            "tags",
            """
            type Category @key(fields: "id") { id: ID! tag: String! @shareable }
            """,
            entities={"Category": [_C1, _C2]},
        ),
        Subgraph(
            "price",
            """
            type Category @shareable { id: ID! tag: String! }
            type Product @key(fields: "id pid category { id tag }") { id: ID! pid: String! category: Category! price: Int }
            """,
            entities={
                "Product": [
                    {"id": "p1", "pid": "A", "category": _C1, "price": 30},
                    {"id": "p2", "pid": "B", "category": _C2, "price": None},
                    {"id": "p3", "pid": "C", "category": _C1, "price": "down"},
                ]
            },
            resolvers={"Product.price": _price},
        ),
    ],
    [
        # p2 has no price (null), p3's price fails (null and an error at products.2.price).
        Query("{ products { name price } }"),
        Query("{ products { id pid category { id tag } price } }"),
        Query("{ products { price category { tag } } }"),
        Query('{ product(id: "p1") { price } missing: product(id: "p9") { price } }'),
    ],
)

CORPORA = [key_from_several_subgraphs]
