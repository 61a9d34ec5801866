"""Compact snapshots of the API's deal cache: few large documents instead of one per deal.

Why: on a cold start the API needs every deal of a pipeline in memory (``CachedReadModel``).
Reading them from ``opportunities`` costs one document each (on the SecantusDB stand-in about
a millisecond per document, plus the decoding of nested sub-documents); a snapshot holds the
same states, ``CACHED_FIELDS`` only, in a few zlib-compressed JSON chunks of
``CHUNK_DEALS`` deals each, with a string table per chunk (repeated ids, names and amounts are
stored and decoded once, which also keeps the decoded states small in memory).

Collection ``snapshots``: one document per chunk, ``{_id: "<pipeline>/<snapshot>/<n>",
pipelineId, snapshot, index, deals, writtenAt, data}``. The pipeline's document in
``pipelines`` names the current one in ``snapshot``: ``{id, chunks, deals, watermark,
generation, writtenAt}``. ``watermark`` is the ``projectedAt`` up to which the snapshot holds
every write: a reader loads the snapshot, then reads the deals written after the watermark
(the same catch-up as every later refresh), so snapshot + catch-up equals a full read.
``generation`` is the projections' generation (``analytics-rebuild`` raises it); a snapshot of
another generation is ignored.

The codec's contract (tested): ``decode(encode(states))`` equals what
``deal_from_document`` gives for the ``CACHED_FIELDS`` projection of the same states as stored
in MongoDB, including BSON's millisecond precision of datetimes.
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import uuid
import zlib
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bson.binary import Binary
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from analytics.domain.deal import DealState, Stay
from analytics.domain.model import DealStatus, Stage, StageKind

Document = dict[str, Any]

SNAPSHOTS = "snapshots"
#: Deals per chunk document (about 100 bytes each once compressed: far below 16 MiB).
CHUNK_DEALS = 10_000
FORMAT = 3
#: Chunks not named by any pipeline for this long are removed (a writer that lost the race,
#: or a snapshot replaced since); younger ones may still be about to be named.
ORPHAN_AGE = timedelta(minutes=10)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
#: ``None`` among the integers (a time or an order that is not there).
_NONE = -(2**63)
_KINDS = {kind.value: kind for kind in StageKind}
_STATUSES = {status.value: status for status in DealStatus}
_HEADER = struct.Struct(">I")
_DEAL = 19
_STAY = 11


def _millis(moment: datetime | None) -> int:
    # Floor to milliseconds, as BSON stores datetimes: snapshot and collection must agree.
    return _NONE if moment is None else (moment - _EPOCH) // _MS


class _Table:
    """Values stored once per chunk; index 0 is None."""

    def __init__(self) -> None:
        self.values: list[Any] = [None]
        self._index: dict[Any, int] = {}

    def ref(self, value: Any) -> int:
        if value is None:
            return 0
        index = self._index.get(value)
        if index is None:
            index = self._index[value] = len(self.values)
            self.values.append(value)
        return index


def encode(deals: Iterable[DealState]) -> bytes:
    """One chunk: the ``CACHED_FIELDS`` of ``deals``, compressed.

    Layout: the tables (strings, decimal amounts, stages) as JSON, then every number as one
    array of 64-bit integers (read back without parsing: ``array.frombytes``), per deal
    ``_DEAL`` integers (the last one its number of stays), then ``_STAY`` per stay.
    """
    strings, amounts, stages = _Table(), _Table(), _Table()
    s = strings.ref
    ints = array("q")
    for deal in deals:
        stage = deal.stage
        stage_ref = 0
        if stage is not None:
            stage_ref = stages.ref(
                (
                    s(stage.id),
                    s(stage.name),
                    stage.order,
                    s(stage.kind.value),
                    stage.probability,
                    stage.rotting_days,
                )
            )
        amount = None if deal.amount is None else str(deal.amount)
        ints.extend(
            (
                s(deal.opportunity_id),
                s(deal.status.value if deal.status is not None else None),
                stage_ref,
                s(deal.owner_id),
                amounts.ref(amount),
                # Stored as {amount, currency} only when there is an amount.
                s(deal.currency if amount is not None else None),
                s(deal.expected_close_date),
                _millis(deal.created_at),
                _millis(deal.updated_at),
                _millis(deal.closed_at),
                s(deal.closed_by),
                _NONE if deal.max_open_order is None else deal.max_open_order,
                1 if deal.reached_won else 0,
                s(deal.title),
                s(deal.team),
                s(deal.source_channel),
                s(deal.source_campaign),
                s(deal.source_medium),
                len(deal.stays),
            )
        )
        for stay in deal.stays:
            ints.extend(
                (
                    s(stay.stage_id),
                    s(stay.stage_name),
                    stay.order,
                    s(stay.kind.value),
                    _millis(stay.entered_at),
                    _millis(stay.left_at),
                    s(stay.owner_id),
                    amounts.ref(None if stay.amount is None else str(stay.amount)),
                    s(stay.currency),
                    s(stay.next_stage_id),
                    s(stay.next_kind.value if stay.next_kind is not None else None),
                )
            )
    tables = json.dumps(
        {"v": FORMAT, "s": strings.values, "n": amounts.values, "g": stages.values},
        separators=(",", ":"),
    ).encode()
    if sys.byteorder != "little":
        ints.byteswap()
    head = zlib.compress(tables, 1)
    return _HEADER.pack(len(head)) + head + zlib.compress(ints.tobytes(), 1)


def decode(blob: bytes) -> list[DealState]:
    (length,) = _HEADER.unpack_from(blob)
    start = _HEADER.size
    tables = json.loads(zlib.decompress(blob[start : start + length]))
    if tables.get("v") != FORMAT:
        raise ValueError(f"unknown snapshot format {tables.get('v')!r}")
    numbers = array("q")
    numbers.frombytes(zlib.decompress(blob[start + length :]))
    if sys.byteorder != "little":
        numbers.byteswap()
    ints = numbers.tolist()
    # Every distinct value is converted once, then shared by the states that use it (which
    # also keeps the cache small: one string object per id or name, not one per deal).
    strings: list[Any] = tables["s"]
    kinds = [_KINDS.get(value) if isinstance(value, str) else None for value in strings]
    statuses = [_STATUSES.get(value) if isinstance(value, str) else None for value in strings]
    amounts: list[Decimal | None] = [None, *(Decimal(value) for value in tables["n"][1:])]
    stages: list[Stage | None] = [None]
    for stage_id, name, order, kind, probability, rotting in tables["g"][1:]:
        stages.append(
            Stage(
                id=strings[stage_id],
                name=strings[name],
                order=int(order),
                kind=_KINDS[strings[kind]],
                probability=float(probability),
                rotting_days=int(rotting) if rotting is not None else None,
            )
        )
    # Milliseconds to datetimes: exact (a double holds them to well below a microsecond).
    moment = datetime.fromtimestamp
    none = _NONE
    deals: list[DealState] = []
    index, end = 0, len(ints)
    while index < end:
        (
            key,
            status,
            stage_ref,
            owner,
            amount,
            currency,
            expected,
            created,
            updated,
            closed,
            closed_by,
            max_open,
            reached_won,
            title,
            team,
            channel,
            campaign,
            medium,
            count,
        ) = ints[index : index + _DEAL]
        index += _DEAL
        stays: list[Stay] = []
        for _ in range(count):
            (
                stage_id,
                stage_name,
                order,
                kind,
                entered,
                left,
                stay_owner,
                stay_amount,
                stay_currency,
                next_stage,
                next_kind,
            ) = ints[index : index + _STAY]
            index += _STAY
            stays.append(
                Stay(
                    strings[stage_id],
                    strings[stage_name] or "",
                    order,
                    kinds[kind],  # type: ignore[arg-type]  # a stay always has a kind
                    moment(entered / 1000, UTC),
                    None if left == none else moment(left / 1000, UTC),
                    strings[stay_owner],
                    amounts[stay_amount],
                    strings[stay_currency],
                    strings[next_stage],
                    kinds[next_kind],
                )
            )
        deals.append(
            DealState(
                opportunity_id=strings[key],
                owner_id=strings[owner],
                title=strings[title],
                amount=amounts[amount],
                currency=strings[currency],
                status=statuses[status],
                stage=stages[stage_ref],
                created_at=None if created == none else moment(created / 1000, UTC),
                updated_at=None if updated == none else moment(updated / 1000, UTC),
                closed_at=None if closed == none else moment(closed / 1000, UTC),
                closed_by=strings[closed_by],
                expected_close_date=strings[expected],
                team=strings[team],
                source_channel=strings[channel],
                source_campaign=strings[campaign],
                source_medium=strings[medium],
                max_open_order=None if max_open == none else max_open,
                reached_won=bool(reached_won),
                stays=stays,
            )
        )
    return deals


@dataclass(frozen=True, slots=True)
class SnapshotHead:
    """What a pipeline's document says of its current snapshot."""

    id: str
    chunks: int
    deals: int
    watermark: datetime
    generation: int

    @staticmethod
    def of(document: Mapping[str, Any] | None) -> SnapshotHead | None:
        head = (document or {}).get("snapshot")
        if not isinstance(head, Mapping):
            return None
        try:
            return SnapshotHead(
                id=str(head["id"]),
                chunks=int(head["chunks"]),
                deals=int(head["deals"]),
                watermark=head["watermark"],
                generation=int(head.get("generation", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def document(self, written: datetime) -> Document:
        return {
            "id": self.id,
            "chunks": self.chunks,
            "deals": self.deals,
            "watermark": self.watermark,
            "generation": self.generation,
            "writtenAt": written,
        }


class SnapshotWriter:
    """Writes one new snapshot chunk by chunk (``add``), then ``finish`` gives its head, to be
    named by the pipeline's document (``analytics.adapters.deal_cache.name_snapshot``)."""

    def __init__(self, chunks: AsyncCollection[Document], pipeline_id: str) -> None:
        self._chunks = chunks
        self.pipeline_id = pipeline_id
        self.id = uuid.uuid4().hex
        self._written = datetime.now(UTC)
        self._buffer: list[DealState] = []
        self._count = 0
        self._deals = 0

    async def add(self, deal: DealState) -> None:
        self._buffer.append(deal)
        if len(self._buffer) >= CHUNK_DEALS:
            await self._flush()

    async def _flush(self) -> None:
        part, self._buffer = self._buffer, []
        await self._chunks.insert_one(
            {
                "_id": f"{self.pipeline_id}/{self.id}/{self._count}",
                "pipelineId": self.pipeline_id,
                "snapshot": self.id,
                "index": self._count,
                "deals": len(part),
                "writtenAt": self._written,
                "data": Binary(encode(part)),
            }
        )
        self._count += 1
        self._deals += len(part)
        await asyncio.sleep(0)  # encoding is CPU work: let requests in between chunks

    async def finish(self, watermark: datetime, generation: int) -> SnapshotHead:
        if self._buffer:
            await self._flush()
        return SnapshotHead(self.id, self._count, self._deals, watermark, generation)


class SnapshotStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._chunks: AsyncCollection[Document] = db[SNAPSHOTS]

    def writer(self, pipeline_id: str) -> SnapshotWriter:
        return SnapshotWriter(self._chunks, pipeline_id)

    async def write(
        self, pipeline_id: str, deals: list[DealState], watermark: datetime, generation: int
    ) -> SnapshotHead:
        """Write a new snapshot's chunks (not yet named by the pipeline)."""
        writer = self.writer(pipeline_id)
        for deal in deals:
            await writer.add(deal)
        return await writer.finish(watermark, generation)

    async def load(self, pipeline_id: str, head: SnapshotHead) -> list[DealState] | None:
        """The snapshot's states, or None if it is incomplete (being replaced, or removed)."""
        deals: list[DealState] = []
        seen = 0
        cursor = self._chunks.find({"snapshot": head.id, "pipelineId": pipeline_id})
        async for chunk in cursor.sort("index", 1):
            if chunk.get("index") != seen:
                return None
            try:
                deals.extend(decode(bytes(chunk["data"])))
            except ValueError:  # written in an older format: load from the projections
                return None
            seen += 1
            await asyncio.sleep(0)
        if seen != head.chunks or len(deals) != head.deals:
            return None
        return deals

    async def remove_orphans(self, pipeline_id: str, keep: str) -> None:
        await self._chunks.delete_many(
            {
                "pipelineId": pipeline_id,
                "snapshot": {"$ne": keep},
                "writtenAt": {"$lt": datetime.now(UTC) - ORPHAN_AGE},
            }
        )


async def ensure_snapshot_indexes(db: AsyncDatabase[Document]) -> None:
    await db[SNAPSHOTS].create_index([("snapshot", 1), ("index", 1)])
    await db[SNAPSHOTS].create_index([("pipelineId", 1), ("writtenAt", 1)])
