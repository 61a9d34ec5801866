"""Query plans over the fixture supergraph (products + reviews), as plain data.

Pure: no process runs. The fixture supergraph was composed by tools/composition from
fixtures/products_subgraph.py and fixtures/reviews_subgraph.py (see test_gateway_composition).
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse, validate

from gateway.planning import (
    Fetch,
    FieldRequirement,
    Flatten,
    Parallel,
    PlanningError,
    QueryPlan,
    QueryPlanner,
    Sequence,
    TypeRequirement,
    build_query_plan,
    plan_to_data,
)
from gateway.supergraph import Supergraph

ENTITIES = "($representations: [_Any!]!) { _entities(representations: $representations) {"


def plan_of(supergraph: Supergraph, query: str, operation_name: str | None = None) -> QueryPlan:
    document = parse(query)
    assert validate(supergraph.api_schema, document) == []
    return build_query_plan(document, operation_name, supergraph)


def data_of(supergraph: Supergraph, query: str) -> Any:
    return plan_to_data(plan_of(supergraph, query))["node"]


def second_step_flattens(plan: QueryPlan) -> list[Flatten]:
    """The Flattens of a plan shaped Sequence[Fetch, Parallel[Flatten, ...]]."""
    assert isinstance(plan.node, Sequence)
    step = plan.node.nodes[1]
    assert isinstance(step, Parallel)
    assert all(isinstance(n, Flatten) for n in step.nodes)
    return [n for n in step.nodes if isinstance(n, Flatten)]


def test_a_root_field_is_one_fetch_to_its_subgraph(fixture_supergraph: Supergraph) -> None:
    assert data_of(fixture_supergraph, "{ me { username } }") == {
        "kind": "Fetch",
        "service": "reviews",
        "operation": "{ me { username } }",
    }


def test_root_fields_of_two_subgraphs_are_fetched_in_parallel(
    fixture_supergraph: Supergraph,
) -> None:
    assert data_of(fixture_supergraph, "{ me { username } topProducts { name } }") == {
        "kind": "Parallel",
        "nodes": [
            {"kind": "Fetch", "service": "reviews", "operation": "{ me { username } }"},
            {"kind": "Fetch", "service": "products", "operation": "{ topProducts { name } }"},
        ],
    }


def test_an_entity_join_through_a_list_adds_keys_and_flattens(
    fixture_supergraph: Supergraph,
) -> None:
    assert data_of(fixture_supergraph, "{ topProducts { name reviews { body } } }") == {
        "kind": "Sequence",
        "nodes": [
            {
                "kind": "Fetch",
                "service": "products",
                "operation": "{ topProducts { name __typename upc } }",
            },
            {
                "kind": "Flatten",
                "path": ["topProducts", "@"],
                "node": {
                    "kind": "Fetch",
                    "service": "reviews",
                    "operation": f"query {ENTITIES} ... on Product {{ reviews {{ body }} }} }} }}",
                    "requires": ["... on Product { __typename upc }"],
                },
            },
        ],
    }


def test_joins_both_ways_give_one_fetch_per_level(fixture_supergraph: Supergraph) -> None:
    query = (
        "query Top { topProducts { reviews { author { username favoriteProducts { name } } } } }"
    )
    assert data_of(fixture_supergraph, query) == {
        "kind": "Sequence",
        "nodes": [
            {
                "kind": "Fetch",
                "service": "products",
                "operation": "query Top__products__0 { topProducts { __typename upc } }",
            },
            {
                "kind": "Flatten",
                "path": ["topProducts", "@"],
                "node": {
                    "kind": "Fetch",
                    "service": "reviews",
                    "operation": f"query Top__reviews__1{ENTITIES} ... on Product "
                    "{ reviews { author { username __typename id } } } } }",
                    "requires": ["... on Product { __typename upc }"],
                },
            },
            {
                "kind": "Flatten",
                "path": ["topProducts", "@", "reviews", "@", "author"],
                "node": {
                    "kind": "Fetch",
                    "service": "products",
                    "operation": f"query Top__products__2{ENTITIES} ... on User "
                    "{ favoriteProducts { name } } } }",
                    "requires": ["... on User { __typename id }"],
                },
            },
        ],
    }


def test_requires_fields_are_fetched_first_and_sent_in_representations(
    fixture_supergraph: Supergraph,
) -> None:
    plan = plan_of(fixture_supergraph, '{ product(upc: "p1") { shippingEstimate } }')
    assert plan == QueryPlan(
        "query",
        Sequence(
            (
                Fetch(
                    service="products",
                    operation_text='{ product(upc: "p1") { __typename upc weight } }',
                    requires=(),
                    variable_usages=(),
                    path=(),
                ),
                Flatten(
                    ("product",),
                    Fetch(
                        service="reviews",
                        operation_text=f"query {ENTITIES} ... on Product "
                        "{ shippingEstimate } } }",
                        requires=(
                            TypeRequirement(
                                "Product",
                                (
                                    FieldRequirement("__typename"),
                                    FieldRequirement("upc"),
                                    FieldRequirement("weight"),
                                ),
                            ),
                        ),
                        variable_usages=(),
                        path=("product",),
                    ),
                ),
            )
        ),
    )


def test_fragments_aliases_conditions_and_only_used_variables(
    fixture_supergraph: Supergraph,
) -> None:
    query = """
        query Q($upc: String!, $withReviews: Boolean!) {
          item: product(upc: $upc) {
            ...Names
            ... @include(if: $withReviews) { reviews { stars: rating } }
          }
        }
        fragment Names on Product { title: name }
    """
    assert data_of(fixture_supergraph, query) == {
        "kind": "Sequence",
        "nodes": [
            {
                "kind": "Fetch",
                "service": "products",
                "operation": "query Q__products__0($upc: String!) "
                "{ item: product(upc: $upc) { title: name __typename upc } }",
                "variableUsages": ["upc"],
            },
            {
                # Everything the reviews fetch selects is under @include(if: $withReviews):
                # a plan-time condition, so that withReviews: false costs no fetch.
                "kind": "Condition",
                "condition": "withReviews",
                "ifClause": {
                    "kind": "Flatten",
                    "path": ["item"],
                    "node": {
                        "kind": "Fetch",
                        "service": "reviews",
                        # The @include stays around the moved fields too.
                        "operation": "query Q__reviews__1($representations: [_Any!]!, "
                        "$withReviews: Boolean!) { _entities(representations: $representations) "
                        "{ ... on Product { ... @include(if: $withReviews) "
                        "{ reviews { stars: rating } } } } }",
                        "requires": ["... on Product { __typename upc }"],
                        "variableUsages": ["withReviews"],
                    },
                },
            },
        ],
    }


def test_abstract_types_are_expanded_and_sibling_fetches_to_one_subgraph_share_a_request(
    fixture_supergraph: Supergraph,
) -> None:
    query = """{ search(term: "o") {
        ... on Review { product { name } }
        ... on User { favoriteProducts { name } }
    } }"""
    shared_fetch = {
        "kind": "Fetch",
        "service": "products",
        "operation": f"query {ENTITIES} ... on Product {{ name }} "
        "... on User { favoriteProducts { name } } } }",
        "requires": ["... on Product { __typename upc }", "... on User { __typename id }"],
    }
    assert data_of(fixture_supergraph, query) == {
        "kind": "Sequence",
        "nodes": [
            {
                "kind": "Fetch",
                "service": "reviews",
                "operation": '{ search(term: "o") { __typename ... on Review '
                "{ product { __typename upc } } ... on User { __typename id } } }",
            },
            {
                # One Flatten naming both positions: one request, said in the plan data
                # (not by two Flattens sharing one Fetch object).
                "kind": "Flatten",
                "paths": [["search", "@", "product"], ["search", "@"]],
                "node": shared_fetch,
            },
        ],
    }


def test_siblings_with_different_selections_of_one_type_are_not_merged(
    fixture_supergraph: Supergraph,
) -> None:
    # Merging would ask p1 for shippingEstimate, whose @requires p1 was not fetched with.
    query = '{ a: product(upc: "p1") { shippingEstimate } b: product(upc: "p2") { flakyScore } }'
    flattens = second_step_flattens(plan_of(fixture_supergraph, query))
    assert [f.path for f in flattens] == [("a",), ("b",)]
    assert flattens[0].node != flattens[1].node


def test_mutations_run_in_document_order(fixture_supergraph: Supergraph) -> None:
    query = """mutation {
        setPrice(upc: "p1", price: 1) { reviews { body } }
        addReview(upc: "p1", body: "b", rating: 3) { product { name } }
    }"""
    node = data_of(fixture_supergraph, query)
    assert node["kind"] == "Sequence"
    assert [(n["kind"], n.get("path")) for n in node["nodes"]] == [
        ("Fetch", None),
        ("Flatten", ["setPrice"]),
        ("Fetch", None),
        ("Flatten", ["addReview", "product"]),
    ]
    assert node["nodes"][0]["operation"] == (
        'mutation { setPrice(upc: "p1", price: 1) { __typename upc } }'
    )
    assert node["nodes"][2]["operation"] == (
        'mutation { addReview(upc: "p1", body: "b", rating: 3) { product { __typename upc } } }'
    )


def test_consecutive_mutations_of_one_subgraph_share_a_fetch(
    fixture_supergraph: Supergraph,
) -> None:
    query = (
        'mutation { a: setPrice(upc: "p1", price: 1) { upc } '
        'b: setPrice(upc: "p2", price: 2) { upc } }'
    )
    assert data_of(fixture_supergraph, query) == {
        "kind": "Fetch",
        "service": "products",
        "operation": 'mutation { a: setPrice(upc: "p1", price: 1) { upc } '
        'b: setPrice(upc: "p2", price: 2) { upc } }',
    }


def test_typename_and_introspection_need_no_subgraph(fixture_supergraph: Supergraph) -> None:
    plan = plan_of(fixture_supergraph, '{ __typename __type(name: "Product") { name } }')
    assert plan == QueryPlan("query", None)


def test_typename_inside_selections_goes_to_the_subgraph(fixture_supergraph: Supergraph) -> None:
    assert data_of(fixture_supergraph, "{ me { t: __typename username } }") == {
        "kind": "Fetch",
        "service": "reviews",
        "operation": "{ me { t: __typename username } }",
    }


def test_the_operation_is_chosen_by_name(fixture_supergraph: Supergraph) -> None:
    query = "query A { me { username } } query B { topProducts { upc } }"
    plan = plan_of(fixture_supergraph, query, "B")
    assert plan.node == Fetch(
        "products", "query B__products__0 { topProducts { upc } }", (), (), (), "B__products__0"
    )


def test_the_representations_variable_name_is_reserved(fixture_supergraph: Supergraph) -> None:
    query = (
        "query($representations: Boolean!) "
        "{ topProducts { reviews @include(if: $representations) { body } } }"
    )
    with pytest.raises(PlanningError, match="reserved"):
        plan_of(fixture_supergraph, query)


def test_subscriptions_need_a_subscription_type(fixture_supergraph: Supergraph) -> None:
    # Subscriptions are planned (their first fetch goes over graphql-transport-ws, see
    # test_gateway_subscriptions.py); this supergraph has none.
    with pytest.raises(PlanningError, match="no subscription type"):
        build_query_plan(parse("subscription { ticks }"), None, fixture_supergraph)


def test_plans_are_cached_by_text_and_operation_name(fixture_supergraph: Supergraph) -> None:
    planner = QueryPlanner(fixture_supergraph, cache_size=2)
    text = "query A { me { username } } query B { topProducts { upc } }"
    document = parse(text)
    first = planner.plan(document, text, "A")
    assert planner.plan(document, text, "A") is first
    assert planner.plan(document, text, "B") is not first
    assert (planner.hits, planner.misses) == (1, 2)
    other = "{ whoami }"
    planner.plan(parse(other), other, None)  # evicts the least recently used: A
    assert len(planner) == 2
    assert planner.plan(document, text, "A") is not first
    assert planner.misses == 4
