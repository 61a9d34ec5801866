"""Which relay publishes a collection's outbox when several run against one database.

Every API replica runs a relay in its process, and standalone relays may run beside them. Each
document's events must go out in sequence order, which two concurrent publishers cannot keep, so
at most one relay publishes a collection's outbox at a time: the one holding its **lease**, a
document in the ``relay_leases`` collection of the same database,
``{_id: <collection>, holder, expires_at}``.

- A relay takes the lease when it is free or expired, and renews it every third of its
  duration. A relay that dies stops renewing, and another one takes over once it expires
  (``seconds``, 10 by default). A relay that stops cleanly gives the lease back at once.
- The holder trusts its lease only until ``0.8 * seconds`` after the renewal *started* (by its
  own monotonic clock), and checks that before every publish. A paused process that missed
  its renewals therefore stops publishing before any other relay can take the lease. This
  assumes the relays' wall clocks agree to well within that margin (NTP).
- The others publish nothing. Events written through their processes are published by the
  holder's sweep. The others say they are there (``standby_seen_at`` in the lease document,
  every second), and while they are, the holder sweeps every ``CONTESTED_POLL_SECONDS``
  instead of every ``poll_interval``, so such an event waits a fraction of a second.

Losing the lease in the middle of a pass can publish an event twice, never skip one: the same
at-least-once delivery that consumers already absorb (by event id).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

LEASES = "relay_leases"
#: The share of the lease that a holder trusts, measured from when its renewal started.
TRUSTED_SHARE = 0.8
#: How often the holder sweeps while other relays are around (their writes wait for it).
CONTESTED_POLL_SECONDS = 0.25
#: A standby seen this recently counts as present.
STANDBY_SECONDS = 5.0


class LeaseLost(Exception):
    """The relay no longer holds the lease: stop publishing now."""


def relay_identity() -> str:
    """Unique per process and restart; readable in the leases collection (host:pid:random)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RelayLease:
    def __init__(
        self,
        leases: AsyncCollection[dict[str, Any]],
        name: str,
        *,
        seconds: float = 10.0,
        holder: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leases = leases
        self._name = name
        self._seconds = seconds
        self._holder = holder or relay_identity()
        self._monotonic = monotonic
        self._trusted_until = 0.0
        self._renewed_at: float | None = None
        self._contested = False

    @classmethod
    def of(cls, collection: AsyncCollection[dict[str, Any]], seconds: float) -> RelayLease:
        """The lease on ``collection``'s outbox, kept beside it in the same database."""
        return cls(collection.database[LEASES], collection.name, seconds=seconds)

    @property
    def holder(self) -> str:
        return self._holder

    @property
    def renew_every(self) -> float:
        return self._seconds / 3

    @property
    def retry_every(self) -> float:
        """How often a relay without the lease tries for it: often enough that a clean
        hand-over (``release``) takes about a second, whatever the lease's duration."""
        return min(self.renew_every, 1.0)

    @property
    def contested(self) -> bool:
        """Whether other relays were around at the last renewal (they leave their writes'
        events to us)."""
        return self._contested

    def held(self) -> bool:
        """Whether this relay may publish now (by its own clock; no I/O)."""
        return self._monotonic() < self._trusted_until

    def due(self) -> bool:
        """Whether it is time to take or renew the lease."""
        if self._renewed_at is None:
            return True
        every = self.renew_every if self.held() else self.retry_every
        return self._monotonic() - self._renewed_at >= every

    async def acquire_or_renew(self) -> bool:
        """Take the lease if it is free or expired, or renew it if ours; whether we hold it."""
        started = self._monotonic()
        self._renewed_at = started
        now = datetime.now(UTC)
        try:
            lease = await self._leases.find_one_and_update(
                {
                    "_id": self._name,
                    "$or": [{"holder": self._holder}, {"expires_at": {"$lt": now}}],
                },
                {
                    "$set": {
                        "holder": self._holder,
                        "expires_at": now + timedelta(seconds=self._seconds),
                        "renewed_at": now,
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            held = lease is not None and lease.get("holder") == self._holder
        except DuplicateKeyError:
            lease, held = None, False  # someone else holds it: our upsert's insert collided
        self._trusted_until = started + TRUSTED_SHARE * self._seconds if held else 0.0
        if held:
            seen = (lease or {}).get("standby_seen_at")
            if isinstance(seen, datetime) and seen.tzinfo is None:
                seen = seen.replace(tzinfo=UTC)
            self._contested = isinstance(seen, datetime) and (
                (now - seen).total_seconds() < STANDBY_SECONDS
            )
        else:
            self._contested = False
            # Tell the holder we are here: it sweeps up our writes' events more often.
            await self._leases.update_one({"_id": self._name}, {"$set": {"standby_seen_at": now}})
        return held

    async def release(self) -> None:
        """Give the lease back (a clean stop), so another relay takes over at once."""
        self._trusted_until = 0.0
        await self._leases.delete_one({"_id": self._name, "holder": self._holder})
