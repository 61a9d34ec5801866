"""Fetch groups: the fetches of a plan while it is being built, as a tree of entity hops.

Each group is one request to one subgraph: a root fetch (``path == ()``, not an entity
fetch) or an ``_entities`` fetch whose results merge at ``path`` under its ``parent``.
Siblings (children of one parent) run after the siblings they ``depends_on`` (@requires).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from gateway.planning.selections import Selection


@dataclass(eq=False)
class FetchGroup:
    """A fetch while it is being built."""

    graph: str
    path: tuple[str, ...]
    is_entity: bool
    parent: FetchGroup | None = None
    selections: list[Selection] = field(default_factory=list)  # root fetch
    entity_selections: dict[str, list[Selection]] = field(default_factory=dict)  # per type
    requirements: dict[str, list[Selection]] = field(default_factory=dict)  # per type
    # Object type -> the __typename its representations carry (an @interfaceObject's
    # subgraph knows the interface, not the implementation).
    typename_as: dict[str, str] = field(default_factory=dict)
    children: list[FetchGroup] = field(default_factory=list)
    depends_on: list[FetchGroup] = field(default_factory=list)  # siblings, for @requires

    def child(
        self, graph: str, path: tuple[str, ...], avoid: Collection[FetchGroup] = ()
    ) -> FetchGroup | None:
        return next(
            (
                c
                for c in self.children
                if c.graph == graph and c.path == path and all(c is not a for a in avoid)
            ),
            None,
        )

    def new_child(self, graph: str, path: tuple[str, ...]) -> FetchGroup:
        child = FetchGroup(graph=graph, path=path, is_entity=True, parent=self)
        self.children.append(child)
        return child

    def top_under(self, ancestor: FetchGroup) -> FetchGroup | None:
        """The child of ``ancestor`` that is this group or one of its ancestors."""
        group: FetchGroup | None = self
        while group is not None and group.parent is not ancestor:
            group = group.parent
        return group

    def depends_transitively_on(self, other: FetchGroup) -> bool:
        stack, seen = list(self.depends_on), set()
        while stack:
            group = stack.pop()
            if group is other:
                return True
            if id(group) not in seen:
                seen.add(id(group))
                stack.extend(group.depends_on)
        return False
