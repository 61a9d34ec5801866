"""The gateway as a real process over two real subgraph processes (fixtures/).

The subgraphs log every GraphQL request they receive, so the tests can count the fetches the
gateway made and see exactly what it sent.
"""

from __future__ import annotations

from typing import Any

import httpx
from gateway_stack import JWT_SECRET, GatewayStack

from crm_common.identity import mint_token


def entity_calls(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if "_entities" in r["query"]]


def root_calls(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if "_entities" not in r["query"]]


# -- identity ----------------------------------------------------------------------------------


def test_a_request_without_a_token_is_refused_with_401(stack: GatewayStack) -> None:
    response = httpx.post(stack.gateway_url, json={"query": "{ whoami }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert stack.requests_to("reviews") == []


def test_a_token_signed_with_another_secret_is_refused(stack: GatewayStack) -> None:
    forged = mint_token("not-the-secret-0123456789abcdef0123", user_id="u1", roles=["admin"])
    assert stack.post("{ whoami }", token=forged).status_code == 401


def test_the_token_is_forwarded_to_subgraphs(stack: GatewayStack) -> None:
    other = mint_token(JWT_SECRET, user_id="u2", roles=["manager"])
    response = stack.post("{ whoami me { username } }", token=other)
    assert response.json() == {"data": {"whoami": "u2", "me": {"username": "bob"}}}


# -- routing and joins ----------------------------------------------------------------------------


def test_root_fields_are_routed_to_their_subgraphs(stack: GatewayStack) -> None:
    body = stack.query("{ whoami topProducts { upc name } }")
    assert body == {
        "data": {
            "whoami": "u1",
            "topProducts": [
                {"upc": "p1", "name": "Table"},
                {"upc": "p2", "name": "Chair"},
                {"upc": "p3", "name": "Lamp"},
            ],
        }
    }
    assert len(stack.requests_to("products")) == 1
    assert len(stack.requests_to("reviews")) == 1


def test_entity_join_from_products_to_reviews_through_a_list(stack: GatewayStack) -> None:
    body = stack.query("{ topProducts { name reviews { body } } }")
    assert body["data"]["topProducts"] == [
        {"name": "Table", "reviews": [{"body": "Sturdy"}, {"body": "Wobbly"}]},
        {"name": "Chair", "reviews": [{"body": "Comfy"}]},
        {"name": "Lamp", "reviews": []},
    ]
    (call,) = stack.requests_to("reviews")
    assert call["variables"]["representations"] == [
        {"__typename": "Product", "upc": "p1"},
        {"__typename": "Product", "upc": "p2"},
        {"__typename": "Product", "upc": "p3"},
    ]


def test_entity_join_from_reviews_to_products(stack: GatewayStack) -> None:
    body = stack.query("{ topReviews(first: 2) { body product { name price } } }")
    assert body["data"]["topReviews"] == [
        {"body": "Sturdy", "product": {"name": "Table", "price": 100}},
        {"body": "Wobbly", "product": {"name": "Table", "price": 100}},
    ]
    (call,) = stack.requests_to("products")
    # Both reviews are of p1: one representation for two positions.
    assert call["variables"]["representations"] == [{"__typename": "Product", "upc": "p1"}]


def test_one_entities_request_per_subgraph_per_level(stack: GatewayStack) -> None:
    body = stack.query(
        "{ topProducts { upc reviews { author { username favoriteProducts { name } } } } }"
    )
    table, chair, lamp = body["data"]["topProducts"]
    assert table["reviews"] == [
        {"author": {"username": "ada", "favoriteProducts": [{"name": "Table"}, {"name": "Lamp"}]}},
        {"author": {"username": "bob", "favoriteProducts": [{"name": "Chair"}]}},
    ]
    assert chair["reviews"][0]["author"]["username"] == "ada"
    assert lamp["reviews"] == []
    products, reviews = stack.requests_to("products"), stack.requests_to("reviews")
    assert (len(root_calls(products)), len(entity_calls(products))) == (1, 1)
    assert (len(root_calls(reviews)), len(entity_calls(reviews))) == (0, 1)
    # Three reviews by two authors: u1 is sent once.
    users = entity_calls(products)[0]["variables"]["representations"]
    assert users == [{"__typename": "User", "id": "u1"}, {"__typename": "User", "id": "u2"}]


def test_sibling_entity_fetches_to_one_subgraph_share_a_request(stack: GatewayStack) -> None:
    body = stack.query(
        """{ search(term: "b") {
            __typename
            ... on Review { body product { name } }
            ... on User { username favoriteProducts { name } }
        } }"""
    )
    assert body["data"]["search"] == [
        {"__typename": "Review", "body": "Wobbly", "product": {"name": "Table"}},
        {"__typename": "User", "username": "bob", "favoriteProducts": [{"name": "Chair"}]},
    ]
    assert len(entity_calls(stack.requests_to("products"))) == 1


def test_requires_fields_travel_in_the_representation(stack: GatewayStack) -> None:
    body = stack.query('{ product(upc: "p1") { name shippingEstimate } }')
    assert body == {"data": {"product": {"name": "Table", "shippingEstimate": 20}}}
    (call,) = entity_calls(stack.requests_to("reviews"))
    assert call["variables"]["representations"] == [
        {"__typename": "Product", "upc": "p1", "weight": 10}
    ]


# -- the client's selection ------------------------------------------------------------------------


def test_aliases(stack: GatewayStack) -> None:
    body = stack.query(
        '{ a: product(upc: "p1") { title: name notes: reviews { text: body } } '
        'b: product(upc: "p3") { title: name } }'
    )
    assert body["data"] == {
        "a": {"title": "Table", "notes": [{"text": "Sturdy"}, {"text": "Wobbly"}]},
        "b": {"title": "Lamp"},
    }


def test_named_and_inline_fragments(stack: GatewayStack) -> None:
    body = stack.query(
        """
        query { product(upc: "p2") { ...Basics ... on Product { reviews { ...ReviewBits } } } }
        fragment Basics on Product { upc name }
        fragment ReviewBits on Review { rating author { username } }
        """
    )
    assert body["data"]["product"] == {
        "upc": "p2",
        "name": "Chair",
        "reviews": [{"rating": 4, "author": {"username": "ada"}}],
    }


def test_typename_at_every_level(stack: GatewayStack) -> None:
    body = stack.query(
        '{ __typename product(upc: "p1") { __typename kind: __typename reviews { __typename } } }'
    )
    assert body["data"] == {
        "__typename": "Query",
        "product": {
            "__typename": "Product",
            "kind": "Product",
            "reviews": [{"__typename": "Review"}, {"__typename": "Review"}],
        },
    }


def test_introspection_is_answered_by_the_gateway(stack: GatewayStack) -> None:
    body = stack.query('{ __type(name: "Product") { fields { name } } }')
    names = {f["name"] for f in body["data"]["__type"]["fields"]}
    assert {"name", "reviews", "shippingEstimate"} <= names
    assert "internalCode" not in names
    assert stack.requests_to("products") == stack.requests_to("reviews") == []


def test_variables_only_the_used_ones_are_sent(stack: GatewayStack) -> None:
    body = stack.query(
        """query($upc: String!, $withReviews: Boolean!, $n: Int) {
            product(upc: $upc) { name reviews @include(if: $withReviews) { body } }
            topReviews(first: $n) { body }
        }""",
        {"upc": "p2", "withReviews": True, "n": 1},
    )
    assert body["data"] == {
        "product": {"name": "Chair", "reviews": [{"body": "Comfy"}]},
        "topReviews": [{"body": "Sturdy"}],
    }
    (products_root,) = root_calls(stack.requests_to("products"))
    assert products_root["variables"] == {"upc": "p2"}
    reviews = stack.requests_to("reviews")
    assert root_calls(reviews)[0]["variables"] == {"n": 1}
    assert set(entity_calls(reviews)[0]["variables"]) == {"representations", "withReviews"}


def test_skip_and_include(stack: GatewayStack) -> None:
    query = """query($on: Boolean!) {
        product(upc: "p1") {
            name @skip(if: $on)
            ... @include(if: $on) { reviews { rating } }
        }
    }"""
    assert stack.query(query, {"on": True})["data"] == {
        "product": {"reviews": [{"rating": 5}, {"rating": 2}]}
    }
    assert stack.query(query, {"on": False})["data"] == {"product": {"name": "Table"}}


def test_operation_name_selects_the_operation(stack: GatewayStack) -> None:
    response = stack.post("query A { whoami } query B { topProducts { upc } }", operation_name="A")
    assert response.json() == {"data": {"whoami": "u1"}}


# -- errors ---------------------------------------------------------------------------------------


def test_subgraph_errors_keep_their_code_at_client_paths(stack: GatewayStack) -> None:
    body = stack.query('{ brokenProduct { name } product(upc: "p1") { name secretNote } }')
    assert body["data"] == {"brokenProduct": None, "product": {"name": "Table", "secretNote": None}}
    paths = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert paths == {("brokenProduct",): "NOT_FOUND", ("product", "secretNote"): "FORBIDDEN"}


def test_entity_errors_are_rewritten_to_the_entity_path(stack: GatewayStack) -> None:
    body = stack.query(
        '{ a: product(upc: "p1") { upc } b: product(upc: "p2") { name flakyScore } }'
    )
    # flakyScore is non-null: the subgraph nulls the entity, the gateway the product.
    assert body["data"] == {"a": {"upc": "p1"}, "b": None}
    # No `locations`: the subgraph's pointed into the subgraph operation (as Apollo Gateway).
    assert body["errors"] == [
        {
            "message": "no score for p2",
            "path": ["b", "flakyScore"],
            "extensions": {"code": "NOT_FOUND"},
        }
    ]


def test_entity_errors_inside_lists(stack: GatewayStack) -> None:
    body = stack.query("{ topReviews { product { upc flakyScore } } }")
    # [Review!]!, product: Product!: the null bubbles up to the whole response.
    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["topReviews", 2, "product", "flakyScore"], "NOT_FOUND")
    ]


