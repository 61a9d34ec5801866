# ruff: noqa: E501  (canned data and SDL read best on one line)
"""Corpus, federation features: keys, paths, @requires, @provides, @shareable, @override,
abstract types across subgraphs, @interfaceObject, value types, differing enums/inputs."""

from __future__ import annotations

from typing import Any

from corpus.model import Corpus, Query, Subgraph


class CodedError(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: str = "INTERNAL") -> Any:
    raise CodedError(message, code)


PRODUCTS = [
    {"upc": "1", "name": "Table", "price": 899, "weight": 100},
    {"upc": "2", "name": "Couch", "price": 1299, "weight": 1000},
    {"upc": "3", "name": "Chair", "price": 54, "weight": 50},
]

basic_join = Corpus(
    "basic_join",
    "single key entity join, list paths, nested joins, errors in entity fields",
    [
        Subgraph(
            "products",
            """
            type Product @key(fields: "upc") { upc: String! name: String! price: Int weight: Int }
            type Query { topProducts(first: Int = 5): [Product!]! product(upc: String!): Product }
            """,
            entities={"Product": PRODUCTS},
            resolvers={
                "Query.topProducts": lambda _, first: PRODUCTS[:first],
                "Query.product": lambda _, upc: next(
                    (p for p in PRODUCTS if p["upc"] == upc), None
                ),
            },
        ),
        Subgraph(
            "reviews",
            """
            type Product @key(fields: "upc") { upc: String! reviews: [Review!]! broken: String }
            type Review { id: ID! body: String! author: User! product: Product! }
            type User @key(fields: "id") { id: ID! reviews: [Review!]! }
            """,
            entities={
                "Product": [
                    {
                        "upc": "1",
                        "reviews": [
                            {
                                "id": "r1",
                                "body": "Love it",
                                "author": {"__typename": "User", "id": "u1"},
                                "product": {"__typename": "Product", "upc": "1"},
                            }
                        ],
                    },
                    {
                        "upc": "2",
                        "reviews": [
                            {
                                "id": "r2",
                                "body": "Too expensive",
                                "author": {"__typename": "User", "id": "u2"},
                                "product": {"__typename": "Product", "upc": "2"},
                            },
                            {
                                "id": "r3",
                                "body": "Comfy",
                                "author": {"__typename": "User", "id": "u1"},
                                "product": {"__typename": "Product", "upc": "2"},
                            },
                        ],
                    },
                    {"upc": "3", "reviews": []},
                ],
                "User": [{"id": "u1", "reviews": []}, {"id": "u2", "reviews": []}],
            },
            resolvers={"Product.broken": lambda p: fail(f"broken {p['upc']}", "BROKEN")},
        ),
        Subgraph(
            "accounts",
            """
            type User @key(fields: "id") { id: ID! name: String username: String }
            type Query { me: User }
            """,
            root={"me": {"__typename": "User", "id": "u1"}},
            entities={
                "User": [
                    {"id": "u1", "name": "Ada", "username": "@ada"},
                    {"id": "u2", "name": "Alan", "username": "@alan"},
                ]
            },
        ),
    ],
    [
        Query("{ topProducts { upc name } }"),
        Query("{ topProducts { name reviews { body } } }"),
        Query("{ topProducts(first: 2) { name reviews { body author { name username } } } }"),
        Query(
            '{ product(upc: "2") { name reviews { author { name } product { name price } } } me { name } }'
        ),
        Query("{ topProducts { upc broken } }"),
        Query('{ product(upc: "404") { name reviews { body } } }'),
        Query("{ topProducts { nope } }"),
    ],
)

