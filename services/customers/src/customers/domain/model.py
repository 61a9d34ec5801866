"""The customer aggregate and its value objects, with every rule on what may be stored.

Every factory and normaliser raises ``BadUserInput`` (with the offending ``field`` in its
details) before anything is written, so a rejected command leaves no trace.

``contacts`` are not stored on the company: a person belongs to a company through its
``company_id``, and a company's contacts are the people that point at it. One fact, one
place, and no two-document update when someone changes employer.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# A pure syntax check (no DNS), kept in the domain because it is a value-object rule.
from email_validator import EmailNotValidError, validate_email

from crm_common.errors import BadUserInput
from customers.domain.events import CustomerCreated, DomainEvent

NAME_MAX = 200
EMAIL_MAX = 254
PHONE_MAX = 40
SOURCE_FIELD_MAX = 200
ID_MAX = 128
TAG_MAX = 50
TAGS_MAX = 50
ATTRIBUTES_MAX_BYTES = 16 * 1024
ATTRIBUTES_MAX_DEPTH = 5
ATTRIBUTE_KEY_MAX = 100

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PHONE = re.compile(r"^\+?[0-9 ()./-]+(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)


class CustomerKind(StrEnum):
    PERSON = "PERSON"
    COMPANY = "COMPANY"


class LifecycleStage(StrEnum):
    LEAD = "LEAD"
    PROSPECT = "PROSPECT"
    CUSTOMER = "CUSTOMER"
    CHURNED = "CHURNED"


class InteractionKind(StrEnum):
    CALL = "CALL"
    EMAIL = "EMAIL"
    MEETING = "MEETING"
    NOTE = "NOTE"
    MATERIAL_VIEWED = "MATERIAL_VIEWED"
    PURCHASE = "PURCHASE"
    SERVICE_TICKET = "SERVICE_TICKET"
    QUOTE = "QUOTE"
    STAGE_CHANGE = "STAGE_CHANGE"
    LIFECYCLE_CHANGE = "LIFECYCLE_CHANGE"


def utcnow() -> datetime:
    """Now in UTC, truncated to the millisecond that MongoDB keeps (so reads equal writes)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


def _invalid(field_name: str, problem: str) -> BadUserInput:
    return BadUserInput(f"{field_name}: {problem}", field=field_name)


def _clean_text(value: str | None, field_name: str, max_length: int) -> str | None:
    """Strips; blank becomes None; refuses control characters and overlong text."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > max_length:
        raise _invalid(field_name, f"at most {max_length} characters (got {len(text)})")
    if _CONTROL.search(text):
        raise _invalid(field_name, "must not contain control characters")
    return text


def normalise_name(value: str | None) -> str:
    name = _clean_text(value, "name", NAME_MAX)
    if name is None:
        raise _invalid("name", "is required and must not be blank")
    return name


def normalise_email(value: str | None) -> str | None:
    """A syntactically valid address, lower-cased (None when absent or blank)."""
    text = _clean_text(value, "email", EMAIL_MAX)
    if text is None:
        return None
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise _invalid("email", f"{text!r} is not a valid e-mail address ({exc})") from exc
    return result.normalized.lower()


def normalise_phone(value: str | None) -> str | None:
    phone = _clean_text(value, "phone", PHONE_MAX)
    if phone is None:
        return None
    digits = sum(ch.isdigit() for ch in phone)
    if not _PHONE.match(phone) or digits < 3:
        raise _invalid(
            "phone", f"{phone!r} is not a phone number (digits, spaces, + ( ) . / - and x<ext>)"
        )
    return phone


def normalise_id(value: str | None, field_name: str) -> str | None:
    return _clean_text(value, field_name, ID_MAX)


def normalise_tags(values: Iterable[str] | None) -> list[str]:
    """Trimmed, blank ones dropped, duplicates (case-insensitive) dropped, order kept."""
    tags: list[str] = []
    seen: set[str] = set()
    for raw in values or ():
        tag = _clean_text(raw, "tags", TAG_MAX)
        if tag is None or tag.casefold() in seen:
            continue
        seen.add(tag.casefold())
        tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise _invalid("tags", f"at most {TAGS_MAX} tags (got {len(tags)})")
    return tags


def _check_json(value: object, depth: int, path: str) -> None:
    """Walks the value (bounded by the depth limit, so no deep recursion) and checks types."""
    if isinstance(value, Mapping):
        depth += 1
        if depth > ATTRIBUTES_MAX_DEPTH:
            raise _invalid("attributes", f"nested deeper than {ATTRIBUTES_MAX_DEPTH} at {path}")
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise _invalid("attributes", f"keys must be non-empty strings at {path}")
            if len(key) > ATTRIBUTE_KEY_MAX:
                raise _invalid("attributes", f"key longer than {ATTRIBUTE_KEY_MAX} at {path}")
            if key.startswith("$") or "." in key or "\x00" in key:
                raise _invalid(
                    "attributes", f"key {key[:40]!r} at {path} must not start with $ or hold . "
                )
            _check_json(item, depth, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        depth += 1
        if depth > ATTRIBUTES_MAX_DEPTH:
            raise _invalid("attributes", f"nested deeper than {ATTRIBUTES_MAX_DEPTH} at {path}")
        for index, item in enumerate(value):
            _check_json(item, depth, f"{path}[{index}]")
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _invalid("attributes", f"integer out of the 64-bit range at {path}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid("attributes", f"numbers must be finite at {path}")
    else:
        raise _invalid("attributes", f"unsupported value of type {type(value).__name__} at {path}")


def normalise_attributes(value: object) -> dict[str, Any] | None:
    """A JSON object of at most 16 KiB (compact UTF-8) nested at most 5 levels, or None."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _invalid("attributes", "must be a JSON object")
    _check_json(value, 0, "$")
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    if len(encoded) > ATTRIBUTES_MAX_BYTES:
        raise _invalid(
            "attributes", f"at most {ATTRIBUTES_MAX_BYTES} bytes as JSON (got {len(encoded)})"
        )
    copy: dict[str, Any] = json.loads(encoded)  # a private copy the caller cannot mutate
    return copy


