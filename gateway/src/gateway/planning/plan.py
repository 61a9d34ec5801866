"""A query plan as plain, immutable data (the shape of Apollo's query plans).

``Fetch`` sends one operation to one subgraph. At the root it is a plain fetch whose data is
merged at the top of the response; inside a ``Flatten`` it is an entity fetch: the executor
collects the objects at ``Flatten.path`` (``"@"`` steps through a list), turns each into a
representation with the ``requires`` fields, and sends them all in one ``_entities`` call.
``Sequence`` runs its nodes in order, ``Parallel`` concurrently; ``Condition`` runs one of
its clauses by the value of a boolean variable (``@skip``/``@include``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

LIST_STEP = "@"
# The variable of an entity fetch that carries its representations.
REPRESENTATIONS = "representations"

OperationKind: TypeAlias = Literal["query", "mutation", "subscription"]


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """A field that a representation carries, with its own sub-fields for object keys."""

    name: str
    selections: tuple[Requirement, ...] = ()
    # The response key it was fetched under, when the planner had to alias it.
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class FragmentRequirement:
    """``... on T { ... }`` in a required field set: its fields are carried only for
    objects whose ``__typename`` is one of ``possible_types`` (T's object types)."""

    type_condition: str
    possible_types: tuple[str, ...]
    selections: tuple[Requirement, ...] = ()


Requirement: TypeAlias = FieldRequirement | FragmentRequirement


@dataclass(frozen=True, slots=True)
class TypeRequirement:
    """The representation of objects of ``type_name``: ``__typename``, key, @requires."""

    type_name: str
    fields: tuple[Requirement, ...]
    # The __typename the representations carry, when not ``type_name`` (@interfaceObject).
    typename_as: str | None = None


@dataclass(frozen=True, slots=True)
class KeyRename:
    """A field the subgraph operation selects under an alias of the gateway's (fields of one
    response name whose types differ there, see planning/merging.py): in each result of the
    fetch (each entity of an entity fetch), at ``path`` (lists stepped through), the key
    ``alias`` is renamed ``response_key`` before the result is merged."""

    path: tuple[str, ...]
    alias: str
    response_key: str


@dataclass(frozen=True, slots=True)
class Fetch:
    service: str
    operation_text: str
    # Empty for a root fetch; for an entity fetch, one entry per entity type it resolves.
    requires: tuple[TypeRequirement, ...]
    # The client's variables this operation uses: only those are sent.
    variable_usages: tuple[str, ...]
    # Where the results merge: () at the root, the Flatten path for an entity fetch.
    path: tuple[str, ...]
    operation_name: str | None = None
    # Aliases the gateway gave to fields, renamed back in the results (deepest first).
    renames: tuple[KeyRename, ...] = ()

    @property
    def is_entity_fetch(self) -> bool:
        return bool(self.requires)


@dataclass(frozen=True, slots=True)
class Flatten:
    """An entity fetch whose representations are the objects at ``path``, and its results
    merged back there. ``more_paths``: further positions the same request serves (sibling
    entity fetches to one subgraph the planner merged into one): one request carries the
    representations of every path, in order."""

    path: tuple[str, ...]
    node: Fetch
    more_paths: tuple[tuple[str, ...], ...] = ()

    @property
    def paths(self) -> tuple[tuple[str, ...], ...]:
        return (self.path, *self.more_paths)


@dataclass(frozen=True, slots=True)
class Sequence:
    nodes: tuple[PlanNode, ...]


@dataclass(frozen=True, slots=True)
class Parallel:
    nodes: tuple[PlanNode, ...]


@dataclass(frozen=True, slots=True)
class Condition:
    """Runs ``if_clause`` when the client's boolean ``variable`` is true, else
    ``else_clause`` (either may be None: nothing to run). From ``@include(if: $v)`` /
    ``@skip(if: $v)`` around everything a fetch selects: a skipped branch costs no fetch.
    ``default``: the variable's default value, used when the client did not send it."""

    variable: str
    if_clause: PlanNode | None
    else_clause: PlanNode | None
    default: bool | None = None


PlanNode: TypeAlias = Fetch | Flatten | Sequence | Parallel | Condition


@dataclass(frozen=True, slots=True)
class QueryPlan:
    kind: OperationKind
    # None when nothing needs a subgraph (only __typename or introspection was asked).
    node: PlanNode | None


def sequence(nodes: list[PlanNode]) -> PlanNode:
    """A Sequence of the nodes, flattening nested Sequences; a single node stays itself."""
    flat: list[PlanNode] = []
    for node in nodes:
        flat.extend(node.nodes if isinstance(node, Sequence) else (node,))
    return flat[0] if len(flat) == 1 else Sequence(tuple(flat))


def parallel(nodes: list[PlanNode]) -> PlanNode:
    """A Parallel of the nodes, flattening nested Parallels; a single node stays itself."""
    flat: list[PlanNode] = []
    for node in nodes:
        flat.extend(node.nodes if isinstance(node, Parallel) else (node,))
    return flat[0] if len(flat) == 1 else Parallel(tuple(flat))


def requirement_text(requirement: TypeRequirement) -> str:
    """``... on Product { __typename upc }``, as Apollo prints a fetch's requires."""

    def fields(items: tuple[Requirement, ...]) -> str:
        return " ".join(
            f"... on {f.type_condition} {{ {fields(f.selections)} }}"
            if isinstance(f, FragmentRequirement)
            else (f"{f.alias}: " if f.alias else "")
            + (f"{f.name} {{ {fields(f.selections)} }}" if f.selections else f.name)
            for f in items
        )

    as_ = f" as {requirement.typename_as}" if requirement.typename_as else ""
    return f"... on {requirement.type_name}{as_} {{ {fields(requirement.fields)} }}"
