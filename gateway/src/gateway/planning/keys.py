"""Entity keys: which key of a target subgraph an entity fetch uses, one hop through a middle
subgraph when the current one has no such key's fields, and keys assembled from the fields
of several subgraphs (issue 13, class 6).

An entity fetch needs a key of the target subgraph whose fields the current fetch has. When
no single subgraph has them all (``id pid category { id tag }``: ``pid`` in one subgraph,
``category`` in a second that is reached by ``id pid``, ``tag`` in a third), the key is
planned as the target's ``@requires`` would be: each key field is fetched in the current
fetch where its subgraph resolves it, else by sibling entity fetches (hops and nested joins
included), and the target's entity fetch runs after all of them, with the whole key in its
representations.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from gateway.planning.errors import PlanningError
from gateway.planning.fetch_groups import FetchGroup
from gateway.planning.field_sets import copy_fields, field_set, top_fields
from gateway.planning.provides import Provided, provides_all
from gateway.planning.requires import plan_requires
from gateway.planning.selections import (
    FieldSelection,
    Selection,
    add_plain_fields,
    typename_field,
)
from gateway.supergraph.model import EntityKey

if TYPE_CHECKING:
    from gateway.planning.planner import _Planner


def entity_child(
    walk: _Planner,
    group: FetchGroup,
    type_name: str,
    field_name: str,
    graphs: list[str],
    path: tuple[str, ...],
    level_out: list[Selection],
    *,
    object_type: str | None = None,
    avoid: Collection[FetchGroup] = (),
    provided: Provided | None = None,
) -> FetchGroup:
    """The entity fetch under ``group`` that will resolve the field, keys wired in.

    ``type_name`` is the type the target subgraph resolves (an interface, for an
    @interfaceObject), ``object_type`` the type of the objects at ``path`` if it differs.
    When no key of a target subgraph is available in ``group``'s subgraph, one hop
    through a subgraph that has such a key's fields is taken, else the key is gathered
    from several subgraphs (``assemble_key``).
    """
    source_type = object_type or type_name
    candidates: list[tuple[str, EntityKey]] = []
    for graph in graphs:
        key = usable_key(walk, type_name, graph, group.graph, source_type, provided)
        if key is not None:
            candidates.append((graph, key))
    if not candidates:
        hop = _through_middle(walk, group, type_name, graphs, path, level_out)
        if hop is not None:
            if walk.touched is not None:
                walk.touched.append(hop)
            return hop
        if object_type is None:
            assembled = assemble_key(walk, group, type_name, graphs, path, level_out)
            if assembled is not None:
                return assembled
        raise PlanningError(
            f"cannot plan {type_name}.{field_name}: it is resolved by "
            f"{', '.join(graphs) or 'no subgraph'}, which {group.graph} cannot reach "
            "through an entity key"
        )
    # Prefer a subgraph that this position already fetches from: one request fewer.
    graph, key = next(
        ((g, k) for g, k in candidates if group.child(g, path, avoid) is not None),
        candidates[0],
    )
    child = group.child(graph, path, avoid)
    if child is None:
        child = group.new_child(graph, path)
    if walk.touched is not None:
        walk.touched.append(child)
    key_fields = conflict_free(level_out, field_set(key.fields))
    add_plain_fields(level_out, [typename_field(), *key_fields])
    wanted = child.requirements.setdefault(source_type, [])
    add_plain_fields(wanted, [typename_field(), *copy_fields(list(key_fields))])
    return child


def _through_middle(
    walk: _Planner,
    group: FetchGroup,
    type_name: str,
    graphs: list[str],
    path: tuple[str, ...],
    level_out: list[Selection],
) -> FetchGroup | None:
    for target in graphs:
        for key in walk.supergraph.resolvable_keys(type_name, target):
            key_fields = [f.name.value for f in top_fields(key.fields)]
            for middle in walk.supergraph.graphs:
                if (
                    middle in (group.graph, target)
                    or usable_key(walk, type_name, middle, group.graph, type_name) is None
                ):
                    continue
                if not all(middle in walk.graphs(type_name, f) for f in key_fields):
                    continue
                hop = entity_child(walk, group, type_name, key_fields[0], [middle], path, level_out)
                add_plain_fields(
                    hop.entity_selections.setdefault(type_name, []), field_set(key.fields)
                )
                # The hop's results merge into the same objects: plan the target under it.
                return entity_child(walk, hop, type_name, key_fields[0], [target], path, [])
    return None


def usable_key(
    walk: _Planner,
    type_name: str,
    target: str,
    source: str,
    source_type: str | None = None,
    provided: Provided | None = None,
) -> EntityKey | None:
    """A key by which ``target`` resolves the type and whose fields ``source`` has
    (or, at this path, is given by an @provides: ``provided``)."""
    for key in walk.supergraph.resolvable_keys(type_name, target):
        if all(
            source in walk.graphs(source_type or type_name, f.name.value)
            or (provided is not None and provides_all(provided, f))
            for f in top_fields(key.fields)
        ):
            return key
    return None


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


def conflict_free(level_out: list[Selection], fields: list[FieldSelection]) -> list[FieldSelection]:
    """Key fields to add to a selection, aliased where the client already uses their name
    as the response key of something else (``id: name``)."""
    taken = response_keys(level_out)
    out = []
    for f in fields:
        others = taken.get(f.name, [])
        if any(o.alias is not None or o.name != f.name or o.directives for o in others):
            f = FieldSelection(f.name, f"_fed_{f.name}", f.arguments, (), f.selections)
        out.append(f)
    return out


def response_keys(selections: list[Selection]) -> dict[str, list[FieldSelection]]:
    keys: dict[str, list[FieldSelection]] = {}
    for s in selections:
        if isinstance(s, FieldSelection):
            keys.setdefault(s.response_key, []).append(s)
        else:
            for k, v in response_keys(s.selections).items():
                keys.setdefault(k, []).extend(v)
    return keys
