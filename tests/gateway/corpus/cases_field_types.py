# ruff: noqa: E501  (canned data and SDL read best on one line)
"""Corpus, fields whose type differs between subgraphs (issue 13, classes 8 and 9).

Class 8: a @shareable field narrower in one subgraph (``featured: Book`` in shop,
``featured: Media`` in library; the supergraph records ``@join__field(type: "Book")``) gets
only the fragments that can apply there; a union that one subgraph knows partly
(``Result = Book | Movie`` in library, ``| Song`` too in shop) keeps, in the request to the
subgraph chosen, only the members that subgraph knows.

Class 9: sibling fragments selecting one response name whose types differ in the subgraph
asked (``Book.code: ID!`` and ``Movie.code: ID`` in shop; both ``ID`` in the supergraph) would
make that subgraph's operation invalid (fields conflict): all but one are aliased in the
subgraph request, and the plan says which keys it renames back (``outputRewrites``).
"""

from __future__ import annotations

from typing import Any

from corpus.cases_federation import fail
from corpus.model import Corpus, Query, Subgraph

_BOOK = {"__typename": "Book", "id": "b1", "title": "Dune"}


def _length(song: dict[str, Any]) -> Any:
    if song.get("length") == "down":
        fail("the length of this song is unknown", "NO_LENGTH")
    return song.get("length")


_MOVIE = {"__typename": "Movie", "id": "m1", "title": "Alien"}

field_types_per_subgraph = Corpus(
    "field_types_per_subgraph",
    "a @shareable field narrower in one subgraph, a union one subgraph knows partly",
    [
        Subgraph(
            "library",
            """
            interface Media { id: ID! title: String! }
            type Book implements Media @key(fields: "id") { id: ID! title: String! @shareable author: String! }
            type Movie implements Media @key(fields: "id") { id: ID! title: String! @shareable director: String }
            union Result = Book | Movie
            type Query { featured: Media @shareable search: [Result!]! @shareable shelf: [Media!]! }
            """,
            root={"featured": _BOOK, "search": [_BOOK, _MOVIE], "shelf": [_MOVIE, _BOOK]},
            entities={
                "Book": [{**_BOOK, "author": "Herbert"}],
                "Movie": [{**_MOVIE, "director": "Scott"}],
            },
        ),
        Subgraph(
            "shop",
            """
            interface Media { id: ID! title: String! }
            type Book implements Media @key(fields: "id") { id: ID! title: String! @shareable price: Int }
            type Movie implements Media @key(fields: "id") { id: ID! title: String! @shareable }
            type Song @key(fields: "id") { id: ID! length: Int }
            union Result = Book | Movie | Song
            type Query { featured: Book @shareable search: [Result!]! @shareable songs: [Song!]! }
            """,
            root={
                "featured": _BOOK,
                "search": [_BOOK, _MOVIE],
                "songs": [
                    {"__typename": "Song", "id": "s1", "length": 200},
                    {"__typename": "Song", "id": "s2", "length": "down"},
                ],
            },
            resolvers={"Song.length": _length},
            entities={
                "Book": [{**_BOOK, "price": 12}],
                "Movie": [_MOVIE],
                "Song": [{"id": "s1", "length": 200}],
            },
        ),
    ],
    [
        # shop is chosen (one fetch): ... on Movie cannot apply to its Book.
        Query("{ featured { title ... on Movie { director } ... on Book { price } } }"),
        Query("{ featured { ... on Book { price } ... on Movie { title } } }"),
        Query("{ featured { __typename ... on Movie { title } } }"),
        Query("{ featured { ... on Book { author price } } }"),
        # library is chosen: ... on Song is not sent there (library's Result has no Song).
        Query("{ search { __typename ... on Song { length } ... on Book { title author } } }"),
        Query("{ search { ... on Media { title } ... on Song { id } } songs { length } }"),
        Query("{ shelf { title ... on Book { price } } }"),
    ],
)


def _movie_code(movie: dict[str, Any]) -> Any:
    if movie.get("code") == "down":
        fail("the code of this movie is unknown", "NO_CODE")
    return movie.get("code")


_ITEMS = [
    {"__typename": "Book", "id": "b1"},
    {"__typename": "Movie", "id": "m1"},
    {"__typename": "Movie", "id": "m2"},
]

field_merging_conflicts = Corpus(
    "field_merging_conflicts",
    "one response name, types that differ in the subgraph asked (ID! vs ID): aliased",
    [
        Subgraph(
            "library",
            """
            type Book @key(fields: "id", resolvable: false) { id: ID! code: ID @shareable }
            type Movie @key(fields: "id") { id: ID! }
            union Item = Book | Movie
            type Query { items: [Item!]! @shareable }
            """,
            root={"items": _ITEMS},
            entities={
                "Book": [{"id": "b1", "code": "B-1"}],
                "Movie": [{"id": "m1"}, {"id": "m2"}],
            },
        ),
        Subgraph(
            "shop",
            """
            type Book @key(fields: "id") { id: ID! code: ID! @shareable }
            type Movie @key(fields: "id") { id: ID! code: ID rating: Int }
            union Item = Book | Movie
            type Query { items: [Item!]! @shareable }
            """,
            root={"items": _ITEMS},
            entities={
                "Book": [{"id": "b1", "code": "B-1"}],
                "Movie": [
                    {"id": "m1", "code": "M-1", "rating": 4},
                    {"id": "m2", "code": "down", "rating": None},
                ],
            },
            resolvers={"Movie.code": _movie_code},
        ),
        Subgraph(
            "feed",
            """
            type Book @key(fields: "id") { id: ID! }
            type Movie @key(fields: "id") { id: ID! }
            union Entry = Book | Movie
            type Query { feed: [Entry!]! }
            """,
            root={"feed": list(reversed(_ITEMS))},
        ),
    ],
    [
        # shop is chosen (rating is only there): code is ID! on Book, ID on Movie. m2's
        # code fails: its error names the client's key, not the alias.
        Query("{ items { ... on Book { code } ... on Movie { code rating } } }"),
        Query("{ items { ... on Movie { rating c: code } ... on Book { c: code id } } }"),
        # One entity fetch to shop for both types: the _entities selection is aliased.
        Query("{ feed { ... on Movie { code } ... on Book { code } } }"),
        Query("{ feed { __typename ... on Movie { code rating } ... on Book { id code } } }"),
    ],
)

CORPORA = [field_types_per_subgraph, field_merging_conflicts]
