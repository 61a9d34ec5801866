# ruff: noqa: E501  (canned data and SDL read best on one line)
"""Corpus, @interfaceObject beyond adding a field (issue 13, class 7): fields only an interface
object provides routed to it from the interface and from its implementations, a subgraph whose
interface object is not resolvable (references only), and ``__typename`` of objects an
interface-object subgraph returns, resolved to their concrete type by the interface's owner."""

from __future__ import annotations

from typing import Any

from corpus.cases_federation import fail
from corpus.model import Corpus, Query, Subgraph

_BOOK = {"__typename": "Book", "id": "b1", "title": "Dune", "author": "Herbert"}
_MOVIE = {"__typename": "Movie", "id": "m1", "title": "Alien", "director": "Scott"}
_SHOW = {"__typename": "Movie", "id": "m2", "title": "Heat", "director": None}


def _rating(media: dict[str, Any]) -> Any:
    if media.get("rating") == "down":
        fail("no rating for this title", "NO_RATING")
    return media.get("rating")


interface_object_routing = Corpus(
    "interface_object_routing",
    "@interfaceObject: routing its fields, a non-resolvable interface object, concrete __typename",
    [
        Subgraph(
            "library",
            """
            interface Media @key(fields: "id") { id: ID! title: String! }
            type Book implements Media @key(fields: "id") { id: ID! title: String! author: String! }
            type Movie implements Media @key(fields: "id") { id: ID! title: String! director: String }
            type Query { media: [Media!]! book(id: ID!): Book }
            """,
            root={"media": [_BOOK, _MOVIE, _SHOW]},
            entities={"Book": [_BOOK], "Movie": [_MOVIE, _SHOW], "Media": [_BOOK, _MOVIE, _SHOW]},
            resolvers={"Query.book": lambda parent, id: _BOOK if id == "b1" else None},
        ),
        Subgraph(
            "reviews",
            """
            type Media @key(fields: "id") @interfaceObject { id: ID! reviews: [String!]! rating: Int }
            type Query { topMedia: [Media!]! }
            """,
            root={
                "topMedia": [
                    {"__typename": "Media", "id": "m1"},
                    {"__typename": "Media", "id": "b1"},
                    {"__typename": "Media", "id": "m2"},
                ]
            },
            entities={
                "Media": [
                    {"id": "b1", "reviews": ["great"], "rating": 5},
                    {"id": "m1", "reviews": ["scary", "classic"], "rating": 4},
                    {"id": "m2", "reviews": [], "rating": "down"},
                ]
            },
            resolvers={"Media.rating": _rating},
        ),
        Subgraph(
            "feed",
            """
            type Media @key(fields: "id", resolvable: false) @interfaceObject { id: ID! }
            type Query { feed: [Media!]! latest: Media }
            """,
            root={
                "feed": [{"__typename": "Media", "id": "m2"}, {"__typename": "Media", "id": "b1"}],
                "latest": {"__typename": "Media", "id": "m1"},
            },
        ),
    ],
    [
        # Fields of the interface object, from the interface and from an implementation
        # (m2's rating fails: null, an error at its position).
        Query("{ media { title reviews rating } }"),
        Query('{ book(id: "b1") { author rating reviews } none: book(id: "zz") { rating } }'),
        Query("{ media { ... on Movie { director rating } ... on Book { reviews } } }"),
        # __typename of what an interface-object subgraph returns: the concrete type.
        Query("{ topMedia { __typename id } }"),
        Query("{ topMedia { title rating ... on Movie { director } __typename } }"),
        # A non-resolvable interface object: references only, every field from elsewhere.
        Query("{ feed { __typename id title reviews } }"),
        Query(
            "{ feed { ... on Book { author } ... on Movie { director } } latest { rating __typename } }"
        ),
        Query("{ latest { id } }"),
    ],
)

CORPORA = [interface_object_routing]
