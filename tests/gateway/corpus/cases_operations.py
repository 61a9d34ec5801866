# ruff: noqa: E501  (canned data and SDL read best on one line)
"""Corpus, operations and execution: mutations in order, variables, fragments, aliases,
@skip/@include, __typename, introspection, null bubbling, partial data, error paths, deep
chains, parallel fetches."""

from __future__ import annotations

from typing import Any

from corpus.cases_federation import BOOK, MOVIE, fail
from corpus.model import Corpus, Query, Subgraph

# Shared by both subgraphs of `mutations_order`: they live in one process.
LOG: list[str] = []


def _begin(_: Any) -> str:
    LOG.clear()
    return "begun"


def _step(_: Any, n: str) -> str:
    LOG.append(n)
    return ",".join(LOG)


mutations_order = Corpus(
    "mutations_order",
    "mutation root fields run in document order, across subgraphs",
    [
        Subgraph(
            "a",
            """
            type Result @key(fields: "id") { id: ID! log: String! }
            type Query { a: Int }
            type Mutation { begin: String! stepA(n: String!): String! resultA(n: String!): Result! }
            """,
            resolvers={
                "Mutation.begin": _begin,
                "Mutation.stepA": _step,
                "Mutation.resultA": lambda _, n: {
                    "__typename": "Result",
                    "id": n,
                    "log": _step(_, n),
                },
            },
            entities={"Result": [{"id": str(i)} for i in range(10)]},
        ),
        Subgraph(
            "b",
            """
            type Result @key(fields: "id") { id: ID! checked: Boolean! }
            type Query { b: Int }
            type Mutation { stepB(n: String!): String! }
            """,
            resolvers={"Mutation.stepB": _step, "Result.checked": lambda r: True},
            entities={"Result": [{"id": str(i)} for i in range(10)]},
        ),
    ],
    [
        Query(
            'mutation { begin x: stepA(n: "1") y: stepB(n: "2") z: stepA(n: "3") w: stepB(n: "4") }'
        ),
        Query('mutation { begin stepA(n: "1") r: resultA(n: "2") { log checked } stepB(n: "3") }'),
        Query("mutation M($n: String!) { begin stepB(n: $n) }", variables={"n": "v"}),
    ],
)

variables = Corpus(
    "variables",
    "variables: defaults, coercion (Int to Float, item to list), missing and wrong values",
    [
        Subgraph(
            "calc",
            """
            input Range { from: Int! to: Int = 10 }
            type Query {
              add(a: Float!, b: Float = 1.5): Float!
              sum(values: [Int!]!): Int!
              span(range: Range!): Int!
              echo(text: String): String
            }
            """,
            resolvers={
                "Query.add": lambda _, a, b=1.5: a + b,
                "Query.sum": lambda _, values: sum(values),
                "Query.span": lambda _, range: range["to"] - range["from"],
                "Query.echo": lambda _, text=None: text,
            },
        ),
        Subgraph(
            "other",
            """
            type Query { ping: String! }
            """,
            root={"ping": "pong"},
        ),
    ],
    [
        Query("query ($a: Float!, $b: Float) { add(a: $a, b: $b) }", variables={"a": 2}),
        Query("query ($a: Float!, $b: Float = 3) { add(a: $a, b: $b) }", variables={"a": 2}),
        Query("query ($v: [Int!]!) { sum(values: $v) }", variables={"v": 4}),
        Query("query ($r: Range!) { span(range: $r) ping }", variables={"r": {"from": 3}}),
        Query("query ($a: Float!) { add(a: $a) }", variables={}),
        Query("query ($a: Float!) { add(a: $a) }", variables={"a": "two"}),
        Query('query ($t: String = "dflt") { echo(text: $t) }'),
        Query("query ($t: String) { echo(text: $t) }", variables={"t": None}),
    ],
)

SHAPES = [
    {"__typename": "Circle", "id": "c1"},
    {"__typename": "Square", "id": "s1"},
]

fragments = Corpus(
    "fragments",
    "named and inline fragments, on interfaces and unions, nested and overlapping",
    [
        Subgraph(
            "shapes",
            """
            interface Shape { id: ID! area: Float! }
            type Circle implements Shape @key(fields: "id") { id: ID! area: Float! radius: Float! }
            type Square implements Shape @key(fields: "id") { id: ID! area: Float! side: Float! }
            union Any = Circle | Square
            type Query { shapes: [Shape!]! anything: [Any!]! }
            """,
            root={"shapes": SHAPES, "anything": list(reversed(SHAPES))},
            entities={
                "Circle": [{"id": "c1", "area": 3.14, "radius": 1.0}],
                "Square": [{"id": "s1", "area": 4.0, "side": 2.0}],
            },
        ),
        Subgraph(
            "colors",
            """
            type Circle @key(fields: "id") { id: ID! color: String! }
            type Square @key(fields: "id") { id: ID! color: String! }
            """,
            entities={
                "Circle": [{"id": "c1", "color": "red"}],
                "Square": [{"id": "s1", "color": "blue"}],
            },
        ),
    ],
    [
        Query("{ shapes { ...S } } fragment S on Shape { id area ... on Circle { radius color } }"),
        Query("{ anything { ... on Shape { area } ... on Square { side color } } }"),
        Query(
            "{ shapes { ... { id } ... on Square { ...Sq } } } fragment Sq on Square { color ... on Shape { area } }"
        ),
        Query("{ anything { ...A } } fragment A on Any { ... on Circle { color } __typename }"),
        Query("{ shapes { ... on Circle { color } ... on Circle { radius color } } }"),
        Query("{ shapes { ...Missing } }"),
    ],
)

