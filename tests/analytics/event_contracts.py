"""Validates events against the message payload schemas of contracts/asyncapi.yaml (envelope
and per-type ``data``, resolved through the $refs as written), as tests/pipeline and
tests/customers do for the events of their services."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def _load(uri: str) -> Resource[Any]:
    path = CONTRACTS / uri.removeprefix("file://contracts/")
    return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7)


def validators() -> dict[str, Draft7Validator]:
    asyncapi = yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text())
    registry: Registry[Any] = Registry(retrieve=_load)  # type: ignore[call-arg]
    found: dict[str, Draft7Validator] = {}
    for message in asyncapi["components"]["messages"].values():
        schema = {"$id": "file://contracts/asyncapi.yaml", **message["payload"]["schema"]}
        found[message["name"]] = Draft7Validator(
            schema, registry=registry, format_checker=FormatChecker()
        )
    return found


def problems(event: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``event`` according to its type's contract (empty: it matches)."""
    validator = validators().get(str(event.get("type")))
    if validator is None:
        return [f"no contract for event type {event.get('type')!r}"]
    errors = sorted(validator.iter_errors(event), key=lambda e: list(e.path))
    return [f"{list(e.path)}: {e.message}" for e in errors]
