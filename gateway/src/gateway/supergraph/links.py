"""The ``@link`` directives of a supergraph: which specs (features) it uses, under which names.

A linked feature owns the directive named after it (``@join__type`` belongs to ``join``:
``@join`` itself and every ``@join__*``), every type named ``join__*``, and the elements it
imports. Knowing this lets the loader find the join directives even when renamed with ``as``,
and lets the API schema drop all of that machinery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, SchemaDefinitionNode, SchemaExtensionNode, value_from_ast_untyped

APOLLO_SPECS_HOST = "specs.apollo.dev"
_VERSION = re.compile(r"^v(\d+)\.(\d+)$")


@dataclass(frozen=True, slots=True)
class LinkedFeature:
    url: str
    spec: str  # the spec's own name, from its url: "join", "inaccessible" ...
    name: str  # the local name: its `as`, else the last path segment before the version
    version: tuple[int, int] | None
    # imported element (``@directive`` or ``Type``) -> its local name
    imports: dict[str, str] = field(default_factory=dict)
    # ``for:``: SECURITY or EXECUTION when a reader that does not implement the feature
    # must refuse the schema (link spec v1.0), else None.
    purpose: str | None = None

    @property
    def is_apollo_spec(self) -> bool:
        return f"//{APOLLO_SPECS_HOST}/" in self.url

    def owns_directive(self, directive: str) -> bool:
        return (
            directive == self.name
            or directive.startswith(f"{self.name}__")
            or f"@{directive}" in self.imports.values()
        )

    def owns_type(self, type_name: str) -> bool:
        return type_name.startswith(f"{self.name}__") or type_name in self.imports.values()

    def directive(self, element: str) -> str:
        """The local name of one of this feature's directives, e.g. ``type`` -> ``join__type``."""
        return f"{self.name}__{element}"


def _parse_url(url: str) -> tuple[str, tuple[int, int] | None]:
    segments = [s for s in url.split("?")[0].split("/") if s]
    version = None
    if segments and (match := _VERSION.match(segments[-1])):
        version = (int(match.group(1)), int(match.group(2)))
        segments = segments[:-1]
    return (segments[-1] if segments else url), version


def _imports(raw: Any) -> dict[str, str]:
    imports: dict[str, str] = {}
    for item in raw or []:
        if isinstance(item, str):
            imports[item] = item
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            imports[item["name"]] = str(item.get("as") or item["name"])
    return imports


def linked_features(document: DocumentNode) -> list[LinkedFeature]:
    """Every ``@link`` on the schema definition or its extensions, in document order."""
    features: list[LinkedFeature] = []
    for definition in document.definitions:
        if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            continue
        for directive in definition.directives or ():
            # The link spec could in theory rename itself; Apollo composition never does.
            if directive.name.value != "link":
                continue
            args = {
                a.name.value: value_from_ast_untyped(a.value) for a in directive.arguments or ()
            }
            url = args.get("url")
            if not isinstance(url, str):
                continue
            name, version = _parse_url(url)
            alias = args.get("as")
            features.append(
                LinkedFeature(
                    url=url,
                    spec=name,
                    name=str(alias).lstrip("@") if alias else name,
                    version=version,
                    imports=_imports(args.get("import")),
                    purpose=str(args["for"]) if args.get("for") else None,
                )
            )
    return features
