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


def _tier(user: dict[str, Any]) -> str:
    if user["name"] == "Eve":
        fail("tiers are down for Eve", "TIER_DOWN")
    return "gold" if len(user["name"]) <= 3 else "free"


def _label(user: dict[str, Any]) -> str:
    if "tier" not in user:
        fail("tier was not sent in the representation")
    return f"{user['id']}:{user['tier']}"


# Class 2: label @requires tier, which @requires name in its own subgraph: name, then tier,
# then label, each fetch after the one before.
requires_transitive = Corpus(
    "requires_transitive",
    "transitive @requires: a required field that @requires fields itself",
    [
        Subgraph(
            "users",
            """
            type User @key(fields: "id") { id: ID! name: String! }
            type Query { users: [User!]! user(id: ID!): User }
            """,
            root={"users": [{"__typename": "User", "id": u} for u in ("u1", "u2", "u3")]},
            entities={
                "User": [
                    {"id": "u1", "name": "Ann"},
                    {"id": "u2", "name": "Robert"},
                    {"id": "u3", "name": "Eve"},
                ]
            },
            resolvers={"Query.user": lambda _, id: {"__typename": "User", "id": id}},
        ),
        Subgraph(
            "tiers",
            """
            type User @key(fields: "id") { id: ID! name: String! @external tier: String @requires(fields: "name") }
            """,
            entities={"User": [{"id": "u1"}, {"id": "u2"}, {"id": "u3"}]},
            resolvers={"User.tier": _tier},
        ),
        Subgraph(
            "labels",
            """
            type User @key(fields: "id") { id: ID! tier: String @external label: String @requires(fields: "tier") }
            """,
            entities={"User": [{"id": "u1"}, {"id": "u2"}, {"id": "u3"}]},
            resolvers={"User.label": _label},
        ),
    ],
    [
        Query('{ user(id: "u1") { label } }'),
        Query('{ user(id: "u2") { name label tier } }'),
        Query("{ users { id label } }"),
    ],
)


def _authors(post: dict[str, Any]) -> str:
    return ",".join(c["authorId"] for c in post["comments"])


# Class 3: the required field set comments(limit: n) { authorId } spans two subgraphs
# (posts owns comments, people owns Comment.authorId); summary and firstAuthor require
# comments with different arguments.
requires_spanning = Corpus(
    "requires_spanning",
    "required field sets spanning subgraphs, with arguments, a field required twice",
    [
        Subgraph(
            "posts",
            """
            type Post @key(fields: "id") { id: ID! title: String! comments(limit: Int!): [Comment!]! }
            type Comment @key(fields: "id") { id: ID! text: String! }
            type Query { posts: [Post!]! }
            """,
            root={"posts": [{"__typename": "Post", "id": p} for p in ("p1", "p2")]},
            entities={
                "Post": [
                    {"id": "p1", "title": "Hello", "all": ["c1", "c2", "c3", "c4"]},
                    {"id": "p2", "title": "Empty", "all": []},
                ],
                "Comment": [{"id": c, "text": f"text {c}"} for c in ("c1", "c2", "c3", "c4")],
            },
            resolvers={
                "Post.comments": lambda p, limit: [
                    {"__typename": "Comment", "id": c} for c in p["all"][:limit]
                ]
            },
        ),
        Subgraph(
            "people",
            """
            type Comment @key(fields: "id") { id: ID! authorId: ID! }
            """,
            entities={
                "Comment": [
                    {"id": "c1", "authorId": "a1"},
                    {"id": "c2", "authorId": "a2"},
                    {"id": "c3", "authorId": "a1"},
                    {"id": "c4", "authorId": "a3"},
                ]
            },
        ),
        Subgraph(
            "digest",
            """
            type Post @key(fields: "id") {
              id: ID!
              comments(limit: Int!): [Comment!]! @external
              summary: String @requires(fields: "comments(limit: 3) { authorId }")
              firstAuthor: String @requires(fields: "comments(limit: 1) { authorId }")
            }
            type Comment @key(fields: "id", resolvable: false) { id: ID! authorId: ID! @external }
            """,
            entities={"Post": [{"id": "p1"}, {"id": "p2"}]},
            resolvers={"Post.summary": _authors, "Post.firstAuthor": _authors},
        ),
    ],
    [
        Query("{ posts { id summary } }"),
        Query(
            "{ posts { title firstAuthor comments(limit: 2) { text authorId } } }",
            apollo_wrong=(
                "Apollo Gateway merges the required comments(limit: 1) into the client's"
                " comments(limit: 2): the client gets one comment instead of two"
            ),
            expected={
                "data": {
                    "posts": [
                        {
                            "title": "Hello",
                            "firstAuthor": "a1",
                            "comments": [
                                {"text": "text c1", "authorId": "a1"},
                                {"text": "text c2", "authorId": "a2"},
                            ],
                        },
                        {"title": "Empty", "firstAuthor": "", "comments": []},
                    ]
                }
            },
        ),
        Query(
            "{ posts { summary firstAuthor } }",
            apollo_wrong=(
                "Apollo Gateway fetches comments once for both @requires (limit 1), so"
                " summary, which requires comments(limit: 3), is computed from one comment"
            ),
            expected={
                "data": {
                    "posts": [
                        {"summary": "a1,a2,a1", "firstAuthor": "a1"},
                        {"summary": "", "firstAuthor": ""},
                    ]
                }
            },
        ),
        Query(
            "{ posts { comments(limit: 4) { id } summary } }",
            apollo_wrong=(
                "Apollo Gateway sends the client's comments(limit: 4) as summary's required"
                " comments(limit: 3): summary names four authors instead of three"
            ),
            expected={
                "data": {
                    "posts": [
                        {
                            "comments": [{"id": "c1"}, {"id": "c2"}, {"id": "c3"}, {"id": "c4"}],
                            "summary": "a1,a2,a1",
                        },
                        {"comments": [], "summary": ""},
                    ]
                }
            },
        ),
    ],
)


