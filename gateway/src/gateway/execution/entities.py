"""Walking merged response data: finding the entities at a plan path, building their
representations, and merging subgraph results into them in place."""

from __future__ import annotations

from typing import Any, TypeAlias

from gateway.planning.plan import LIST_STEP, FragmentRequirement, KeyRename, Requirement

ResponsePath: TypeAlias = list[str | int]


def collect_entities(data: Any, path: tuple[str, ...]) -> list[tuple[ResponsePath, dict[str, Any]]]:
    """Every object at ``path`` (``"@"`` steps into each list item), with its response path.

    Nulls and missing values are skipped: an entity that is not there needs no fetch.
    """
    found: list[tuple[ResponsePath, dict[str, Any]]] = []

    def walk(value: Any, depth: int, at: ResponsePath) -> None:
        if value is None:
            return
        if depth == len(path):
            if isinstance(value, dict):
                found.append((at, value))
            return
        step = path[depth]
        if step == LIST_STEP:
            if isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, depth + 1, [*at, index])
        elif isinstance(value, dict):
            walk(value.get(step), depth + 1, [*at, step])

    walk(data, 0, [])
    return found


def representation(
    entity: dict[str, Any], fields: tuple[Requirement, ...]
) -> dict[str, Any] | None:
    """The entity projected on the required fields; None if one of them was not fetched
    (e.g. the parent fetch failed), since a subgraph cannot resolve half a key. Fields of a
    fragment are carried only when the object's ``__typename`` is one of its types."""
    projected: dict[str, Any] = {}
    for field in fields:
        if isinstance(field, FragmentRequirement):
            if entity.get("__typename") in field.possible_types:
                nested = representation(entity, field.selections)
                if nested is None:
                    return None
                projected.update(nested)
            continue
        key = field.alias or field.name
        if key not in entity:
            return None
        value = entity[key]
        if field.selections and value is not None:
            value = _project_nested(value, field.selections)
            if value is None:
                return None
        projected[field.name] = value
    return projected


def _project_nested(value: Any, fields: tuple[Requirement, ...]) -> Any:
    if isinstance(value, list):
        items: list[Any] = []
        for item in value:
            projected = _project_nested(item, fields) if item is not None else None
            if item is not None and projected is None:
                return None
            items.append(projected)
        return items
    if isinstance(value, dict):
        return representation(value, fields)
    return None


def merge_into(target: dict[str, Any], source: dict[str, Any]) -> None:
    """Deep-merge a subgraph's result into the response data, in place."""
    for key, value in source.items():
        if key in target:
            target[key] = _merged(target[key], value)
        else:
            target[key] = value


def _merged(current: Any, value: Any) -> Any:
    if isinstance(current, dict) and isinstance(value, dict):
        merge_into(current, value)
        return current
    if isinstance(current, list) and isinstance(value, list) and len(current) == len(value):
        for index, item in enumerate(value):
            current[index] = _merged(current[index], item)
        return current
    return value


def rename_keys(result: Any, renames: tuple[KeyRename, ...]) -> None:
    """Undo the aliases the planner gave to conflicting fields (planning/merging.py) in one
    subgraph result, in place."""
    for rename in renames:
        _rename(result, rename.path, rename.alias, rename.response_key)


def _rename(value: Any, path: tuple[str, ...], alias: str, key: str) -> None:
    if isinstance(value, list):
        for item in value:
            _rename(item, path, alias, key)
    elif isinstance(value, dict):
        if path:
            _rename(value.get(path[0]), path[1:], alias, key)
        elif alias in value:
            value[key] = value.pop(alias)


def with_renamed_error_paths(
    response: dict[str, Any], renames: tuple[KeyRename, ...]
) -> dict[str, Any]:
    """The response with the gateway's aliases in its error paths named as the client
    selects them (the aliases are the gateway's own, so no client key is taken for one)."""
    errors = response.get("errors")
    if not errors:
        return response
    names = {r.alias: r.response_key for r in renames}
    renamed = []
    for error in errors:
        path = error.get("path") if isinstance(error, dict) else None
        if isinstance(path, list) and any(step in names for step in path):
            error = {**error, "path": [names.get(step, step) for step in path]}
        renamed.append(error)
    return {**response, "errors": renamed}
