"""Planning guarantees of issue 13 that the differential corpus cannot show (its supergraphs
all compose): checked on committed corpus supergraphs, edited where a case needs a supergraph
that composition would refuse. Pure: no process runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse, validate

from gateway.planning import PlanningError, build_query_plan
from gateway.planning.merging import alias_conflicts
from gateway.planning.plan import KeyRename
from gateway.planning.selections import FieldSelection, FragmentSelection, Selection, printed
from gateway.supergraph import Supergraph, load_supergraph

SUPERGRAPHS = Path(__file__).resolve().parent / "corpus" / "supergraphs"


def _supergraph(name: str, *edits: tuple[str, str]) -> Supergraph:
    sdl = (SUPERGRAPHS / f"{name}.graphql").read_text()
    for old, new in edits:
        assert old in sdl
        sdl = sdl.replace(old, new)
    return load_supergraph(sdl)


def _plan(supergraph: Supergraph, query: str) -> None:
    document = parse(query)
    assert validate(supergraph.api_schema, document) == []
    build_query_plan(document, None, supergraph)


@pytest.mark.parametrize(
    "query",
    [
        "{ media { title reviews } }",  # from the implementations (Book, Movie)
        "{ feed { reviews } }",  # from another interface object
        '{ book(id: "b1") { rating } }',
    ],
)
def test_a_field_no_subgraph_can_reach_fails_planning(query: str) -> None:
    """Class 7: the only subgraph with Media.reviews/rating cannot be asked about a Media
    (its key is not resolvable): planning fails with the field named, the field is never
    left out of the plan (the client would get a silent null)."""
    unreachable = _supergraph(
        "interface_object_routing",
        (
            '@join__type(graph: REVIEWS, key: "id", isInterfaceObject: true)',
            '@join__type(graph: REVIEWS, key: "id", resolvable: false, isInterfaceObject: true)',
        ),
    )
    with pytest.raises(PlanningError, match=r"Media\.(reviews|rating)"):
        _plan(unreachable, query)


_WITH_MUTATION = (
    ("  query: Query\n}", "  query: Query\n  mutation: Mutation\n}"),
    (
        "type Query\n",
        "type Mutation\n  @join__type(graph: CATALOG)\n  @join__type(graph: SETTINGS)\n{\n"
        "  resetConfig: Config @join__field(graph: CATALOG) @join__field(graph: SETTINGS)\n}\n\n"
        "type Query\n",
    ),
)


def test_a_mutations_root_field_is_never_sent_twice_for_a_value_types_fields() -> None:
    """Class 5: a query may re-query a @shareable root field in the subgraph that owns the
    rest of a value type's fields; a mutation may not (it would run twice): planning fails."""
    supergraph = _supergraph("keyless_value_types", *_WITH_MUTATION)
    _plan(supergraph, "mutation { resetConfig { catalogVersion } }")  # one subgraph is enough
    with pytest.raises(PlanningError, match=r"Config\.(theme|catalogVersion)"):
        _plan(supergraph, "mutation { resetConfig { catalogVersion theme } }")


def test_sub_selections_of_one_field_selected_twice_are_checked_together() -> None:
    """Class 9: ``items`` twice in one subgraph operation merge, so ``... on Book { code }``
    and ``... on Movie { code }`` under them conflict in shop (ID! and ID): one is aliased,
    and renamed back at items."""
    supergraph = _supergraph("field_merging_conflicts")

    def items(type_name: str) -> FieldSelection:
        code = [FieldSelection("code")]
        return FieldSelection("items", selections=[FragmentSelection(type_name, (), code)])

    selections: list[Selection] = [items("Book"), items("Movie")]
    aliased, renames = alias_conflicts(selections, "Query", "shop", supergraph)
    assert renames == (KeyRename(("items",), "_fed_merge_1_code", "code"),)
    assert printed(aliased) == (
        "{ items { ... on Book { code } } items { ... on Movie { _fed_merge_1_code: code } } }"
    )
    assert printed(selections).count("_fed_") == 0  # the planner's selections are untouched
    assert alias_conflicts(selections, "Query", "library", supergraph)[1] == ()