multiple_keys = Corpus(
    "multiple_keys",
    "an entity with two keys, each subgraph reaching it by the key it knows",
    [
        Subgraph(
            "users",
            """
            type User @key(fields: "id") @key(fields: "email") { id: ID! email: String! name: String! }
            type Query { users: [User!]! }
            """,
            root={"users": [{"__typename": "User", "id": "1"}, {"__typename": "User", "id": "2"}]},
            entities={
                "User": [
                    {"id": "1", "email": "a@x", "name": "Ann"},
                    {"id": "2", "email": "b@x", "name": "Bob"},
                ]
            },
        ),
        Subgraph(
            "mail",
            """
            type User @key(fields: "email") { email: String! inbox: Int! }
            type Query { recipients: [User!]! }
            """,
            root={
                "recipients": [
                    {"__typename": "User", "email": "b@x"},
                    {"__typename": "User", "email": "a@x"},
                ]
            },
            entities={"User": [{"email": "a@x", "inbox": 3}, {"email": "b@x", "inbox": 0}]},
        ),
        Subgraph(
            "billing",
            """
            type User @key(fields: "id") { id: ID! balance: Int! }
            """,
            entities={"User": [{"id": "1", "balance": 10}, {"id": "2", "balance": -5}]},
        ),
    ],
    [
        Query("{ users { name inbox balance } }"),
        Query("{ recipients { email inbox name } }"),
        Query("{ recipients { inbox balance } }"),
        Query("{ recipients { id } }"),
    ],
)

composite_key = Corpus(
    "composite_key",
    "a key of two fields",
    [
        Subgraph(
            "catalog",
            """
            type Variant @key(fields: "sku region") { sku: String! region: String! label: String! }
            type Query { variants: [Variant!]! }
            """,
            root={
                "variants": [
                    {"__typename": "Variant", "sku": "a", "region": "eu"},
                    {"__typename": "Variant", "sku": "a", "region": "us"},
                ]
            },
            entities={
                "Variant": [
                    {"sku": "a", "region": "eu", "label": "A/EU"},
                    {"sku": "a", "region": "us", "label": "A/US"},
                ]
            },
        ),
        Subgraph(
            "stock",
            """
            type Variant @key(fields: "sku region") { sku: String! region: String! quantity: Int! }
            """,
            entities={
                "Variant": [
                    {"sku": "a", "region": "eu", "quantity": 5},
                    {"sku": "a", "region": "us", "quantity": 0},
                ]
            },
        ),
    ],
    [
        Query("{ variants { label quantity } }"),
        Query("{ variants { sku region quantity } }"),
        Query("{ variants { quantity } }"),
    ],
)

nested_key = Corpus(
    "nested_key",
    "a key with a nested object field",
    [
        Subgraph(
            "org",
            """
            type Org @shareable { id: ID! }
            type Member @key(fields: "id org { id }") { id: ID! org: Org! name: String! }
            type Query { members: [Member!]! }
            """,
            root={
                "members": [
                    {"__typename": "Member", "id": "m1", "org": {"id": "o1"}},
                    {"__typename": "Member", "id": "m1", "org": {"id": "o2"}},
                ]
            },
            entities={
                "Member": [
                    {"id": "m1", "org": {"id": "o1"}, "name": "One@o1"},
                    {"id": "m1", "org": {"id": "o2"}, "name": "One@o2"},
                ]
            },
        ),
        Subgraph(
            "hr",
            """
            type Org @shareable { id: ID! }
            type Member @key(fields: "id org { id }") { id: ID! org: Org! salary: Int! }
            """,
            entities={
                "Member": [
                    {"id": "m1", "org": {"id": "o1"}, "salary": 100},
                    {"id": "m1", "org": {"id": "o2"}, "salary": 200},
                ]
            },
        ),
    ],
    [
        Query("{ members { name salary } }"),
        Query("{ members { salary org { id } } }"),
    ],
)