@dataclass(frozen=True, slots=True)
class LeadSource:
    """Where the customer came from."""

    channel: str | None = None
    campaign: str | None = None
    medium: str | None = None
    referrer: str | None = None

    def normalised(self) -> LeadSource | None:
        """Trimmed and length-checked; None when nothing is known."""
        source = LeadSource(
            channel=_clean_text(self.channel, "source.channel", SOURCE_FIELD_MAX),
            campaign=_clean_text(self.campaign, "source.campaign", SOURCE_FIELD_MAX),
            medium=_clean_text(self.medium, "source.medium", SOURCE_FIELD_MAX),
            referrer=_clean_text(self.referrer, "source.referrer", SOURCE_FIELD_MAX),
        )
        return None if source == LeadSource() else source


@dataclass(eq=False)
class Customer:
    """The aggregate root. ``events`` are the facts not yet handed to the outbox."""

    id: str
    kind: CustomerKind
    name: str
    email: str | None
    phone: str | None
    company_id: str | None
    source: LeadSource | None
    lifecycle: LifecycleStage
    owner_id: str
    tags: list[str]
    attributes: dict[str, Any] | None
    version: int
    created_at: datetime
    updated_at: datetime
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def create(
        cls,
        *,
        kind: CustomerKind,
        name: str | None,
        owner_id: str,
        email: str | None = None,
        phone: str | None = None,
        company: Customer | None = None,
        source: LeadSource | None = None,
        lifecycle: LifecycleStage = LifecycleStage.LEAD,
        tags: Iterable[str] | None = None,
        attributes: object = None,
        actor_id: str | None = None,
        actor_name: str | None = None,
        customer_id: str | None = None,
        now: datetime | None = None,
    ) -> Customer:
        if company is not None and company.kind is not CustomerKind.COMPANY:
            raise _invalid("companyId", f"{company.id} is a {company.kind.value}, not a COMPANY")
        owner = normalise_id(owner_id, "ownerId")
        if owner is None:
            raise _invalid("ownerId", "is required")
        moment = now or utcnow()
        customer = cls(
            id=customer_id or new_id(),
            kind=CustomerKind(kind),
            name=normalise_name(name),
            email=normalise_email(email),
            phone=normalise_phone(phone),
            company_id=company.id if company is not None else None,
            source=source.normalised() if source is not None else None,
            lifecycle=LifecycleStage(lifecycle),
            owner_id=owner,
            tags=normalise_tags(tags),
            attributes=normalise_attributes(attributes),
            version=1,
            created_at=moment,
            updated_at=moment,
        )
        customer.events.append(
            CustomerCreated(
                customer_id=customer.id,
                name=customer.name,
                kind=customer.kind.value,
                owner_id=customer.owner_id,
                lifecycle=customer.lifecycle.value,
                version=customer.version,
                occurred_at=moment,
                actor_id=actor_id,
                actor_name=actor_name,
            )
        )
        return customer
