"""Corpus, @provides beyond plain fields (issue 13, class 11): type conditions in a provided
field set, and provided fields used as the key of a further entity hop."""

from __future__ import annotations

from corpus.model import Corpus, Query, Subgraph

# "reviews" provides Book.title (not Movie.title) under Review.subject, and User.email (the
# key "accounts" resolves User by) under Review.author.
provides_typed_and_keys = Corpus(
    "provides_typed_and_keys",
    "@provides with type conditions, and provided fields as the key of a further hop",
    [
        Subgraph(
            "reviews",
            """
            union Media = Book | Movie
            type Book @key(fields: "id") { id: ID! title: String! @external }
            type Movie @key(fields: "id") { id: ID! }
            type User @key(fields: "id") { id: ID! email: String! @external }
            type Review {
              id: ID!
              subject: Media @provides(fields: "... on Book { title }")
              author: User @provides(fields: "email")
            }
            type Query { reviews: [Review!]! }
            """,
            root={
                "reviews": [
                    {
                        "id": "r1",
                        "subject": {"__typename": "Book", "id": "b1", "title": "Dune"},
                        "author": {"__typename": "User", "id": "u1", "email": "ann@x.io"},
                    },
                    # No Movie title here: it must come from "catalog".
                    {"id": "r2", "subject": {"__typename": "Movie", "id": "m1"}, "author": None},
                    {
                        "id": "r3",
                        "subject": None,
                        "author": {"__typename": "User", "id": "u2", "email": "bob@x.io"},
                    },
                ]
            },
            entities={
                "Book": [{"id": "b1"}],
                "Movie": [{"id": "m1"}],
                "User": [{"id": "u1"}, {"id": "u2"}],
            },
        ),
        Subgraph(
            "catalog",
            """
            type Book @key(fields: "id") { id: ID! title: String! @shareable pages: Int! }
            type Movie @key(fields: "id") { id: ID! title: String! minutes: Int! }
            """,
            entities={
                "Book": [{"id": "b1", "title": "Dune", "pages": 412}],
                "Movie": [{"id": "m1", "title": "Alien", "minutes": 117}],
            },
        ),
        Subgraph(
            "accounts",
            """
            type User @key(fields: "email") { email: String! name: String! }
            """,
            entities={
                "User": [{"email": "ann@x.io", "name": "Ann"}, {"email": "bob@x.io", "name": "Bob"}]
            },
        ),
    ],
    [
        Query("{ reviews { id subject { ... on Book { title } ... on Movie { title } } } }"),
        Query(
            "{ reviews { subject { ... on Movie { title minutes } ... on Book { title pages } } } }"
        ),
        Query("{ reviews { author { name } } }"),
        Query("{ reviews { author { id email name } subject { __typename } } }"),
    ],
)

CORPORA = [provides_typed_and_keys]
