"""Entity keys assembled from the fields of several subgraphs (issue 13, class 6).

An entity fetch needs a key of the target subgraph whose fields the current fetch has. When
no single subgraph has them all (``id pid category { id tag }``: ``pid`` in one subgraph,
``category`` in a second that is reached by ``id pid``, ``tag`` in a third), the key is
planned as the target's ``@requires`` would be: each key field is fetched in the current
fetch where its subgraph resolves it, else by sibling entity fetches (hops and nested joins
included), and the target's entity fetch runs after all of them, with the whole key in its
representations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.planning.fetch_groups import FetchGroup
from gateway.planning.field_sets import top_fields
from gateway.planning.requires import plan_requires
from gateway.planning.selections import Selection, add_plain_fields, typename_field

if TYPE_CHECKING:
    from gateway.planning.planner import _Planner


def assemble_key(
    walk: _Planner,
    group: FetchGroup,
    type_name: str,
    graphs: list[str],
    path: tuple[str, ...],
    level_out: list[Selection],
) -> FetchGroup | None:
    """The entity fetch to one of ``graphs`` under ``group`` whose key is gathered from
    several subgraphs first, or None when no key of theirs can be gathered."""
    for target in graphs:
        if (type_name, target) in walk.assembling:
            continue  # this key is being gathered already: do not recurse into it
        for key in walk.supergraph.resolvable_keys(type_name, target):
            if not all(
                _reachable(walk, group, type_name, f.name.value, target)
                for f in top_fields(key.fields)
            ):
                continue
            child = group.new_child(target, path)
            add_plain_fields(child.requirements.setdefault(type_name, []), [typename_field()])
            walk.assembling.add((type_name, target))
            try:
                plan_requires(walk, group, child, type_name, key.fields, path, level_out)
            finally:
                walk.assembling.discard((type_name, target))
            if walk.touched is not None:
                walk.touched.append(child)
            return child
    return None


def _reachable(walk: _Planner, group: FetchGroup, type_name: str, field: str, target: str) -> bool:
    """Whether a key field can be fetched before the target's entity fetch: in ``group``'s
    subgraph, or in a subgraph (other than the target) that ``group`` reaches by a key or
    one hop."""
    graphs = [g for g in walk.graphs(type_name, field) if g != target]
    if group.graph in graphs:
        return True
    for graph in graphs:
        if walk.usable_key(type_name, graph, group.graph) is not None:
            return True
        for key in walk.supergraph.resolvable_keys(type_name, graph):
            fields = [f.name.value for f in top_fields(key.fields)]
            if any(
                middle not in (group.graph, graph)
                and walk.usable_key(type_name, middle, group.graph) is not None
                and all(middle in walk.graphs(type_name, f) for f in fields)
                for middle in walk.supergraph.graphs
            ):
                return True
    return False
