"""Corpus, values the API schema does not have (issue 13, class 10): an enum value that is
@inaccessible in the supergraph but that a subgraph returns becomes null with an error, as
if the API schema's own executor had serialized it."""

from __future__ import annotations

from corpus.model import Corpus, Query, Subgraph

_VALUE_COMPLETION = (
    "Apollo Gateway nulls the value but reports the error only in"
    " extensions.valueCompletion; the GraphQL spec puts a field error in errors"
)

inaccessible_enum_value = Corpus(
    "inaccessible_enum_value",
    "a subgraph returns an @inaccessible enum value: null and an error, nulls bubbling",
    [
        Subgraph(
            "accounts",
            """
            enum Level { LOW HIGH SECRET @inaccessible }
            type Account @key(fields: "id") { id: ID! level: Level tier: Level! history: [Level] }
            type Query { accounts: [Account!]! account: Account }
            """,
            root={
                "accounts": [
                    {
                        "__typename": "Account",
                        "id": "1",
                        "level": "LOW",
                        "tier": "HIGH",
                        "history": ["LOW"],
                    },
                    {
                        "__typename": "Account",
                        "id": "2",
                        "level": "SECRET",
                        "tier": "LOW",
                        "history": ["HIGH", "SECRET"],
                    },
                ],
                "account": {
                    "__typename": "Account",
                    "id": "3",
                    "level": "HIGH",
                    "tier": "SECRET",
                    "history": [],
                },
            },
        ),
        Subgraph(
            "scores",
            """
            type Account @key(fields: "id") { id: ID! score: Int }
            """,
            entities={
                "Account": [
                    {"id": "1", "score": 1},
                    {"id": "2", "score": 2},
                    {"id": "3", "score": 3},
                ]
            },
        ),
    ],
    [
        Query("{ accounts { id level score } }", apollo_errors_wrong=_VALUE_COMPLETION),
        Query("{ accounts { history } }", apollo_errors_wrong=_VALUE_COMPLETION),
        Query("{ account { id tier score } }", apollo_errors_wrong=_VALUE_COMPLETION),
        Query("{ accounts { tier } account { level } }"),
    ],
)

CORPORA = [inaccessible_enum_value]