aliases = Corpus(
    "aliases",
    "aliases, including one field twice with different arguments, on joined fields too",
    [
        Subgraph(
            "users",
            """
            type User @key(fields: "id") { id: ID! name: String! }
            type Query { user(id: ID!): User }
            """,
            resolvers={
                "Query.user": lambda _, id: (
                    {"__typename": "User", "id": id} if id in ("1", "2") else None
                )
            },
            entities={"User": [{"id": "1", "name": "Ann"}, {"id": "2", "name": "Bob"}]},
        ),
        Subgraph(
            "posts",
            """
            type User @key(fields: "id") { id: ID! posts(first: Int!): [String!]! }
            """,
            entities={"User": [{"id": "1", "all": ["a", "b", "c"]}, {"id": "2", "all": ["x"]}]},
            resolvers={"User.posts": lambda u, first: u["all"][:first]},
        ),
    ],
    [
        Query('{ a: user(id: "1") { name } b: user(id: "2") { n: name } }'),
        Query('{ user(id: "1") { one: posts(first: 1) three: posts(first: 3) } }'),
        Query(
            '{ u: user(id: "1") { id: name name: id p: posts(first: 2) } }',
            apollo_wrong=(
                "@apollo/gateway 2.14.4 answers `id: name` with the key `id` it added for the"
                " join (\"1\"), not the user's name: the alias is the client's, so the spec"
                ' says "Ann"'
            ),
            expected={"data": {"u": {"id": "Ann", "name": "1", "p": ["a", "b"]}}},
        ),
        Query('{ x: user(id: "1") { posts(first: 1) } y: user(id: "1") { posts(first: 2) } }'),
        Query('{ user(id: "1") { name: posts(first: 1) } }'),
    ],
)

skip_include = Corpus(
    "skip_include",
    "@skip and @include on fields, joined fields and fragments, by literal and variable",
    [
        Subgraph(
            "a",
            """
            type Thing @key(fields: "id") { id: ID! name: String! }
            type Query { things: [Thing!]! }
            """,
            root={
                "things": [{"__typename": "Thing", "id": "1"}, {"__typename": "Thing", "id": "2"}]
            },
            entities={"Thing": [{"id": "1", "name": "one"}, {"id": "2", "name": "two"}]},
        ),
        Subgraph(
            "b",
            """
            type Thing @key(fields: "id") { id: ID! extra: String! }
            """,
            entities={"Thing": [{"id": "1", "extra": "e1"}, {"id": "2", "extra": "e2"}]},
        ),
    ],
    [
        Query(
            "query ($x: Boolean!) { things { name extra @include(if: $x) } }",
            variables={"x": False},
        ),
        Query(
            "query ($x: Boolean!) { things { name extra @include(if: $x) } }", variables={"x": True}
        ),
        Query("query ($s: Boolean = true) { things { id ... @skip(if: $s) { extra name } } }"),
        Query("{ things @skip(if: true) { extra } }"),
        Query(
            "query ($s: Boolean!) { things { extra @skip(if: $s) extra @include(if: true) } }",
            variables={"s": True},
        ),
        Query("query ($s: Boolean!) { things { extra @skip(if: $s) } }"),
    ],
)

typename = Corpus(
    "typename",
    "__typename everywhere: root, entities, joins, aliases, abstract types",
    [
        Subgraph(
            "a",
            """
            interface Node { id: ID! }
            type Thing implements Node @key(fields: "id") { id: ID! }
            type Query { node: Node things: [Thing!]! }
            type Mutation { noop: Boolean }
            """,
            root={
                "node": {"__typename": "Thing", "id": "1"},
                "things": [{"__typename": "Thing", "id": "1"}],
            },
            entities={"Thing": [{"id": "1"}]},
        ),
        Subgraph(
            "b",
            """
            type Thing @key(fields: "id") { id: ID! detail: Detail! }
            type Detail { text: String! }
            """,
            entities={"Thing": [{"id": "1", "detail": {"text": "d"}}]},
        ),
    ],
    [
        Query("{ __typename }"),
        Query(
            "{ t: __typename node { __typename } things { __typename kind: __typename detail { __typename text } } }"
        ),
        Query("{ node { ... on Thing { detail { __typename } } } }"),
        Query("mutation { __typename }"),
        Query("{ things { detail { __typename } } }"),
    ],
)

