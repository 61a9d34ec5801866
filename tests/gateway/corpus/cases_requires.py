# ruff: noqa: E501  (canned data and SDL read best on one line)
"""Corpus, @requires beyond the simple case (issue 13): a requiring field in the subgraph of
the current fetch, transitive @requires, required field sets spanning subgraphs, fields
required twice with different arguments, inline fragments in a required field set."""

from __future__ import annotations

from typing import Any

from corpus.cases_federation import fail
from corpus.model import Corpus, Query, Subgraph


def _cost(product: dict[str, Any]) -> int:
    if "weight" not in product:
        fail("weight was not sent in the representation")
    if product["weight"] is None:
        fail("no weight, no cost", "NO_WEIGHT")
    return int(product["weight"]) * 3


# Class 1: the root fetch goes to "shipping", which also resolves Product.cost, but cost
# @requires weight, which only "catalog" resolves: cost must come from a second _entities
# call to "shipping" after "catalog" gave the weights, never inline in the root fetch.
requires_in_current_subgraph = Corpus(
    "requires_in_current_subgraph",
    "@requires whose inputs live in another subgraph, the requiring field in the current fetch's",
    [
        Subgraph(
            "shipping",
            """
            type Shipment { id: ID! product: Product items: [Product!]! }
            type Product @key(fields: "id") { id: ID! weight: Int @external cost: Int @requires(fields: "weight") carrier: String! }
            type Query { shipments: [Shipment!]! topProduct: Product }
            """,
            root={
                "shipments": [
                    {
                        "id": "s1",
                        "product": {"__typename": "Product", "id": "p1"},
                        "items": [
                            {"__typename": "Product", "id": "p2"},
                            {"__typename": "Product", "id": "p3"},
                        ],
                    },
                    {"id": "s2", "product": None, "items": []},
                    {
                        "id": "s3",
                        "product": {"__typename": "Product", "id": "p3"},
                        "items": [{"__typename": "Product", "id": "p1"}],
                    },
                ],
                "topProduct": {"__typename": "Product", "id": "p2"},
            },
            entities={
                "Product": [
                    {"id": "p1", "carrier": "DHL"},
                    {"id": "p2", "carrier": "UPS"},
                    {"id": "p3", "carrier": "DPD"},
                ]
            },
            resolvers={"Product.cost": _cost},
        ),
        Subgraph(
            "catalog",
            """
            type Product @key(fields: "id") { id: ID! weight: Int name: String! }
            """,
            entities={
                "Product": [
                    {"id": "p1", "weight": 10, "name": "Lamp"},
                    {"id": "p2", "weight": 7, "name": "Desk"},
                    {"id": "p3", "weight": None, "name": "Gift card"},
                ]
            },
        ),
    ],
    [
        Query("{ topProduct { cost } }"),
        Query("{ shipments { id product { cost carrier } } }"),
        Query("{ shipments { product { id weight cost } items { name cost } } }"),
        Query("{ shipments { items { carrier } product { name } } }"),
    ],
)

CORPORA = [requires_in_current_subgraph]
