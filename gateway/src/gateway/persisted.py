"""Persisted operations: Apollo's automatic persisted queries (APQ) and a manifest mode.

APQ (the protocol of Apollo Client's persisted-queries link): a request may carry
``extensions.persistedQuery = {"version": 1, "sha256Hash": h}`` instead of the query. A hash
the gateway does not know is answered ``PERSISTED_QUERY_NOT_FOUND``; the client then sends
the query with the same extension, which registers it. Hash-only requests can go over GET,
so a CDN can cache them.

The manifest mode (a safelist): with ``GATEWAY_PERSISTED_OPERATIONS_PATH`` pointing at a
persisted-query manifest as produced by a client's build (Apollo's
``{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name",
"type", "body"}]}``), only those operations run: by id (``sha256Hash``) or by a query text
equal to one of them. APQ registration is then off.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.lru import LRUCache

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
MANIFEST_FORMAT = "apollo-persisted-query-manifest"


class PersistedQueryError(Exception):
    """``status`` follows Apollo: NOT_FOUND is 200 (the client retries with the query)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ManifestError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Manifest:
    by_id: dict[str, str]
    bodies: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ManifestError(
                f"cannot read the persisted operations manifest {path}: {exc}"
            ) from exc
        if not isinstance(raw, dict) or raw.get("format") != MANIFEST_FORMAT:
            raise ManifestError(f"{path} is no {MANIFEST_FORMAT} (its 'format' field)")
        operations = raw.get("operations")
        if not isinstance(operations, list):
            raise ManifestError(f"{path} has no 'operations' list")
        by_id: dict[str, str] = {}
        for entry in operations:
            if not isinstance(entry, dict) or not isinstance(entry.get("body"), str):
                raise ManifestError(f"{path}: every operation needs a 'body' string")
            body = entry["body"]
            by_id[str(entry.get("id") or sha256_hex(body))] = body
        return cls(by_id, frozenset(by_id.values()))


def _persisted_hash(extensions: dict[str, Any]) -> str | None:
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(
            PERSISTED_QUERY_NOT_SUPPORTED, "only persistedQuery version 1 is supported"
        )
    value = persisted.get("sha256Hash")
    if not isinstance(value, str) or not value:
        raise PersistedQueryError(
            PERSISTED_QUERY_NOT_SUPPORTED, "persistedQuery needs a 'sha256Hash' string"
        )
    return value.lower()


class PersistedOperations:
    """Turns (query text or None, extensions) into the query text to run."""

    def __init__(
        self, *, apq_enabled: bool, cache_size: int, manifest: Manifest | None = None
    ) -> None:
        self.manifest = manifest
        self.apq_enabled = apq_enabled and manifest is None
        self._apq: LRUCache[str, str] = LRUCache(cache_size)

    def resolve(self, query: str | None, extensions: dict[str, Any]) -> str:
        sha = _persisted_hash(extensions)
        if self.manifest is not None:
            return self._from_manifest(query, sha, self.manifest)
        if sha is None:
            if query is None:
                raise PersistedQueryError("BAD_REQUEST", "the request has no 'query' string")
            return query
        if not self.apq_enabled:
            raise PersistedQueryError(
                PERSISTED_QUERY_NOT_SUPPORTED, "persisted queries are not enabled", 200
            )
        if query is None:
            known = self._apq.get(sha)
            if known is None:
                raise PersistedQueryError(
                    PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound", status=200
                )
            return known
        if sha256_hex(query) != sha:
            raise PersistedQueryError(
                PERSISTED_QUERY_HASH_MISMATCH, "the sha256Hash does not match the query"
            )
        self._apq.put(sha, query)
        return query

    @staticmethod
    def _from_manifest(query: str | None, sha: str | None, manifest: Manifest) -> str:
        if sha is not None:
            body = manifest.by_id.get(sha)
            if body is not None and (query is None or query == body):
                return body
        elif query is not None and query in manifest.bodies:
            return query
        raise PersistedQueryError(
            PERSISTED_QUERY_NOT_IN_LIST,
            "only the operations of the persisted operations manifest may run",
        )