non_resolvable_key = Corpus(
    "non_resolvable_key",
    "a subgraph that references an entity it cannot resolve (resolvable: false)",
    [
        Subgraph(
            "posts",
            """
            type Author @key(fields: "id", resolvable: false) { id: ID! }
            type Post @key(fields: "id") { id: ID! title: String! author: Author! }
            type Query { posts: [Post!]! }
            """,
            root={
                "posts": [
                    {"__typename": "Post", "id": "p1", "title": "Hello", "author": {"id": "a1"}},
                    {"__typename": "Post", "id": "p2", "title": "Again", "author": {"id": "a1"}},
                ]
            },
            entities={"Post": [{"id": "p1", "title": "Hello", "author": {"id": "a1"}}]},
        ),
        Subgraph(
            "authors",
            """
            type Author @key(fields: "id") { id: ID! name: String! }
            type Query { authors: [Author!]! }
            """,
            root={"authors": [{"__typename": "Author", "id": "a1"}]},
            entities={"Author": [{"id": "a1", "name": "Ann"}]},
        ),
    ],
    [
        Query("{ posts { title author { id name } } }"),
        Query("{ posts { author { name } } authors { name } }"),
    ],
)

nested_list_paths = Corpus(
    "nested_list_paths",
    "entities inside lists of lists and nested objects; batched, de-duplicated representations",
    [
        Subgraph(
            "grid",
            """
            type Cell @key(fields: "id") { id: ID! }
            type Row { cells: [Cell] label: String }
            type Board { rows: [Row!]! matrix: [[Cell!]!]! }
            type Query { board: Board! }
            """,
            root={
                "board": {
                    "rows": [
                        {
                            "label": "r0",
                            "cells": [
                                {"__typename": "Cell", "id": "a"},
                                None,
                                {"__typename": "Cell", "id": "b"},
                            ],
                        },
                        {"label": "r1", "cells": [{"__typename": "Cell", "id": "a"}]},
                        {"label": "r2", "cells": None},
                    ],
                    "matrix": [
                        [{"__typename": "Cell", "id": "b"}, {"__typename": "Cell", "id": "c"}],
                        [],
                        [{"__typename": "Cell", "id": "a"}],
                    ],
                }
            },
        ),
        Subgraph(
            "values",
            """
            type Cell @key(fields: "id") { id: ID! value: Int! }
            """,
            entities={
                "Cell": [{"id": "a", "value": 1}, {"id": "b", "value": 2}, {"id": "c", "value": 3}]
            },
        ),
    ],
    [
        Query("{ board { rows { label cells { id value } } } }"),
        Query("{ board { matrix { value } } }"),
        Query("{ board { matrix { id value } rows { cells { value } } } }"),
    ],
)


def _shipping(product: dict[str, Any]) -> int:
    return int(product["weight"]) * 2 if int(product["price"]) < 1000 else 0


requires_simple = Corpus(
    "requires_simple",
    "@requires of fields from another subgraph, including a nested one",
    [
        Subgraph(
            "products",
            """
            type Dimensions @shareable { size: Int! unit: String! }
            type Product @key(fields: "upc") { upc: String! price: Int! weight: Int! dims: Dimensions! }
            type Query { products: [Product!]! }
            """,
            root={"products": [{"__typename": "Product", "upc": u} for u in ("1", "2", "3")]},
            entities={
                "Product": [
                    {**p, "dims": {"size": int(p["upc"]) * 10, "unit": "cm"}} for p in PRODUCTS
                ]
            },
        ),
        Subgraph(
            "inventory",
            """
            type Dimensions @shareable { size: Int! unit: String! }
            type Product @key(fields: "upc") {
              upc: String!
              price: Int! @external
              weight: Int! @external
              dims: Dimensions! @external
              shippingEstimate: Int! @requires(fields: "price weight")
              packaging: String! @requires(fields: "dims { size }")
              inStock: Boolean!
            }
            """,
            entities={
                "Product": [
                    {"upc": "1", "inStock": True},
                    {"upc": "2", "inStock": False},
                    {"upc": "3", "inStock": True},
                ]
            },
            resolvers={
                "Product.shippingEstimate": _shipping,
                "Product.packaging": lambda p: "box" if p["dims"]["size"] < 25 else "crate",
            },
        ),
    ],
    [
        Query("{ products { upc shippingEstimate } }"),
        Query("{ products { inStock shippingEstimate price } }"),
        Query("{ products { packaging shippingEstimate dims { unit } } }"),
    ],
)

