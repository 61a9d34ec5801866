"""Loading Apollo's supergraph SDL: the ownership model and the API schema."""

from __future__ import annotations

import pytest
from gateway_stack import JWT_SECRET, ROOT, SUPERGRAPH_PATH
from graphql import parse, print_schema, validate

from gateway.supergraph import (
    EntityKey,
    FieldSource,
    Graph,
    Supergraph,
    SupergraphError,
    load_supergraph,
)


def test_graphs_come_from_the_join_graph_enum(fixture_supergraph: Supergraph) -> None:
    assert fixture_supergraph.graphs == {
        "products": Graph("PRODUCTS", "products", "http://products:4001/graphql"),
        "reviews": Graph("REVIEWS", "reviews", "http://reviews:4002/graphql"),
    }


def test_entity_keys_per_subgraph(fixture_supergraph: Supergraph) -> None:
    assert fixture_supergraph.types["Product"].keys == (
        EntityKey("products", "upc"),
        EntityKey("reviews", "upc"),
    )
    assert fixture_supergraph.types["Review"].keys == ()
    assert fixture_supergraph.types["Review"].graphs == ("reviews",)


def test_field_ownership(fixture_supergraph: Supergraph) -> None:
    model = fixture_supergraph
    assert model.resolving_graphs("Product", "name") == ["products"]
    assert model.resolving_graphs("Product", "reviews") == ["reviews"]
    # No @join__field: every subgraph that has the type resolves the field.
    assert model.resolving_graphs("Product", "upc") == ["products", "reviews"]
    # External in reviews: declared there, resolved only by products.
    assert model.field_sources("Product", "weight") == (
        FieldSource("products"),
        FieldSource("reviews", external=True),
    )
    assert model.resolving_graphs("Product", "weight") == ["products"]
    assert model.requires("Product", "shippingEstimate", "reviews") == "weight"
    assert model.possible_types_in("SearchResult", "reviews") == ["Review", "User"]


def test_the_api_schema_has_no_join_machinery_and_no_inaccessible_elements(
    fixture_supergraph: Supergraph,
) -> None:
    api = print_schema(fixture_supergraph.api_schema)
    for hidden in ("join__", "link__", "@link", "@inaccessible", "internalCode"):
        assert hidden not in api
    assert "internalCode" in fixture_supergraph.schema.get_type("Product").fields  # type: ignore[union-attr]
    errors = validate(fixture_supergraph.api_schema, parse("{ topProducts { internalCode } }"))
    assert [e.message for e in errors] == ["Cannot query field 'internalCode' on type 'Product'."]


def test_subgraph_urls_are_overridden_by_case_insensitive_name(
    fixture_supergraph: Supergraph,
) -> None:
    moved = fixture_supergraph.with_subgraph_urls({"Products": "http://127.0.0.1:9/graphql"})
    assert moved.graphs["products"].url == "http://127.0.0.1:9/graphql"
    assert moved.graphs["reviews"].url == fixture_supergraph.graphs["reviews"].url
    with pytest.raises(KeyError):
        fixture_supergraph.with_subgraph_urls({"inventory": "http://x/graphql"})


def test_a_federation_1_or_plain_schema_is_refused() -> None:
    with pytest.raises(SupergraphError, match="join spec"):
        load_supergraph("type Query { a: Int }")
    old = """
        schema @core(feature: "https://specs.apollo.dev/core/v0.1")
               @link(url: "https://specs.apollo.dev/join/v0.1") { query: Query }
        directive @core(feature: String!) repeatable on SCHEMA
        directive @link(url: String) repeatable on SCHEMA
        type Query { a: Int }
    """
    with pytest.raises(SupergraphError, match="too old"):
        load_supergraph(old)


def test_a_feature_linked_for_security_or_execution_that_is_not_implemented_is_refused(
    fixture_supergraph: Supergraph,
) -> None:
    """Issue 13, class 12: never plan a feature the engine does not know."""
    sdl = fixture_supergraph.sdl
    head = '@link(url: "https://specs.apollo.dev/link/v1.0")'
    assert head in sdl
    for link, message in (
        ('@link(url: "https://example.com/rateLimit/v1.0", for: EXECUTION)', "for EXECUTION"),
        (
            '@link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)',
            "for SECURITY",
        ),
        (
            '@link(url: "https://specs.apollo.dev/context/v0.1", import: ["@context"],'
            " for: SECURITY)",
            "@context/@fromContext",
        ),
        ('@link(url: "https://specs.apollo.dev/context/v0.1")', "@context/@fromContext"),
    ):
        extra = sdl.replace(head, f"{head}\n  {link}")
        extra += "\ndirective @context(name: String!) repeatable on INTERFACE | OBJECT | UNION\n"
        extra += "directive @requiresScopes__requiresScopes(s: String) on FIELD_DEFINITION\n"
        extra += "directive @rateLimit(n: Int) on FIELD_DEFINITION\n"
        with pytest.raises(SupergraphError, match=message):
            load_supergraph(extra)
    # Features that only describe (no for:, e.g. @tag, cost) are served.
    cost = sdl.replace(head, f'{head}\n  @link(url: "https://specs.apollo.dev/cost/v0.1")')
    assert load_supergraph(cost).graphs == fixture_supergraph.graphs


def test_unparsable_sdl_is_refused() -> None:
    with pytest.raises(SupergraphError, match="does not parse"):
        load_supergraph("type {")


def test_join_v0_3_v0_4_and_v0_5_supergraphs_are_served(fixture_supergraph: Supergraph) -> None:
    from gateway.planning import build_query_plan

    v0_4 = fixture_supergraph.sdl
    v0_3 = v0_4.replace("join/v0.4", "join/v0.3").replace(", overrideLabel: String", "")
    contracts = (ROOT / "contracts" / "supergraph.graphql").read_text()
    assert "join/v0.5" in contracts
    for sdl in (v0_3, v0_4):
        supergraph = load_supergraph(sdl)
        plan = build_query_plan(
            parse("{ topProducts { name reviews { body } } }"), None, supergraph
        )
        assert plan.node is not None
    assert load_supergraph(contracts).api_schema.query_type is not None


def test_query_plans_are_off_by_default() -> None:
    from starlette.testclient import TestClient

    from crm_common.identity import mint_token
    from gateway.app import create_app
    from gateway.settings import Settings

    settings = Settings(supergraph_path=SUPERGRAPH_PATH, jwt_secret=JWT_SECRET)
    assert settings.expose_query_plans is False
    token = mint_token(JWT_SECRET, user_id="u1", roles=["rep"])
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"authorization": f"Bearer {token}", "x-crm-query-plan": "true"},
        )
    assert response.json() == {"data": {"__typename": "Query"}}
