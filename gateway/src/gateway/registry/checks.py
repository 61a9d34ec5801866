"""``crm-graph check``: compose a proposed subgraph SDL with the others' current ones and
find what it would break for the clients that really use the graph."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gateway.registry.composition import Composition, compose
from gateway.registry.diff import Change, breaking_changes
from gateway.registry.store import OperationUsage, RegistryStore, SubgraphSchema, Version
from gateway.supergraph import SupergraphError, load_supergraph


@dataclass(frozen=True, slots=True)
class ClassifiedChange:
    change: Change
    operations: tuple[str, ...]  # names (or signatures) of the operations that use it
    breaking: bool


@dataclass
class CheckResult:
    subgraph: str
    base_version: int | None
    composition: Composition
    changes: list[ClassifiedChange] = field(default_factory=list)
    usage_known: bool = True
    window_days: int = 30

    @property
    def ok(self) -> bool:
        return self.composition.ok and not any(c.breaking for c in self.changes)

    def report(self) -> str:
        lines: list[str] = []
        base = f"version {self.base_version}" if self.base_version else "an empty registry"
        lines.append(f"check of subgraph '{self.subgraph}' against {base}")
        if not self.composition.ok:
            lines.append("COMPOSITION FAILED:")
            lines.extend(f"  {line}" for line in self.composition.errors.splitlines())
            return "\n".join(lines)
        if not self.usage_known:
            lines.append(
                f"no operations recorded in the last {self.window_days} days:"
                " every breaking change counts"
            )
        for item in self.changes:
            c = item.change
            if item.breaking:
                used = (
                    f"used by {', '.join(item.operations)}"
                    if item.operations
                    else "client usage unknown"
                )
                lines.append(f"BREAKING {c.kind} {c.coordinate}: {c.message} ({used})")
            else:
                lines.append(
                    f"safe     {c.kind} {c.coordinate}: {c.message}"
                    f" (no operation used it in the last {self.window_days} days)"
                )
        if not self.changes:
            lines.append("no breaking changes")
        lines.append("PASSED" if self.ok else "FAILED")
        return "\n".join(lines)


def _with_replacement(
    current: Version | None, name: str, sdl: str, url: str | None
) -> list[SubgraphSchema]:
    subgraphs = dict(current.subgraphs) if current else {}
    previous = subgraphs.get(name)
    routing_url = url or (previous.url if previous else f"http://{name}/graphql")
    subgraphs[name] = SubgraphSchema(name, routing_url, sdl)
    return list(subgraphs.values())


def _users(change: Change, operations: list[OperationUsage]) -> tuple[str, ...]:
    names = sorted(
        {
            op.name or f"anonymous {op.signature[:12]}"
            for op in operations
            if change.usage_key in op.fields
        }
    )
    return tuple(names)


def run_check(
    store: RegistryStore,
    subgraph: str,
    sdl: str,
    *,
    url: str | None = None,
    window_days: int = 30,
) -> tuple[CheckResult, list[SubgraphSchema]]:
    current = store.latest()
    proposed = _with_replacement(current, subgraph, sdl, url)
    composition = compose(proposed)
    result = CheckResult(
        subgraph, current.number if current else None, composition, window_days=window_days
    )
    if not composition.ok or current is None or composition.supergraph is None:
        return result, proposed
    try:
        old_schema = load_supergraph(current.supergraph).api_schema
        new_schema = load_supergraph(composition.supergraph).api_schema
    except SupergraphError as exc:
        result.composition = Composition(None, f"the composed supergraph cannot be served: {exc}")
        return result, proposed
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=window_days)
    operations = store.operations_since(since)
    result.usage_known = bool(operations)
    for change in breaking_changes(old_schema, new_schema):
        users = _users(change, operations)
        breaking = bool(users) or not result.usage_known
        result.changes.append(ClassifiedChange(change, users, breaking))
    return result, proposed