requires_with_args = Corpus(
    "requires_with_args",
    "@requires of a field that takes arguments",
    [
        Subgraph(
            "pricing",
            """
            type Product @key(fields: "id") { id: ID! price(currency: String!): Int! }
            type Query { products: [Product!]! }
            """,
            root={
                "products": [
                    {"__typename": "Product", "id": "1"},
                    {"__typename": "Product", "id": "2"},
                ]
            },
            entities={"Product": [{"id": "1", "base": 100}, {"id": "2", "base": 250}]},
            resolvers={
                "Product.price": lambda p, currency: p["base"] * (2 if currency == "USD" else 1)
            },
        ),
        Subgraph(
            "tax",
            """
            type Product @key(fields: "id") {
              id: ID!
              price(currency: String!): Int! @external
              tax: Int! @requires(fields: "price(currency: \\"USD\\")")
            }
            """,
            entities={"Product": [{"id": "1"}, {"id": "2"}]},
            resolvers={"Product.tax": lambda p: p["price"] // 10},
        ),
    ],
    [
        Query("{ products { id tax } }"),
        Query('{ products { eur: price(currency: "EUR") tax } }'),
        Query('{ products { price(currency: "USD") tax } }'),
    ],
)

provides = Corpus(
    "provides",
    "@provides: fields a subgraph can return at one path without a join",
    [
        Subgraph(
            "reviews",
            """
            type User @key(fields: "id") { id: ID! username: String! @external }
            type Review { id: ID! author: User! @provides(fields: "username") body: String! }
            type Query { reviews: [Review!]! }
            """,
            root={
                "reviews": [
                    {
                        "id": "r1",
                        "body": "ok",
                        "author": {
                            "__typename": "User",
                            "id": "u1",
                            "username": "ada-from-reviews",
                        },
                    },
                    {
                        "id": "r2",
                        "body": "meh",
                        "author": {
                            "__typename": "User",
                            "id": "u2",
                            "username": "alan-from-reviews",
                        },
                    },
                ]
            },
            entities={"User": [{"id": "u1"}, {"id": "u2"}]},
        ),
        Subgraph(
            "accounts",
            """
            type User @key(fields: "id") { id: ID! username: String! @shareable name: String! }
            """,
            entities={
                "User": [
                    {"id": "u1", "username": "ada", "name": "Ada"},
                    {"id": "u2", "username": "alan", "name": "Alan"},
                ]
            },
        ),
    ],
    [
        Query("{ reviews { body author { username } } }"),
        Query("{ reviews { author { username name } } }"),
        Query("{ reviews { author { id } } }"),
    ],
)

shareable = Corpus(
    "shareable",
    "@shareable fields resolved by several subgraphs: the one in use is preferred",
    [
        Subgraph(
            "a",
            """
            type Item @key(fields: "id") { id: ID! name: String! @shareable onlyA: String! }
            type Query { itemsA: [Item!]! }
            """,
            root={"itemsA": [{"__typename": "Item", "id": "1"}, {"__typename": "Item", "id": "2"}]},
            entities={
                "Item": [
                    {"id": "1", "name": "one", "onlyA": "A1"},
                    {"id": "2", "name": "two", "onlyA": "A2"},
                ]
            },
        ),
        Subgraph(
            "b",
            """
            type Item @key(fields: "id") { id: ID! name: String! @shareable onlyB: String! }
            type Query { itemsB: [Item!]! }
            """,
            root={"itemsB": [{"__typename": "Item", "id": "2"}]},
            entities={
                "Item": [
                    {"id": "1", "name": "one", "onlyB": "B1"},
                    {"id": "2", "name": "two", "onlyB": "B2"},
                ]
            },
        ),
    ],
    [
        Query("{ itemsA { name onlyA } itemsB { name onlyB } }"),
        Query("{ itemsB { name onlyA } }"),
        Query("{ itemsA { onlyB name } }"),
    ],
)

override = Corpus(
    "override",
    "@override: a field moved from one subgraph to another",
    [
        Subgraph(
            "old",
            """
            type Bill @key(fields: "id") { id: ID! amount: Int! payee: String! }
            type Query { bills: [Bill!]! }
            """,
            root={"bills": [{"__typename": "Bill", "id": "1"}, {"__typename": "Bill", "id": "2"}]},
            entities={
                "Bill": [
                    {"id": "1", "amount": 1, "payee": "old-1"},
                    {"id": "2", "amount": 2, "payee": "old-2"},
                ]
            },
        ),
        Subgraph(
            "new",
            """
            type Bill @key(fields: "id") { id: ID! payee: String! @override(from: "old") }
            """,
            entities={"Bill": [{"id": "1", "payee": "new-1"}, {"id": "2", "payee": "new-2"}]},
        ),
    ],
    [
        Query("{ bills { amount payee } }"),
        Query("{ bills { payee } }"),
    ],
)

override_progressive = Corpus(
    "override_progressive",
    "progressive @override with percent labels",
    [
        Subgraph(
            "old",
            """
            type Bill @key(fields: "id") { id: ID! amount: Int! payee: String! memo: String! }
            type Query { bills: [Bill!]! }
            """,
            root={"bills": [{"__typename": "Bill", "id": "1"}]},
            entities={"Bill": [{"id": "1", "amount": 1, "payee": "old-1", "memo": "old-memo"}]},
        ),
        Subgraph(
            "new",
            """
            type Bill @key(fields: "id") {
              id: ID!
              payee: String! @override(from: "old", label: "percent(0)")
              memo: String! @override(from: "old", label: "percent(100)")
            }
            """,
            entities={"Bill": [{"id": "1", "payee": "new-1", "memo": "new-memo"}]},
        ),
    ],
    [
        Query("{ bills { amount payee } }"),
        Query(
            "{ bills { amount memo } }",
            apollo_wrong=(
                "@apollo/gateway never rolls progressive-override labels: every label counts as"
                " false, so percent(100) still reads the old subgraph; the spec (and Router)"
                " resolves a percent(100) label as true on every request"
            ),
            expected={"data": {"bills": [{"amount": 1, "memo": "new-memo"}]}},
        ),
    ],
)

BOOK = {"__typename": "Book", "id": "b1"}
PAINTS = [
    {"__typename": "Paint", "id": str(i), "color": c, "size": z}
    for i, (c, z) in enumerate([("RED", "S"), ("GREEN", "M"), ("BLUE", "M")])
]
MOVIE = {"__typename": "Movie", "id": "m1"}

interfaces_across = Corpus(
    "interfaces_across",
    "an interface whose implementations live in different subgraphs",
    [
        Subgraph(
            "library",
            """
            interface Media { id: ID! title: String! }
            type Book implements Media @key(fields: "id") { id: ID! title: String! pages: Int! }
            type Movie implements Media @key(fields: "id") { id: ID! title: String! }
            type Query { media: [Media!]! first: Media }
            """,
            root={"media": [BOOK, MOVIE], "first": MOVIE},
            entities={
                "Book": [{"id": "b1", "title": "Dune", "pages": 412}],
                "Movie": [{"id": "m1", "title": "Alien"}],
            },
        ),
        Subgraph(
            "cinema",
            """
            type Movie @key(fields: "id") { id: ID! minutes: Int! }
            """,
            entities={"Movie": [{"id": "m1", "minutes": 117}]},
        ),
        Subgraph(
            "ratings",
            """
            type Book @key(fields: "id") { id: ID! stars: Int! }
            type Movie @key(fields: "id") { id: ID! stars: Int! }
            """,
            entities={"Book": [{"id": "b1", "stars": 5}], "Movie": [{"id": "m1", "stars": 4}]},
        ),
    ],
    [
        Query("{ media { __typename title } }"),
        Query("{ media { title ... on Book { pages stars } ... on Movie { minutes stars } } }"),
        Query("{ first { id ... on Movie { minutes } } }"),
        Query("{ media { ...M } } fragment M on Media { id ... on Movie { stars } }"),
    ],
)

unions_across = Corpus(
    "unions_across",
    "a union whose members are joined from other subgraphs",
    [
        Subgraph(
            "search",
            """
            type Book @key(fields: "id") { id: ID! }
            type Movie @key(fields: "id") { id: ID! }
            union Result = Book | Movie
            type Query { search(term: String!): [Result!]! }
            """,
            resolvers={"Query.search": lambda _, term: [BOOK, MOVIE] if term == "all" else [MOVIE]},
        ),
        Subgraph(
            "books",
            """
            type Book @key(fields: "id") { id: ID! title: String! }
            """,
            entities={"Book": [{"id": "b1", "title": "Dune"}]},
        ),
        Subgraph(
            "movies",
            """
            type Movie @key(fields: "id") { id: ID! title: String! year: Int! }
            """,
            entities={"Movie": [{"id": "m1", "title": "Alien", "year": 1979}]},
        ),
    ],
    [
        Query(
            '{ search(term: "all") { __typename ... on Book { title } ... on Movie { title year } } }'
        ),
        Query('{ search(term: "m") { ... on Book { title } } }'),
        Query('{ search(term: "all") { ... on Movie { id } } }'),
        Query('{ search(term: "all") { ... on Book { nope } } }'),
    ],
)

interface_object = Corpus(
    "interface_object",
    "@interfaceObject: a subgraph adds fields to every implementation of an entity interface",
    [
        Subgraph(
            "library",
            """
            interface Media @key(fields: "id") { id: ID! title: String! }
            type Book implements Media @key(fields: "id") { id: ID! title: String! author: String! }
            type Movie implements Media @key(fields: "id") { id: ID! title: String! }
            type Query { media: [Media!]! }
            """,
            root={"media": [BOOK, MOVIE]},
            entities={
                "Book": [{"id": "b1", "title": "Dune", "author": "Herbert"}],
                "Movie": [{"id": "m1", "title": "Alien"}],
                "Media": [
                    {"__typename": "Book", "id": "b1", "title": "Dune", "author": "Herbert"},
                    {"__typename": "Movie", "id": "m1", "title": "Alien"},
                ],
            },
        ),
        Subgraph(
            "reviews",
            """
            type Media @key(fields: "id") @interfaceObject { id: ID! reviews: [String!]! }
            type Query { topMedia: [Media!]! }
            """,
            root={
                "topMedia": [
                    {"__typename": "Media", "id": "m1"},
                    {"__typename": "Media", "id": "b1"},
                ]
            },
            entities={
                "Media": [
                    {"id": "b1", "reviews": ["great"]},
                    {"id": "m1", "reviews": ["scary", "classic"]},
                ]
            },
        ),
    ],
    [
        Query("{ media { title reviews } }"),
        Query("{ media { __typename ... on Book { author reviews } } }"),
        Query("{ topMedia { id reviews } }"),
        Query("{ topMedia { __typename title ... on Book { author } } }"),
    ],
)

value_types = Corpus(
    "value_types",
    "value types (shareable, no key) declared identically in two subgraphs",
    [
        Subgraph(
            "orders",
            """
            type Money @shareable { amount: Int! currency: String! }
            type Order @key(fields: "id") { id: ID! total: Money! }
            type Query { orders: [Order!]! }
            """,
            root={"orders": [{"__typename": "Order", "id": "o1"}]},
            entities={"Order": [{"id": "o1", "total": {"amount": 10, "currency": "EUR"}}]},
        ),
        Subgraph(
            "refunds",
            """
            type Money @shareable { amount: Int! currency: String! }
            type Order @key(fields: "id") { id: ID! refunded: Money }
            type Query { biggestRefund: Money }
            """,
            root={"biggestRefund": {"amount": 5, "currency": "USD"}},
            entities={"Order": [{"id": "o1", "refunded": {"amount": 3, "currency": "EUR"}}]},
        ),
    ],
    [
        Query(
            "{ orders { total { amount currency } refunded { amount } } biggestRefund { currency } }"
        ),
        Query("{ orders { refunded { ...M } } } fragment M on Money { amount currency }"),
    ],
)

differing_enums_inputs = Corpus(
    "differing_enums_inputs",
    "enums and an input type that differ between subgraphs, merged as composition allows",
    [
        Subgraph(
            "a",
            """
            enum Color { RED GREEN BLUE }
            enum Size { S M L }
            input Filter { size: Size name: String }
            type Paint @key(fields: "id") { id: ID! color: Color! }
            type Query { paints(filter: Filter): [Paint!]! }
            """,
            resolvers={
                "Query.paints": lambda _, filter=None: [
                    p
                    for p in PAINTS
                    if not filter or not filter.get("size") or filter["size"] == p["size"]
                ]
            },
            entities={"Paint": PAINTS},
        ),
        Subgraph(
            "b",
            """
            enum Color { RED GREEN }
            enum Size { S M }
            input Filter { size: Size limit: Int }
            type Paint @key(fields: "id") { id: ID! stock: Int! shade: Color! }
            type Query { count(filter: Filter): Int! }
            """,
            resolvers={"Query.count": lambda _, filter=None: 7},
            entities={
                "Paint": [
                    {"id": "0", "stock": 1, "shade": "RED"},
                    {"id": "1", "stock": 2, "shade": "GREEN"},
                    {"id": "2", "stock": 3, "shade": "GREEN"},
                ]
            },
        ),
    ],
    [
        Query("{ paints { color stock shade } }"),
        Query("query ($s: Size) { paints(filter: {size: $s}) { id } }", variables={"s": "M"}),
        Query("{ paints(filter: {size: L}) { id } }"),
        Query('{ paints(filter: {name: "x"}) { id } }'),
        Query("{ count(filter: {size: S}) }"),
    ],
)

inaccessible = Corpus(
    "inaccessible",
    "@inaccessible fields, types and enum values are not in the API schema",
    [
        Subgraph(
            "a",
            """
            enum Level { LOW HIGH SECRET @inaccessible }
            type Secret @inaccessible { code: String! }
            type Account @key(fields: "id") {
              id: ID!
              name: String!
              internal: String! @inaccessible
              secret: Secret @inaccessible
              level: Level!
            }
            type Query { accounts: [Account!]! }
            """,
            root={
                "accounts": [
                    {
                        "__typename": "Account",
                        "id": "1",
                        "name": "x",
                        "internal": "i",
                        "level": "LOW",
                    }
                ]
            },
        ),
        Subgraph(
            "b",
            """
            type Account @key(fields: "id") { id: ID! score: Int! }
            """,
            entities={"Account": [{"id": "1", "score": 3}]},
        ),
    ],
    [
        Query("{ accounts { name level score } }"),
        Query("{ accounts { internal } }"),
        Query('{ __type(name: "Secret") { name } }'),
        Query('{ __type(name: "Level") { enumValues { name } } }'),
    ],
)

abstract_in_entity = Corpus(
    "abstract_in_entity",
    "a union returned by an entity fetch, whose members are joined from a third subgraph",
    [
        Subgraph(
            "users",
            """
            type User @key(fields: "id") { id: ID! name: String! }
            type Query { users: [User!]! }
            """,
            root={
                "users": [
                    {"__typename": "User", "id": "u1"},
                    {"__typename": "User", "id": "u2"},
                    {"__typename": "User", "id": "u3"},
                ]
            },
            entities={
                "User": [
                    {"id": "u1", "name": "Ann"},
                    {"id": "u2", "name": "Bob"},
                    {"id": "u3", "name": "Cy"},
                ]
            },
        ),
        Subgraph(
            "favorites",
            """
            type Book @key(fields: "id") { id: ID! }
            type Movie @key(fields: "id") { id: ID! }
            union Favorite = Book | Movie
            type User @key(fields: "id") { id: ID! favorite: Favorite all: [Favorite!]! }
            """,
            entities={
                "User": [
                    {"id": "u1", "favorite": BOOK, "all": [BOOK, MOVIE]},
                    {"id": "u2", "favorite": MOVIE, "all": [MOVIE]},
                    {"id": "u3", "favorite": None, "all": []},
                ]
            },
        ),
        Subgraph(
            "catalog",
            """
            type Book @key(fields: "id") { id: ID! title: String! }
            type Movie @key(fields: "id") { id: ID! title: String! year: Int! }
            """,
            entities={
                "Book": [{"id": "b1", "title": "Dune"}],
                "Movie": [{"id": "m1", "title": "Alien", "year": 1979}],
            },
        ),
    ],
    [
        Query(
            "{ users { name favorite { __typename ... on Book { title } ... on Movie { id } } } }"
        ),
        Query("{ users { all { ... on Movie { title year } ... on Book { id title } } } }"),
        Query("{ users { favorite { ... on Movie { year } } } }"),
    ],
)


def _label(user: dict[str, Any]) -> str:
    return f"{user['name']} ({user['tier']})"


requires_from_two = Corpus(
    "requires_from_two",
    "@requires of fields that two other subgraphs resolve",
    [
        Subgraph(
            "names",
            """
            type User @key(fields: "id") { id: ID! name: String! }
            type Query { users: [User!]! }
            """,
            root={
                "users": [{"__typename": "User", "id": "u1"}, {"__typename": "User", "id": "u2"}]
            },
            entities={"User": [{"id": "u1", "name": "Ann"}, {"id": "u2", "name": "Bob"}]},
        ),
        Subgraph(
            "tiers",
            """
            type User @key(fields: "id") { id: ID! tier: String! }
            """,
            entities={"User": [{"id": "u1", "tier": "gold"}, {"id": "u2", "tier": "free"}]},
        ),
        Subgraph(
            "labels",
            """
            type User @key(fields: "id") {
              id: ID!
              name: String! @external
              tier: String! @external
              label: String! @requires(fields: "name tier")
            }
            """,
            entities={"User": [{"id": "u1"}, {"id": "u2"}]},
            resolvers={"User.label": _label},
        ),
    ],
    [
        Query("{ users { label } }"),
        Query("{ users { tier label name } }"),
    ],
)

shareable_root_and_nested_provides = Corpus(
    "shareable_root_and_nested_provides",
    "a root field two subgraphs resolve, and a nested @provides through a value type",
    [
        Subgraph(
            "shop",
            """
            type Address @shareable { city: String! }
            type Store @key(fields: "id") { id: ID! owner: Person! @provides(fields: "address { city }") }
            type Person @key(fields: "id") { id: ID! address: Address! @external }
            type Query { stores: [Store!]! @shareable version: String! @shareable }
            """,
            root={"stores": [{"__typename": "Store", "id": "s1"}], "version": "shop-1"},
            entities={
                "Store": [
                    {
                        "id": "s1",
                        "owner": {"__typename": "Person", "id": "p1", "address": {"city": "Lyon"}},
                    }
                ]
            },
        ),
        Subgraph(
            "people",
            """
            type Address @shareable { city: String! street: String! }
            type Person @key(fields: "id") { id: ID! address: Address! @shareable name: String! }
            type Store @key(fields: "id") { id: ID! }
            type Query { stores: [Store!]! @shareable version: String! @shareable }
            """,
            root={"stores": [{"__typename": "Store", "id": "s1"}], "version": "people-1"},
            entities={
                "Person": [
                    {"id": "p1", "name": "Pat", "address": {"city": "Lyon", "street": "Rue A"}}
                ],
                "Store": [{"id": "s1"}],
            },
        ),
    ],
    [
        # The provided city is the owner's (the @provides contract): either source is right.
        Query("{ stores { owner { address { city } } } }"),
        Query("{ stores { owner { name address { city street } } } }"),
        Query("{ version stores { id } }"),
    ],
)

CORPORA = [
    basic_join, multiple_keys, composite_key, nested_key, non_resolvable_key, nested_list_paths,
    requires_simple, requires_with_args, provides, shareable, override, override_progressive,
    interfaces_across, unions_across, interface_object, value_types, differing_enums_inputs,
    inaccessible, abstract_in_entity, requires_from_two, shareable_root_and_nested_provides,
]  # fmt: skip
