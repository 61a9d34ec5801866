"""Runs a query plan: fetches, merges results into one response tree, collects errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from gateway.execution.entities import (
    ResponsePath,
    collect_entities,
    merge_into,
    rename_keys,
    representation,
    with_renamed_error_paths,
)
from gateway.execution.errors import (
    entity_fetch_errors,
    root_fetch_error,
    root_response_keys,
    transport_errors,
)
from gateway.planning.plan import (
    REPRESENTATIONS,
    Condition,
    Fetch,
    Flatten,
    Parallel,
    PlanNode,
    Sequence,
)
from gateway.transport.http import SubgraphRequestError


class Fetcher(Protocol):
    """Sends one operation to one subgraph and returns its GraphQL response."""

    def __call__(
        self,
        service: str,
        query: str,
        variables: Mapping[str, Any],
        operation_name: str | None,
    ) -> Awaitable[dict[str, Any]]: ...


@dataclass
class ExecutionOutcome:
    """The merged data of every fetch (keyed by the client's response keys, plus the keys
    the planner added) and the subgraph errors at client paths."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)


class PlanExecutor:
    def __init__(
        self,
        fetcher: Fetcher,
        variables: Mapping[str, Any],
        outcome: ExecutionOutcome | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._variables = variables
        # Given when the data starts elsewhere (a subscription event).
        self.outcome = outcome if outcome is not None else ExecutionOutcome()

    async def run(self, node: PlanNode) -> None:
        if isinstance(node, Fetch):
            await self._root_fetch(node)
        elif isinstance(node, Flatten):
            await self._entity_fetch(node.node, list(node.paths))
        elif isinstance(node, Sequence):
            for step in node.nodes:
                await self.run(step)
        elif isinstance(node, Condition):
            value = self._variables.get(node.variable, node.default)
            branch = node.if_clause if value else node.else_clause
            if branch is not None:
                await self.run(branch)
        else:
            await self._parallel(node)

    async def _parallel(self, node: Parallel) -> None:
        await asyncio.gather(*(self.run(step) for step in node.nodes))

    def _variables_of(self, fetch: Fetch) -> dict[str, Any]:
        return {n: self._variables[n] for n in fetch.variable_usages if n in self._variables}

    async def _send(
        self,
        fetch: Fetch,
        variables: dict[str, Any],
        paths: Callable[[], list[ResponsePath]],
    ) -> dict[str, Any] | None:
        """The subgraph's response, or None when the request failed (its error is recorded
        at ``paths()``: where the fetch's data was to go)."""
        try:
            return await self._fetcher(
                fetch.service, fetch.operation_text, variables, fetch.operation_name
            )
        except SubgraphRequestError as exc:
            self.outcome.errors.extend(transport_errors(exc.service, exc.reason, paths()))
            return None

    async def _root_fetch(self, fetch: Fetch) -> None:
        response = await self._send(
            fetch, self._variables_of(fetch), lambda: root_response_keys(fetch.operation_text)
        )
        if response is None:
            return
        data = response.get("data")
        if fetch.renames:
            rename_keys(data, fetch.renames)
            response = with_renamed_error_paths(response, fetch.renames)
        if isinstance(data, dict):
            merge_into(self.outcome.data, data)
        self.outcome.errors.extend(root_fetch_error(e) for e in response.get("errors") or ())

    async def _entity_fetch(self, fetch: Fetch, paths: list[tuple[str, ...]]) -> None:
        required = {r.type_name: r for r in fetch.requires}
        representations: list[dict[str, Any]] = []
        # For each representation, every entity object (and its path) it stands for.
        targets: list[list[tuple[ResponsePath, dict[str, Any]]]] = []
        seen: dict[Hashable, int] = {}
        for path in paths:
            for at, entity in collect_entities(self.outcome.data, path):
                requirement = required.get(str(entity.get("__typename")))
                if requirement is None:
                    continue  # another type at this path, not resolved by this fetch
                rep = representation(entity, requirement.fields)
                if rep is None:
                    continue
                if requirement.typename_as is not None:
                    rep["__typename"] = requirement.typename_as
                # Representations of one type have their fields in one order: their values
                # identify them, unless one is a list or object (nested keys).
                key: Hashable
                try:
                    key = tuple(rep.values())
                    index = seen.get(key)
                except TypeError:
                    key = orjson.dumps(rep, option=orjson.OPT_SORT_KEYS)
                    index = seen.get(key)
                if index is None:
                    index = seen[key] = len(representations)
                    representations.append(rep)
                    targets.append([])
                targets[index].append((at, entity))
        if not representations:
            return
        variables = {**self._variables_of(fetch), REPRESENTATIONS: representations}
        response = await self._send(
            fetch, variables, lambda: [at for target in targets for at, _ in target]
        )
        if response is None:
            return
        data = response.get("data")
        entities = data.get("_entities") if isinstance(data, dict) else None
        if fetch.renames:
            rename_keys(entities, fetch.renames)
            response = with_renamed_error_paths(response, fetch.renames)
        if isinstance(entities, list):
            for index, result in enumerate(entities[: len(targets)]):
                if isinstance(result, dict):
                    for _, entity in targets[index]:
                        if result.get("__typename") != entity.get("__typename") and (
                            required[str(entity.get("__typename"))].typename_as is not None
                        ):
                            # Asked as its interface: the object keeps its own type.
                            result = {k: v for k, v in result.items() if k != "__typename"}
                        merge_into(entity, result)
        positions = [[at for at, _ in target] for target in targets]
        for error in response.get("errors") or ():
            self.outcome.errors.extend(entity_fetch_errors(error, positions))


async def execute_plan(
    node: PlanNode | None, fetcher: Fetcher, variables: Mapping[str, Any]
) -> ExecutionOutcome:
    executor = PlanExecutor(fetcher, variables)
    if node is not None:
        await executor.run(node)
    return executor.outcome
