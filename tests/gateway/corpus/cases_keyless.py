# ruff: noqa: E501  (canned data and SDL read best on one line)
"""Corpus, keyless value types shared across subgraphs (issue 13, class 5): a @shareable root
field re-queried in the other subgraphs that own the rest of its selection, and a field of a
keyless type reached through its nearest ancestor entity ("parent entity call")."""

from __future__ import annotations

from typing import Any

from corpus.cases_federation import fail
from corpus.model import Corpus, Query, Subgraph


def _config(scopes: dict[str, dict[str, Any]]) -> Any:
    return lambda parent, scope: scopes.get(scope)


def _warehouse(details: dict[str, Any]) -> Any:
    if "warehouse" not in details:
        fail("the warehouse of this product is unknown", "NO_WAREHOUSE")
    return details["warehouse"]


_CATALOG_PRODUCTS = [
    {
        "__typename": "Product",
        "id": "p1",
        "name": "Lamp",
        "details": {"color": "red", "weight": 2},
        "variants": [{"sku": "L-S"}, {"sku": "L-L"}],
    },
    {"__typename": "Product", "id": "p2", "name": "Desk", "details": None, "variants": []},
    {
        "__typename": "Product",
        "id": "p3",
        "name": "Rug",
        "details": {"color": "blue", "weight": 7},
        "variants": [{"sku": "R-1"}],
    },
]

keyless_value_types = Corpus(
    "keyless_value_types",
    "keyless value types whose fields live in several subgraphs: root re-query, parent entity call",
    [
        Subgraph(
            "catalog",
            """
            type Config { region: String! @shareable catalogVersion: Int }
            type Details { color: String! @shareable weight: Int }
            type Variant { sku: String! @shareable }
            type Product @key(fields: "id") { id: ID! name: String! details: Details @shareable variants: [Variant!]! @shareable }
            type Query { config(scope: String! = "shop"): Config @shareable products: [Product!]! }
            """,
            root={"products": _CATALOG_PRODUCTS},
            entities={"Product": _CATALOG_PRODUCTS},
            resolvers={
                "Query.config": _config(
                    {
                        "shop": {"region": "eu", "catalogVersion": 3},
                        "admin": {"region": "us", "catalogVersion": 9},
                    }
                )
            },
        ),
        Subgraph(
            "settings",
            """
            type Config { region: String! @shareable theme: String }
            type Query { config(scope: String! = "shop"): Config @shareable }
            """,
            resolvers={
                "Query.config": _config(
                    {
                        "shop": {"region": "eu", "theme": "dark"},
                        "admin": {"region": "us", "theme": None},
                    }
                )
            },
        ),
        Subgraph(
            "stock",
            """
            type Dims { w: Int! h: Int! }
            type Details { color: String! @shareable warehouse: String dims: Dims }
            type Variant { sku: String! @shareable qty: Int! }
            type Product @key(fields: "id") { id: ID! details: Details @shareable variants: [Variant!]! @shareable }
            """,
            entities={
                "Product": [
                    {
                        "id": "p1",
                        "details": {
                            "color": "red",
                            "warehouse": "north",
                            "dims": {"w": 10, "h": 20},
                        },
                        "variants": [{"sku": "L-S", "qty": 3}, {"sku": "L-L", "qty": 0}],
                    },
                    {"id": "p2", "details": None, "variants": []},
                    {
                        "id": "p3",
                        "details": {"color": "blue", "dims": None},
                        "variants": [{"sku": "R-1", "qty": 5}],
                    },
                ]
            },
            resolvers={"Details.warehouse": _warehouse},
        ),
    ],
    [
        # Root re-query: catalogVersion in catalog, theme in settings, region in either.
        Query("{ config { region catalogVersion theme } }"),
        Query('{ c: config(scope: "admin") { theme catalogVersion } }'),
        Query(
            "query Q($scope: String!) { config(scope: $scope) { theme } other: config { catalogVersion __typename } }",
            variables={"scope": "admin"},
        ),
        # Parent entity call: Details has no key; warehouse comes through Product's key.
        # p2 has no details (null in both), p3's warehouse fails (null, an error).
        Query("{ products { name details { color weight warehouse } } }"),
        Query("{ products { id d: details { dims { w } weight } } }"),
        Query("{ products { variants { sku qty } } }"),
        Query("{ products { details { ...D } } } fragment D on Details { weight dims { h } }"),
    ],
)

CORPORA = [keyless_value_types]
