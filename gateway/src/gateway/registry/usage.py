"""What operations clients really send: each operation's signature and the schema
coordinates it uses, recorded by the gateway and flushed to the registry in batches.

Coordinates: ``Type.field`` for every field selected, the ``Type`` each field returns, and
the input types, enums and arguments (``Type.field(arg:)``) it passes. ``crm-graph check``
compares a change with them: a field removed that no operation used in the last N days
breaks nobody.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from graphql import (
    ArgumentNode,
    FieldNode,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    visit,
)

from gateway.engine import PreparedOperation
from gateway.lru import LRUCache
from gateway.settings import Settings
from gateway.supergraph import Supergraph

log = logging.getLogger(__name__)


class _Coordinates(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.used: set[str] = set()

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.type_info.get_parent_type()
        name = node.name.value
        if parent is None or name.startswith("__"):
            return
        self.used.add(f"{parent.name}.{name}")
        returned = self.type_info.get_type()
        if returned is not None:
            self.used.add(get_named_type(returned).name)

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        parent = self.type_info.get_parent_type()
        field = self.type_info.get_field_def()
        argument = self.type_info.get_argument()
        if parent is None or field is None or argument is None:
            return
        self.used.add(f"{parent.name}.{self._field_name()}({node.name.value}:)")
        self.used.add(get_named_type(argument.type).name)

    def _field_name(self) -> str:
        # TypeInfo keeps no name of the field whose arguments are visited: find it by identity.
        parent = self.type_info.get_parent_type()
        field = self.type_info.get_field_def()
        for name, candidate in getattr(parent, "fields", {}).items():
            if candidate is field:
                return str(name)
        return "?"


def coordinates(schema: GraphQLSchema, prepared: PreparedOperation) -> frozenset[str]:
    type_info = TypeInfo(schema)
    collector = _Coordinates(type_info)
    visit(prepared.document, TypeInfoVisitor(type_info, collector))
    return frozenset(collector.used)


def signature(prepared: PreparedOperation) -> str:
    return hashlib.sha256(f"{prepared.operation_name or ''}\n{prepared.text}".encode()).hexdigest()


class UsageRecorder:
    """In memory per operation; ``run`` flushes to the registry every few seconds."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._known: LRUCache[tuple[str, str | None], tuple[str, frozenset[str]]] = LRUCache(2000)
        self._pending: dict[str, dict[str, Any]] = {}
        self._store: Any = None

    def record(self, supergraph: Supergraph, prepared: PreparedOperation) -> None:
        key = (prepared.text, prepared.operation_name)
        known = self._known.get(key)
        if known is None:
            known = (signature(prepared), coordinates(supergraph.api_schema, prepared))
            self._known.put(key, known)
        sig, fields = known
        entry = self._pending.get(sig)
        if entry is None:
            name = prepared.operation.name.value if prepared.operation.name else None
            self._pending[sig] = {
                "signature": sig,
                "name": name,
                "type": prepared.kind,
                "fields": fields,
                "count": 1,
            }
        else:
            entry["count"] += 1

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = list(self._pending.values()), {}
        try:
            await asyncio.to_thread(self._write, batch)
        except Exception as exc:
            log.warning("cannot record operation usage in the registry", extra={"error": str(exc)})

    def _write(self, batch: list[dict[str, Any]]) -> None:
        from gateway.registry.store import RegistryStore

        if self._store is None:
            self._store = RegistryStore(
                self.settings.registry_mongodb_url, self.settings.registry_database
            )
        self._store.record_operations(batch)

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.settings.usage_flush_seconds)
                await self.flush()
        finally:
            await self.flush()  # what was recorded since the last flush
            if self._store is not None:
                self._store.close()
                self._store = None
