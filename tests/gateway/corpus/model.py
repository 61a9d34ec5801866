"""The differential corpus: small supergraphs, each with its subgraphs (SDL + canned data +
a few resolvers) and the queries that both gateways must answer alike.

A subgraph's data is plain dicts. ``entities[Type]`` are the records the subgraph can resolve
by key (``_entities`` finds the record whose fields equal the representation's, and the
representation's own fields, e.g. ``@requires`` ones, stay visible to resolvers). A dict with
``__typename`` met anywhere is completed from those records. ``resolvers["Type.field"]`` is
called as ``fn(parent, **args)`` for computed fields, mutations and failures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FEDERATION_IMPORTS = (
    '["@key", "@shareable", "@external", "@requires", "@provides", "@override",'
    ' "@inaccessible", "@interfaceObject", "@tag"]'
)


@dataclass
class Subgraph:
    name: str
    sdl: str
    root: dict[str, Any] = field(default_factory=dict)
    entities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    resolvers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    down: bool = False  # answers HTTP 500 with no GraphQL body
    federation_version: str = "2.7"

    @property
    def composed_sdl(self) -> str:
        header = (
            f'extend schema @link(url: "https://specs.apollo.dev/federation/'
            f'v{self.federation_version}", import: {FEDERATION_IMPORTS})\n'
        )
        return header + self.sdl


@dataclass
class Query:
    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    # Apollo Gateway is wrong or unsupported here: assert ``expected`` (the spec) instead
    # of comparing with it, and say why.
    apollo_wrong: str | None = None
    expected: dict[str, Any] | None = None
    name: str = ""
    # Apollo Gateway's data is right but it reports the errors wrongly (e.g. only in
    # extensions.valueCompletion): compare the data, assert that we report errors, and say why.
    apollo_errors_wrong: str | None = None


@dataclass
class Corpus:
    name: str
    feature: str
    subgraphs: list[Subgraph]
    queries: list[Query]