introspection = Corpus(
    "introspection",
    "introspection of the API schema (no join machinery), mixed with data",
    [
        Subgraph(
            "a",
            """
            "A thing"
            type Thing @key(fields: "id") { id: ID! "its name" name: String! old: String @deprecated(reason: "gone") }
            type Query { things: [Thing!]! }
            """,
            root={"things": [{"__typename": "Thing", "id": "1", "name": "n"}]},
        ),
        Subgraph(
            "b",
            """
            type Thing @key(fields: "id") { id: ID! size: Int! }
            """,
            entities={"Thing": [{"id": "1", "size": 2}]},
        ),
    ],
    [
        Query(
            '{ __type(name: "Thing") { name description fields(includeDeprecated: true) { name description isDeprecated deprecationReason type { name kind ofType { name } } } } }'
        ),
        Query(
            "{ __schema { queryType { name } mutationType { name } types { name } directives { name } } }"
        ),
        Query('{ things { size } __type(name: "join__Graph") { name } }'),
        Query("{ __schema { nope } }"),
    ],
)


def _nullable_boom(_: Any) -> Any:
    return fail("nullable boom", "BOOM")


null_bubbling = Corpus(
    "null_bubbling",
    "errors and nulls in non-null positions bubble to the nearest nullable parent",
    [
        Subgraph(
            "a",
            """
            type Item @key(fields: "id") { id: ID! name: String! }
            type Holder { required: Item! items: [Item!]! maybe: [Item] }
            type Query { holder: Holder mustHolder: Holder! items: [Item!] }
            """,
            root={
                "holder": {
                    "required": {"__typename": "Item", "id": "1"},
                    "items": [{"__typename": "Item", "id": "1"}, {"__typename": "Item", "id": "2"}],
                    "maybe": [{"__typename": "Item", "id": "2"}, {"__typename": "Item", "id": "1"}],
                },
                "mustHolder": {
                    "required": {"__typename": "Item", "id": "2"},
                    "items": [],
                    "maybe": None,
                },
                "items": [{"__typename": "Item", "id": "1"}, {"__typename": "Item", "id": "2"}],
            },
            entities={"Item": [{"id": "1", "name": "one"}, {"id": "2", "name": "two"}]},
        ),
        Subgraph(
            "b",
            """
            type Item @key(fields: "id") { id: ID! price: Int! note: String }
            """,
            entities={"Item": [{"id": "1", "price": 1}, {"id": "2"}]},
            resolvers={"Item.note": lambda i: _nullable_boom(i) if i["id"] == "2" else "fine"},
        ),
    ],
    [
        Query("{ holder { required { name price } } }"),
        Query("{ holder { items { id price } } }"),
        Query("{ holder { maybe { id price } } }"),
        Query("{ mustHolder { required { price } } }"),
        Query("{ items { note } }"),
        Query("{ items { id price } holder { required { name } } }"),
    ],
)

partial_data = Corpus(
    "partial_data",
    "a failing subgraph gives partial data plus errors where the schema allows",
    [
        Subgraph(
            "up",
            """
            type Item @key(fields: "id") { id: ID! name: String! }
            type Query { items: [Item!]! one: Item }
            """,
            root={
                "items": [{"__typename": "Item", "id": "1"}],
                "one": {"__typename": "Item", "id": "1"},
            },
            entities={"Item": [{"id": "1", "name": "one"}]},
        ),
        Subgraph(
            "down",
            """
            type Item @key(fields: "id") { id: ID! stock: Int optional: String }
            type Query { status: String mustStatus: String! }
            """,
            down=True,
        ),
    ],
    [
        Query("{ items { name stock } }"),
        Query("{ items { name } status }"),
        Query("{ one { name optional } }"),
        Query("{ items { name } mustStatus }"),
    ],
)

error_paths = Corpus(
    "error_paths",
    "subgraph errors mapped to the client's paths (aliases, lists, entity fetches)",
    [
        Subgraph(
            "a",
            """
            type Item @key(fields: "id") { id: ID! name: String }
            type Query { items: [Item!]! bad: String }
            """,
            root={
                "items": [
                    {"__typename": "Item", "id": "1"},
                    {"__typename": "Item", "id": "2"},
                    {"__typename": "Item", "id": "1"},
                ]
            },
            entities={"Item": [{"id": "1", "name": "one"}, {"id": "2", "name": "two"}]},
            resolvers={"Query.bad": lambda _: fail("bad root", "BAD_ROOT")},
        ),
        Subgraph(
            "b",
            """
            type Item @key(fields: "id") { id: ID! flaky: String }
            """,
            entities={"Item": [{"id": "1"}, {"id": "2"}]},
            resolvers={
                "Item.flaky": lambda i: (
                    fail(f"flaky {i['id']}", "FLAKY") if i["id"] == "2" else "ok"
                )
            },
        ),
    ],
    [
        Query("{ bad items { name } }"),
        Query("{ x: items { y: flaky } }"),
        Query("{ items { id flaky name } }"),
    ],
)

