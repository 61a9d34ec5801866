"""The CloudEvents 1.0 envelope that every event of the suite travels in.

Structured JSON mode (``application/cloudevents+json``): the whole envelope is the message
body, and the routing key on the topic exchange ``crm.events`` is the CloudEvent ``type``.
Extension attributes: ``sequence`` (per aggregate, for ordering and gap detection),
``actorid`` / ``actorname`` (who caused it) and ``traceparent`` (W3C trace context).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EXCHANGE = "crm.events"
CONTENT_TYPE = "application/cloudevents+json"
SPEC_VERSION = "1.0"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, millisecond precision (what MongoDB keeps)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: str = SPEC_VERSION
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: str
    subject: str = Field(min_length=1)
    datacontenttype: str = "application/json"
    sequence: int = Field(ge=1)
    actorid: str | None = None
    actorname: str | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    def to_json(self) -> bytes:
        return json.dumps(self.model_dump(exclude_none=True), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes) -> CloudEvent:
        return cls.model_validate_json(body)


def new_event(
    *,
    source: str,
    type: str,
    subject: str,
    sequence: int,
    data: dict[str, Any],
    actor_id: str | None = None,
    actor_name: str | None = None,
    traceparent: str | None = None,
    at: datetime | None = None,
) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=source,
        type=type,
        time=iso(at or utcnow()),
        subject=subject,
        sequence=sequence,
        actorid=actor_id,
        actorname=actor_name,
        traceparent=traceparent,
        data=data,
    )
