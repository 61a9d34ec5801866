"""One customer per external id, enforced by MongoDB: a unique partial index.

Two imports of the same file at the same time both look an external id up, both miss it, and
both insert: only a unique index turns the second insert into an error (E11000) that the import
maps to an update of the customer the first one stored. Partial (``$type: string``) rather than
sparse, so that the many customers without an external id (stored as null) never collide.
SecantusDB honours it like MongoDB (unique, partial, duplicate key on insert, bulk insert and
update, refusal to build over duplicates): ``benchmarks/secantus_unique_index.py``.

Lookups keep their own plain (sparse) index: a query uses a partial index only when it repeats
the partial filter, which ``{external_id: {$in: [...]}}`` does not (MongoDB), and SecantusDB
never uses a partial index at all (measured: a 500-key ``$in`` over 7,000 documents is a
collection scan of 21 s through the partial index alone).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from crm_common.errors import BadUserInput

log = logging.getLogger(__name__)

INDEX = "external_id_unique"
LOOKUP_INDEX = "external_id"
DUPLICATE_KEY = 11000


async def create_external_id_index(collection: AsyncCollection[dict[str, Any]]) -> None:
    await collection.create_index([("external_id", ASCENDING)], name=LOOKUP_INDEX, sparse=True)
    try:
        await collection.create_index(
            [("external_id", ASCENDING)],
            name=INDEX,
            unique=True,
            partialFilterExpression={"external_id": {"$type": "string"}},
        )
    except OperationFailure as exc:
        if exc.code != DUPLICATE_KEY:
            raise
        # Data written before the index holds duplicates: serve and say loudly what to
        # merge; refusing to start would help no one.
        log.error(
            "external ids are not unique; merge the duplicates, the index is built at the "
            "next start",
            extra={"error": str(exc)[:500]},
        )
        return


def is_duplicate_external_id(details: Mapping[str, Any] | None) -> bool:
    """Whether a duplicate-key error (its ``details`` or a bulk write error) is this index's."""
    if not details or details.get("code") != DUPLICATE_KEY:
        return False
    pattern = details.get("keyPattern")
    if isinstance(pattern, Mapping):
        return "external_id" in pattern
    return INDEX in str(details.get("errmsg", ""))


def duplicate_external_id(external_id: str | None) -> BadUserInput:
    return BadUserInput(
        f"externalId: another customer already has the external id {external_id}",
        field="externalId",
    )