def test_null_bubbles_to_the_nearest_nullable_parent(stack: GatewayStack) -> None:
    body = stack.query('{ product(upc: "p2") { upc shippingEstimate flakyScore } whoami }')
    assert body["data"] == {"product": None, "whoami": "u1"}
    assert len(body["errors"]) == 1
    assert body["errors"][0]["path"] == ["product", "flakyScore"]


def test_nullable_errors_in_a_list_keep_the_other_items(stack: GatewayStack) -> None:
    body = stack.query("{ topProducts { upc secretNote } }")
    assert [p["secretNote"] for p in body["data"]["topProducts"]] == [None, None, None]
    assert sorted(e["path"][1] for e in body["errors"]) == [0, 1, 2]


# -- HTTP -----------------------------------------------------------------------------------------


def test_validation_errors_are_200_for_application_json(stack: GatewayStack) -> None:
    response = stack.post("{ topProducts { nope } }")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "data" not in response.json()
    assert stack.requests_to("products") == []


def test_validation_errors_are_400_for_graphql_response_json(stack: GatewayStack) -> None:
    response = stack.post(
        "{ topProducts { nope } }", headers={"accept": "application/graphql-response+json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/graphql-response+json")


def test_parse_errors_and_malformed_requests(stack: GatewayStack) -> None:
    parse_error = stack.post("{ topProducts {")
    assert parse_error.status_code == 200
    assert parse_error.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    no_query = httpx.post(
        stack.gateway_url,
        json={"variables": {}},
        headers={"authorization": f"Bearer {stack.token}"},
    )
    assert no_query.status_code == 400


def test_bad_variables_are_refused_before_any_fetch(stack: GatewayStack) -> None:
    body = stack.query("query($upc: String!) { product(upc: $upc) { name } }", {"upc": 5})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert stack.requests_to("products") == []


def test_get_serves_queries_and_refuses_mutations(stack: GatewayStack) -> None:
    auth = {"authorization": f"Bearer {stack.token}"}
    query = httpx.get(
        stack.gateway_url,
        params={"query": "query($u: String!) { product(upc: $u) { name } }",
                "variables": '{"u": "p1"}'},
        headers=auth,
    )  # fmt: skip
    assert query.json() == {"data": {"product": {"name": "Table"}}}
    mutation = httpx.get(
        stack.gateway_url,
        params={"query": 'mutation { setPrice(upc: "p1", price: 1) { price } }'},
        headers=auth,
    )
    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "POST"
    assert all("mutation" not in r["query"] for r in stack.requests_to("products"))


def test_query_plan_on_request(stack: GatewayStack) -> None:
    response = stack.post("{ me { username } }", headers={"x-crm-query-plan": "true"})
    assert response.json()["extensions"]["queryPlan"] == {
        "kind": "QueryPlan",
        "node": {"kind": "Fetch", "service": "reviews", "operation": "{ me { username } }"},
    }
    assert "extensions" not in stack.post("{ me { username } }").json()


def test_health_readiness_and_metrics(stack: GatewayStack) -> None:
    base = stack.gateway_url.removesuffix("/graphql")
    health = httpx.get(f"{base}/health").json()
    assert health["status"] == "ok"
    assert health["subgraphs"] == ["products", "reviews"]
    assert health["supergraph"]["source"].startswith("file:")
    ready = httpx.get(f"{base}/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"subgraph:products": "ok", "subgraph:reviews": "ok"}
    metrics = httpx.get(f"{base}/metrics").text
    assert 'crm_gateway_subgraph_requests_total{outcome="ok",subgraph="products"}' in metrics


# -- last, because it changes the fixture data (a review of p3, the price restored) -------------


def test_mutations_run_in_order_and_join_entities(stack: GatewayStack) -> None:
    body = stack.query(
        """mutation {
            setPrice(upc: "p3", price: 25) { name price reviews { body } }
            addReview(upc: "p3", body: "Nice", rating: 5) { body product { name price } }
        }"""
    )
    assert body["data"] == {
        "setPrice": {"name": "Lamp", "price": 25, "reviews": []},
        "addReview": {"body": "Nice", "product": {"name": "Lamp", "price": 25}},
    }
    products, reviews = stack.requests_to("products"), stack.requests_to("reviews")
    set_price = root_calls(products)[0]
    add_review = root_calls(reviews)[0]
    assert set_price["query"].startswith("mutation")
    assert set_price["receivedAt"] <= add_review["receivedAt"]
    stack.query('mutation { setPrice(upc: "p3", price: 20) { price } }')