deep_chain = Corpus(
    "deep_chain",
    "dependent fetches in sequence: A -> B -> C -> A",
    [
        Subgraph(
            "a",
            """
            type Order @key(fields: "id") { id: ID! number: String! }
            type Query { orders: [Order!]! }
            """,
            root={
                "orders": [{"__typename": "Order", "id": "o1"}, {"__typename": "Order", "id": "o2"}]
            },
            entities={"Order": [{"id": "o1", "number": "N1"}, {"id": "o2", "number": "N2"}]},
        ),
        Subgraph(
            "b",
            """
            type Order @key(fields: "id") { id: ID! customer: Customer! }
            type Customer @key(fields: "id") { id: ID! }
            """,
            entities={
                "Order": [
                    {"id": "o1", "customer": {"__typename": "Customer", "id": "c1"}},
                    {"id": "o2", "customer": {"__typename": "Customer", "id": "c1"}},
                ]
            },
        ),
        Subgraph(
            "c",
            """
            type Customer @key(fields: "id") { id: ID! name: String! country: Country! }
            type Country @key(fields: "code") { code: String! }
            """,
            entities={
                "Customer": [
                    {"id": "c1", "name": "ACME", "country": {"__typename": "Country", "code": "DE"}}
                ]
            },
        ),
        Subgraph(
            "d",
            """
            type Country @key(fields: "code") { code: String! name: String! }
            """,
            entities={"Country": [{"code": "DE", "name": "Germany"}]},
        ),
    ],
    [
        Query("{ orders { number customer { name country { name } } } }"),
        Query("{ orders { customer { country { code name } } } }"),
    ],
)

parallel_fetches = Corpus(
    "parallel_fetches",
    "independent root fields of different subgraphs in parallel; one batch per entity fetch",
    [
        Subgraph(
            "a",
            """
            type Item @key(fields: "id") { id: ID! }
            type Query { many: [Item!]! }
            """,
            root={"many": [{"__typename": "Item", "id": str(i % 3)} for i in range(12)]},
        ),
        Subgraph(
            "b",
            """
            type Item @key(fields: "id") { id: ID! label: String! }
            type Query { featured: Item! }
            """,
            root={"featured": {"__typename": "Item", "id": "2"}},
            entities={"Item": [{"id": str(i), "label": f"L{i}"} for i in range(3)]},
        ),
        Subgraph(
            "c",
            """
            type Item @key(fields: "id") { id: ID! score: Int! }
            type Query { top: Item! }
            """,
            root={"top": {"__typename": "Item", "id": "0"}},
            entities={"Item": [{"id": str(i), "score": i * 10} for i in range(3)]},
        ),
    ],
    [
        Query("{ many { label score } featured { score } top { label } }"),
        Query("{ many { id } top { score } }"),
    ],
)

entity_interface = Corpus(
    "entity_interface",
    "an entity interface (@key on an interface) queried from another subgraph's reference",
    [
        Subgraph(
            "content",
            """
            interface Media @key(fields: "id") { id: ID! title: String! }
            type Book implements Media @key(fields: "id") { id: ID! title: String! }
            type Movie implements Media @key(fields: "id") { id: ID! title: String! }
            """,
            entities={
                "Media": [
                    {"__typename": "Book", "id": "b1", "title": "Dune"},
                    {"__typename": "Movie", "id": "m1", "title": "Alien"},
                ],
                "Book": [{"id": "b1", "title": "Dune"}],
                "Movie": [{"id": "m1", "title": "Alien"}],
            },
        ),
        Subgraph(
            "feed",
            """
            type Media @key(fields: "id") @interfaceObject { id: ID! }
            type Query { feed: [Media!]! }
            """,
            root={
                "feed": [{"__typename": "Media", "id": "b1"}, {"__typename": "Media", "id": "m1"}]
            },
        ),
    ],
    [
        Query("{ feed { id title } }"),
        Query("{ feed { __typename ... on Movie { title } } }"),
    ],
)

CORPORA = [
    mutations_order, variables, fragments, aliases, skip_include, typename, introspection,
    null_bubbling, partial_data, error_paths, deep_chain, parallel_fetches, entity_interface,
]  # fmt: skip
_ = (BOOK, MOVIE)
