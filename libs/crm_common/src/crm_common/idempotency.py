"""Retries write once: a mutation sent with an ``Idempotency-Key`` header is run at most once.

A client whose request timed out, or whose connection broke, cannot know whether the write
happened; it sends the same request again with the same key. Each subgraph keeps, per caller
and key, a fingerprint of the request (query, variables, operation name) and the first answer:

- the same key and the same request again: the first answer, replayed (nothing is written;
  the reply carries ``Idempotent-Replayed: true``);
- the same key with another request: ``CONFLICT``, nothing run;
- the same key while the first request is still running: ``CONFLICT`` ("in progress"), so the
  client retries later instead of racing it.

The gateway forwards the header to the subgraph that runs the mutation. An answer that is an
internal error is not kept (the retry runs again); an answer with the caller's errors
(``BAD_USER_INPUT`` ...) is kept like a success. Records expire after ``ttl_seconds``; one
left "in progress" by a killed process may be taken over after ``pending_seconds``.

Queries pass through untouched: reading twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_common.identity import Identity

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 200
COLLECTION = "idempotency_keys"

CollectionGetter = Callable[[], AsyncCollection[dict[str, Any]] | None]


class MongoKeys:
    """The ``idempotency_keys`` collection of a service's database, opened on first use (in
    the event loop that serves the requests)."""

    def __init__(self, url: str, database: str) -> None:
        self._url, self._database = url, database
        self._collection: AsyncCollection[dict[str, Any]] | None = None

    def __call__(self) -> AsyncCollection[dict[str, Any]]:
        if self._collection is None:
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self._url, tz_aware=True)
            self._collection = client[self._database][COLLECTION]
        return self._collection


def fingerprint(body: dict[str, Any]) -> str:
    """What makes two requests the same request."""
    canonical = json.dumps(
        [body.get("query"), body.get("variables") or {}, body.get("operationName")],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_mutation(body: dict[str, Any]) -> bool:
    query = body.get("query")
    if not isinstance(query, str):
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = body.get("operationName")
    chosen = [o for o in operations if name is None or (o.name and o.name.value == name)]
    return any(o.operation is OperationType.MUTATION for o in chosen)


def _error_body(message: str, code: str) -> bytes:
    return json.dumps(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    ).encode()


async def _send_json(send: Send, status: int, body: bytes, replayed: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class IdempotencyMiddleware:
    """ASGI middleware of ``path`` (inside the identity middleware: the caller is known)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        collection: CollectionGetter,
        path: str = "/graphql",
        pending_seconds: float = 120,
        ttl_seconds: int = 24 * 3600,
    ) -> None:
        self.app = app
        self.collection = collection
        self.path = path
        self.pending_seconds = pending_seconds
        self.ttl_seconds = ttl_seconds
        self._indexed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            body = _error_body(
                f"Idempotency-Key: 1-{MAX_KEY_LENGTH} printable characters", "BAD_REQUEST"
            )
            await _send_json(send, 400, body)
            return
        raw, more = await _read_body(receive)
        replay = _replaying(raw, more, receive)
        try:
            request = json.loads(raw)
        except ValueError:
            request = None
        collection = self.collection()
        identity = (scope.get("state") or {}).get("identity")
        if (
            not isinstance(request, dict)
            or not is_mutation(request)
            or collection is None
            or not isinstance(identity, Identity)
        ):
            await self.app(scope, replay, send)
            return
        record_id = hashlib.sha256(f"{identity.user_id}\x00{key}".encode()).hexdigest()
        wanted = fingerprint(request)
        if not self._indexed:
            # Records expire (a TTL index on their last change); a store without TTL indexes
            # keeps them, which only costs space.
            with contextlib.suppress(PyMongoError):
                await collection.create_index("at", expireAfterSeconds=self.ttl_seconds)
            self._indexed = True
        try:
            verdict = await self._claim(collection, record_id, wanted)
        except PyMongoError:
            log.exception("idempotency store unavailable")
            await _send_json(send, 503, _error_body("try again", "SERVICE_UNAVAILABLE"))
            return
        if isinstance(verdict, bytes):
            await _send_json(send, 200, verdict, replayed=True)
            return
        if verdict is not None:
            await _send_json(send, 200, _error_body(verdict, "CONFLICT"))
            return
        await self._run_and_keep(scope, replay, send, collection, record_id)

    def _key(self, scope: Scope) -> str | None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            return None
        for name, value in scope["headers"]:
            if name == HEADER:
                return str(value.decode("latin-1").strip())
        return None

    async def _claim(
        self, collection: AsyncCollection[dict[str, Any]], record_id: str, wanted: str
    ) -> bytes | str | None:
        """None: ours to run; bytes: the first answer; str: why it is refused."""
        for _ in range(3):
            now = datetime.now(UTC)
            try:
                await collection.insert_one(
                    {"_id": record_id, "fingerprint": wanted, "state": "pending", "at": now}
                )
                return None
            except DuplicateKeyError:
                pass
            found = await collection.find_one({"_id": record_id})
            if found is None:
                continue  # removed meanwhile (a failed first run): claim it again
            if found.get("fingerprint") != wanted:
                return "this Idempotency-Key was used with another request"
            if found.get("state") == "done":
                return bytes(found["response"])
            started = found.get("at")
            age = time.time() - started.timestamp() if isinstance(started, datetime) else 0.0
            if age < self.pending_seconds:
                return "a request with this Idempotency-Key is still in progress; retry later"
            taken = await collection.update_one(
                {"_id": record_id, "state": "pending", "at": started}, {"$set": {"at": now}}
            )
            if taken.modified_count:
                return None  # abandoned by a process that died: ours now
        return "a request with this Idempotency-Key is still in progress; retry later"

    async def _run_and_keep(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        collection: AsyncCollection[dict[str, Any]],
        record_id: str,
    ) -> None:
        """Run the request to its end even if the client goes away meanwhile (shielded: a
        write that began finishes and its answer is kept for the retry), then keep the
        answer, or drop the claim when there is no answer worth keeping."""
        status = 500
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            with contextlib.suppress(Exception):  # the client may be gone: keep going
                await send(message)

        async def run_and_keep() -> None:
            kept = False
            try:
                await self.app(scope, receive, capture)
                body = b"".join(chunks)
                if status == 200 and b'"INTERNAL_SERVER_ERROR"' not in body:
                    await collection.update_one(
                        {"_id": record_id},
                        {"$set": {"state": "done", "response": body, "at": datetime.now(UTC)}},
                    )
                    kept = True
            finally:
                if not kept:
                    with contextlib.suppress(PyMongoError):
                        await collection.delete_one({"_id": record_id, "state": "pending"})

        task = asyncio.ensure_future(run_and_keep())
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)
        await asyncio.shield(task)


# Requests whose client left are finished in the background: kept here until done.
_RUNNING: set[asyncio.Future[None]] = set()


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), []


def _replaying(raw: bytes, more: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the rest as it comes."""
    pending: list[Message] = [{"type": "http.request", "body": raw, "more_body": False}, *more]

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