def _load(shelf: dict[str, Any]) -> int:
    total = 0
    for item in shelf["items"]:
        if item.get("__typename") == "Paper":
            total += item["pages"]
        elif item.get("__typename") == "Film":
            total += item["minutes"]
        else:
            fail(f"an item without its type: {item}")
    return total


_NO_NESTED_TYPENAME = (
    "Apollo Gateway sends the required items without __typename ({'pages': 10}), so the"
    " subgraph cannot tell which fragment of the field set an item answers"
)


# Class 4 (fragments): load @requires items { ... on Paper { pages } ... on Film { minutes } }:
# each item carries its own type's fields (and __typename), and minutes come from "films".
requires_fragments = Corpus(
    "requires_fragments",
    "inline fragments in a @requires field set, one of them owned by a third subgraph",
    [
        Subgraph(
            "shelves",
            """
            union Item = Paper | Film
            type Paper @key(fields: "id") { id: ID! pages: Int! }
            type Film @key(fields: "id") { id: ID! }
            type Shelf @key(fields: "id") { id: ID! items: [Item!]! }
            type Query { shelves: [Shelf!]! }
            """,
            root={
                "shelves": [
                    {"__typename": "Shelf", "id": "s1"},
                    {"__typename": "Shelf", "id": "s2"},
                ]
            },
            entities={
                "Shelf": [
                    {
                        "id": "s1",
                        "items": [
                            {"__typename": "Paper", "id": "a"},
                            {"__typename": "Film", "id": "f"},
                            {"__typename": "Paper", "id": "b"},
                        ],
                    },
                    {"id": "s2", "items": []},
                ],
                "Paper": [{"id": "a", "pages": 10}, {"id": "b", "pages": 5}],
                "Film": [{"id": "f"}],
            },
        ),
        Subgraph(
            "films",
            """
            type Film @key(fields: "id") { id: ID! minutes: Int! }
            """,
            entities={"Film": [{"id": "f", "minutes": 90}]},
        ),
        Subgraph(
            "stats",
            """
            union Item = Paper | Film
            type Paper @key(fields: "id") { id: ID! pages: Int! @external }
            type Film @key(fields: "id") { id: ID! minutes: Int! @external }
            type Shelf @key(fields: "id") {
              id: ID!
              items: [Item!]! @external
              load: Int @requires(fields: "items { ... on Paper { pages } ... on Film { minutes } }")
            }
            """,
            entities={"Shelf": [{"id": "s1"}, {"id": "s2"}]},
            resolvers={"Shelf.load": _load},
        ),
    ],
    [
        Query(
            "{ shelves { id load } }",
            apollo_wrong=_NO_NESTED_TYPENAME,
            expected={"data": {"shelves": [{"id": "s1", "load": 105}, {"id": "s2", "load": 0}]}},
        ),
        Query(
            "{ shelves { load items { ... on Film { id minutes } } } }",
            apollo_wrong=_NO_NESTED_TYPENAME,
            expected={
                "data": {
                    "shelves": [
                        {"load": 105, "items": [{}, {"id": "f", "minutes": 90}, {}]},
                        {"load": 0, "items": []},
                    ]
                }
            },
        ),
    ],
)


def _blurb(media: dict[str, Any]) -> str:
    if "title" not in media:
        fail("title was not sent in the representation")
    return f"{media['title']}!"


# Class 4 (@interfaceObject): blurb, on the interface object Media, @requires title, which
# only the interface's owner resolves.
requires_on_interface_object = Corpus(
    "requires_on_interface_object",
    "@requires on a field of an @interfaceObject",
    [
        Subgraph(
            "catalog",
            """
            interface Media @key(fields: "id") { id: ID! title: String! }
            type Book implements Media @key(fields: "id") { id: ID! title: String! pages: Int! }
            type Movie implements Media @key(fields: "id") { id: ID! title: String! minutes: Int! }
            type Query { media: [Media!]! books: [Book!]! }
            """,
            root={
                "media": [{"__typename": "Book", "id": "b1"}, {"__typename": "Movie", "id": "m1"}],
                "books": [{"__typename": "Book", "id": "b1"}],
            },
            entities={
                "Book": [{"id": "b1", "title": "Dune", "pages": 412}],
                "Movie": [{"id": "m1", "title": "Alien", "minutes": 117}],
            },
        ),
        Subgraph(
            "blurbs",
            """
            type Media @key(fields: "id") @interfaceObject { id: ID! title: String! @external blurb: String @requires(fields: "title") }
            """,
            entities={"Media": [{"id": "b1"}, {"id": "m1"}]},
            resolvers={"Media.blurb": _blurb},
        ),
    ],
    [
        Query("{ books { id blurb } }"),
        Query("{ media { blurb ... on Movie { minutes } } }"),
        Query("{ media { title blurb } }"),
    ],
)

CORPORA = [
    requires_in_current_subgraph,
    requires_transitive,
    requires_spanning,
    requires_fragments,
    requires_on_interface_object,
]
