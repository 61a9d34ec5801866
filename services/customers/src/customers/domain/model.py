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
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import phonenumbers

# A pure syntax check (no DNS), kept in the domain because it is a value-object rule.
from email_validator import EmailNotValidError, validate_email

from crm_common.errors import BadUserInput
from customers.domain.events import (
    CustomerCreated,
    CustomersMerged,
    DomainEvent,
    LifecycleChanged,
)

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
EMAILS_MAX = 20
PHONES_MAX = 20
ADDRESS_FIELD_MAX = 200
REASON_MAX = 500
DEFAULT_PHONE_REGION = "US"


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


def normalise_phone(value: str | None, region: str | None = None) -> str | None:
    """E.164 (``+4930123456``), with `` ext. N`` when an extension was given.

    A number without a country code is read in ``region`` (ISO 3166 alpha-2; the service's
    ``CUSTOMERS_PHONE_REGION``); without a region such a number is refused.
    """
    phone = _clean_text(value, "phone", PHONE_MAX)
    if phone is None:
        return None
    try:
        parsed = phonenumbers.parse(phone, (region or DEFAULT_PHONE_REGION).upper())
    except phonenumbers.NumberParseException as exc:
        raise _invalid("phone", f"{phone!r} is not a phone number ({exc})") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise _invalid("phone", f"{phone!r} is not a possible phone number")
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return f"{canonical} ext. {parsed.extension}" if parsed.extension else canonical


def phone_digits(phone: str) -> str:
    """The digits of a canonical phone (extension excluded), for fragment search."""
    return "".join(ch for ch in phone.split(" ext. ")[0] if ch.isdigit())


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


# Allowed lifecycle moves. Winning a deal jumps LEAD straight to CUSTOMER; a prospect that went
# cold may fall back to LEAD; only a customer can churn, and a churned customer can be won back.
ALLOWED_TRANSITIONS: dict[LifecycleStage, frozenset[LifecycleStage]] = {
    LifecycleStage.LEAD: frozenset({LifecycleStage.PROSPECT, LifecycleStage.CUSTOMER}),
    LifecycleStage.PROSPECT: frozenset({LifecycleStage.LEAD, LifecycleStage.CUSTOMER}),
    LifecycleStage.CUSTOMER: frozenset({LifecycleStage.CHURNED}),
    LifecycleStage.CHURNED: frozenset({LifecycleStage.PROSPECT, LifecycleStage.CUSTOMER}),
}
# Merging keeps the most advanced stage.
_LIFECYCLE_RANK = {
    LifecycleStage.LEAD: 0,
    LifecycleStage.PROSPECT: 1,
    LifecycleStage.CHURNED: 2,
    LifecycleStage.CUSTOMER: 3,
}


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, case-folded."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    """The folded words of a text (letters and digits)."""
    return _WORD.findall(fold(text))


def normalise_emails(values: Iterable[str] | None) -> list[str]:
    emails: list[str] = []
    for raw in values or ():
        email = normalise_email(raw)
        if email is not None and email not in emails:
            emails.append(email)
    if len(emails) > EMAILS_MAX:
        raise _invalid("emails", f"at most {EMAILS_MAX} e-mail addresses")
    return emails


def normalise_phones(values: Iterable[str] | None, region: str | None = None) -> list[str]:
    phones: list[str] = []
    for raw in values or ():
        phone = normalise_phone(raw, region)
        if phone is not None and phone not in phones:
            phones.append(phone)
    if len(phones) > PHONES_MAX:
        raise _invalid("phones", f"at most {PHONES_MAX} phone numbers")
    return phones


def normalise_reason(value: str | None) -> str | None:
    return _clean_text(value, "lifecycleReason", REASON_MAX)


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, upper-cased

    def normalised(self) -> Address | None:
        country = _clean_text(self.country, "address.country", 2)
        if country is not None and not (len(country) == 2 and country.isalpha()):
            raise _invalid("address.country", "must be an ISO 3166-1 alpha-2 code such as DE")
        address = Address(
            street=_clean_text(self.street, "address.street", ADDRESS_FIELD_MAX),
            city=_clean_text(self.city, "address.city", ADDRESS_FIELD_MAX),
            postal_code=_clean_text(self.postal_code, "address.postalCode", 20),
            region=_clean_text(self.region, "address.region", ADDRESS_FIELD_MAX),
            country=None if country is None else country.upper(),
        )
        return None if address == Address() else address


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One audited change: a field, its value before and after (JSON-compatible values)."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class AuditEntry:
    customer_id: str
    version: int
    action: str  # CREATE, UPDATE, LIFECYCLE, MERGE, TRANSFER, IMPORT
    changes: tuple[FieldChange, ...]
    at: datetime
    actor_id: str | None
    actor_name: str | None
    note: str | None = None

    @property
    def id(self) -> str:
        return f"{self.customer_id}:{self.version}"


def _plain(value: object) -> Any:
    """A JSON-compatible rendering of a field value, for the audit trail."""
    if isinstance(value, LeadSource | Address):
        return {
            name: getattr(value, name)
            for name in value.__slots__
            if getattr(value, name) is not None
        }
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


# The fields an update may change, by their GraphQL names; values are raw (not yet normalised).
UPDATABLE = frozenset(
    {
        "name",
        "email",
        "emails",
        "phone",
        "phones",
        "address",
        "source",
        "lifecycle",
        "ownerId",
        "team",
        "tags",
        "attributes",
        "externalId",
    }
)


@dataclass(eq=False)
class Customer:
    """The aggregate root. ``events`` and ``audit`` are the facts not yet stored."""

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
    emails: list[str] = field(default_factory=list)  # every address, the primary first
    phones: list[str] = field(default_factory=list)  # every number, the primary first
    address: Address | None = None
    external_id: str | None = None
    team: str | None = None
    lifecycle_reason: str | None = None
    lifecycle_changed_at: datetime | None = None
    lifecycle_cause: dict[str, Any] | None = None  # what caused the last change (an event)
    merged_ids: list[str] = field(default_factory=list)  # customers merged into this one
    events: list[DomainEvent] = field(default_factory=list, repr=False)
    audit: list[AuditEntry] = field(default_factory=list, repr=False)

    @classmethod
    def create(
        cls,
        *,
        kind: CustomerKind,
        name: str | None,
        owner_id: str,
        email: str | None = None,
        phone: str | None = None,
        emails: Iterable[str] | None = None,
        phones: Iterable[str] | None = None,
        company: Customer | None = None,
        source: LeadSource | None = None,
        lifecycle: LifecycleStage = LifecycleStage.LEAD,
        tags: Iterable[str] | None = None,
        attributes: object = None,
        address: Address | None = None,
        external_id: str | None = None,
        team: str | None = None,
        actor_id: str | None = None,
        actor_name: str | None = None,
        customer_id: str | None = None,
        now: datetime | None = None,
        phone_region: str | None = None,
        action: str = "CREATE",
    ) -> Customer:
        if company is not None and company.kind is not CustomerKind.COMPANY:
            raise _invalid("companyId", f"{company.id} is a {company.kind.value}, not a COMPANY")
        owner = normalise_id(owner_id, "ownerId")
        if owner is None:
            raise _invalid("ownerId", "is required")
        moment = now or utcnow()
        primary_email = normalise_email(email)
        all_emails = normalise_emails(
            [*([primary_email] if primary_email else []), *(emails or ())]
        )
        primary_phone = normalise_phone(phone, phone_region)
        all_phones = normalise_phones(
            [*([primary_phone] if primary_phone else []), *(phones or ())], phone_region
        )
        customer = cls(
            id=customer_id or new_id(),
            kind=CustomerKind(kind),
            name=normalise_name(name),
            email=all_emails[0] if all_emails else None,
            phone=all_phones[0] if all_phones else None,
            company_id=company.id if company is not None else None,
            source=source.normalised() if source is not None else None,
            lifecycle=LifecycleStage(lifecycle),
            owner_id=owner,
            tags=normalise_tags(tags),
            attributes=normalise_attributes(attributes),
            version=1,
            created_at=moment,
            updated_at=moment,
            emails=all_emails,
            phones=all_phones,
            address=address.normalised() if address is not None else None,
            external_id=normalise_id(external_id, "externalId"),
            team=normalise_id(team, "team"),
            lifecycle_changed_at=moment,
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
        customer.audit.append(
            AuditEntry(
                customer_id=customer.id,
                version=1,
                action=action,
                changes=tuple(
                    FieldChange(name, None, value)
                    for name, value in customer.snapshot().items()
                    if value not in (None, [], {})
                ),
                at=moment,
                actor_id=actor_id,
                actor_name=actor_name,
            )
        )
        return customer

    def snapshot(self) -> dict[str, Any]:
        """The audited fields, by GraphQL name, JSON-compatible."""
        return {
            "kind": self.kind.value,
            "name": self.name,
            "email": self.email,
            "emails": list(self.emails),
            "phone": self.phone,
            "phones": list(self.phones),
            "companyId": self.company_id,
            "address": _plain(self.address) if self.address else None,
            "source": _plain(self.source) if self.source else None,
            "lifecycle": self.lifecycle.value,
            "ownerId": self.owner_id,
            "team": self.team,
            "tags": list(self.tags),
            "attributes": self.attributes,
            "externalId": self.external_id,
        }

    # --- changes ---------------------------------------------------------------------------

    def _commit(
        self,
        before: dict[str, Any],
        action: str,
        actor_id: str | None,
        actor_name: str | None,
        now: datetime,
        note: str | None = None,
    ) -> list[FieldChange]:
        after = self.snapshot()
        changes = [
            FieldChange(name, before[name], after[name])
            for name in after
            if before[name] != after[name]
        ]
        if changes:
            self.version += 1
            self.updated_at = now
            self.audit.append(
                AuditEntry(
                    customer_id=self.id,
                    version=self.version,
                    action=action,
                    changes=tuple(changes),
                    at=now,
                    actor_id=actor_id,
                    actor_name=actor_name,
                    note=note,
                )
            )
            # Events carry the version after the change.
            self.events[:] = [
                e if not isinstance(e, LifecycleChanged) or e.version else _with_version(e, self)
                for e in self.events
            ]
        else:
            self.events[:] = [
                e for e in self.events if not isinstance(e, LifecycleChanged) or e.version
            ]
        return changes

    def update(
        self,
        changes: Mapping[str, Any],
        *,
        change_company: bool = False,
        company: Customer | None = None,
        lifecycle_reason: str | None = None,
        actor_id: str | None = None,
        actor_name: str | None = None,
        now: datetime | None = None,
        phone_region: str | None = None,
        action: str = "UPDATE",
    ) -> list[FieldChange]:
        """Applies the given fields (GraphQL names; None clears an optional field) and returns
        what really changed. With ``change_company``, ``company`` becomes its company.
        Validates everything before changing anything."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise _invalid(sorted(unknown)[0], "cannot be changed")
        moment = now or utcnow()
        before = self.snapshot()
        new: dict[str, Any] = {}
        if "name" in changes:
            new["name"] = normalise_name(changes["name"])
        emails = list(self.emails)
        if "emails" in changes:
            emails = normalise_emails(changes["emails"])
        if "email" in changes:
            primary = normalise_email(changes["email"])
            rest = [e for e in emails if e != primary and e != self.email]
            emails = [primary, *rest] if primary else rest
        new["emails"] = normalise_emails(emails)
        phones = list(self.phones)
        if "phones" in changes:
            phones = normalise_phones(changes["phones"], phone_region)
        if "phone" in changes:
            primary_phone = normalise_phone(changes["phone"], phone_region)
            others = [p for p in phones if p != primary_phone and p != self.phone]
            phones = [primary_phone, *others] if primary_phone else others
        new["phones"] = normalise_phones(phones, phone_region)
        if "address" in changes:
            address = changes["address"]
            new["address"] = None if address is None else Address(**address).normalised()
        if "source" in changes:
            source = changes["source"]
            new["source"] = None if source is None else LeadSource(**source).normalised()
        if "tags" in changes:
            new["tags"] = normalise_tags(changes["tags"])
        if "attributes" in changes:
            new["attributes"] = normalise_attributes(changes["attributes"])
        if "externalId" in changes:
            new["external_id"] = normalise_id(changes["externalId"], "externalId")
        if "ownerId" in changes:
            owner = normalise_id(changes["ownerId"], "ownerId")
            if owner is None:
                raise _invalid("ownerId", "is required")
            new["owner_id"] = owner
        if "team" in changes:
            new["team"] = normalise_id(changes["team"], "team")
        if change_company and company is not None and company.kind is not CustomerKind.COMPANY:
            raise _invalid("companyId", f"{company.id} is a {company.kind.value}, not a COMPANY")
        if change_company and company is not None and company.id == self.id:
            raise _invalid("companyId", "a company cannot be its own company")
        target_stage = None
        if "lifecycle" in changes and changes["lifecycle"] is not None:
            target_stage = LifecycleStage(changes["lifecycle"])
            self.check_transition(target_stage)
        reason = normalise_reason(lifecycle_reason)
        if target_stage is LifecycleStage.CHURNED and target_stage != self.lifecycle and not reason:
            raise _invalid("lifecycleReason", "is required when a customer churns")
        # Everything is valid: apply.
        for name, value in new.items():
            setattr(self, name, value)
        self.email = self.emails[0] if self.emails else None
        self.phone = self.phones[0] if self.phones else None
        if change_company:
            self.company_id = None if company is None else company.id
        if target_stage is not None and target_stage != self.lifecycle:
            self._set_lifecycle(target_stage, reason, None, actor_id, actor_name, moment)
        return self._commit(before, action, actor_id, actor_name, moment)

    def check_transition(self, target: LifecycleStage) -> None:
        if target != self.lifecycle and target not in ALLOWED_TRANSITIONS[self.lifecycle]:
            allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[self.lifecycle]))
            raise _invalid(
                "lifecycle",
                f"{self.lifecycle.value} cannot become {target.value} (allowed: {allowed})",
            )

    def _set_lifecycle(
        self,
        target: LifecycleStage,
        reason: str | None,
        cause: dict[str, Any] | None,
        actor_id: str | None,
        actor_name: str | None,
        now: datetime,
    ) -> None:
        previous = self.lifecycle
        self.lifecycle = target
        self.lifecycle_reason = reason
        self.lifecycle_changed_at = now
        self.lifecycle_cause = cause
        self.events.append(
            LifecycleChanged(
                customer_id=self.id,
                from_stage=previous.value,
                to_stage=target.value,
                reason=reason,
                cause=cause,
                version=0,  # set by _commit to the version after the change
                occurred_at=now,
                actor_id=actor_id,
                actor_name=actor_name,
            )
        )

    def advance_lifecycle(
        self,
        target: LifecycleStage,
        *,
        reason: str,
        cause: dict[str, Any],
        actor_id: str | None = None,
        actor_name: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """A change caused by another service (a won deal): applied only if allowed and
        forward; returns whether anything changed."""
        if target == self.lifecycle or target not in ALLOWED_TRANSITIONS[self.lifecycle]:
            return False
        if _LIFECYCLE_RANK[target] <= _LIFECYCLE_RANK[self.lifecycle]:
            return False
        moment = now or utcnow()
        before = self.snapshot()
        self._set_lifecycle(target, reason, cause, actor_id, actor_name, moment)
        self._commit(before, "LIFECYCLE", actor_id, actor_name, moment, note=reason)
        return True

    def absorb(
        self,
        others: list[Customer],
        *,
        actor_id: str | None = None,
        actor_name: str | None = None,
        now: datetime | None = None,
    ) -> list[FieldChange]:
        """Merges ``others`` into this customer: every e-mail, phone, tag and attribute is
        kept (on an attribute conflict this customer's value wins and the other value is kept
        under ``mergedAttributes.<id>``); empty fields are filled from the others; the most
        advanced lifecycle wins. Limits on counts and sizes do not apply: nothing is dropped."""
        moment = now or utcnow()
        before = self.snapshot()
        for other in others:
            if other.id == self.id:
                raise _invalid("sourceIds", "the target cannot be merged into itself")
            self.emails += [e for e in other.emails if e not in self.emails]
            self.phones += [p for p in other.phones if p not in self.phones]
            seen = {t.casefold() for t in self.tags}
            self.tags += [t for t in other.tags if t.casefold() not in seen]
            attributes = dict(self.attributes or {})
            conflicts: dict[str, Any] = {}
            for key, value in (other.attributes or {}).items():
                if key not in attributes:
                    attributes[key] = value
                elif attributes[key] != value:
                    conflicts[key] = value
            if other.name != self.name:
                conflicts.setdefault("name", other.name)
            if other.external_id and self.external_id and other.external_id != self.external_id:
                conflicts.setdefault("externalId", other.external_id)
            if conflicts:
                merged = dict(attributes.get("mergedAttributes") or {})
                merged[other.id] = conflicts
                attributes["mergedAttributes"] = merged
            self.attributes = attributes or None
            self.address = self.address or other.address
            self.source = self.source or other.source
            self.company_id = self.company_id or other.company_id
            self.external_id = self.external_id or other.external_id
            self.team = self.team or other.team
            if _LIFECYCLE_RANK[other.lifecycle] > _LIFECYCLE_RANK[self.lifecycle]:
                self.lifecycle = other.lifecycle
                self.lifecycle_reason = f"merged from {other.id}"
            for merged_id in (other.id, *other.merged_ids):
                if merged_id not in self.merged_ids:
                    self.merged_ids.append(merged_id)
        if self.company_id in self.merged_ids or self.company_id == self.id:
            self.company_id = None
        self.email = self.emails[0] if self.emails else None
        self.phone = self.phones[0] if self.phones else None
        changes = self._commit(
            before,
            "MERGE",
            actor_id,
            actor_name,
            moment,
            note="merged " + ", ".join(o.id for o in others),
        )
        if not changes:  # nothing new to keep: still a new version, the merge is a fact
            self.version += 1
            self.updated_at = moment
            self.audit.append(
                AuditEntry(
                    self.id,
                    self.version,
                    "MERGE",
                    (),
                    moment,
                    actor_id,
                    actor_name,
                    note="merged " + ", ".join(o.id for o in others),
                )
            )
        self.events.append(
            CustomersMerged(
                survivor_id=self.id,
                merged_ids=tuple(o.id for o in others),
                version=self.version,
                occurred_at=moment,
                actor_id=actor_id,
                actor_name=actor_name,
            )
        )
        return changes


def _with_version(event: LifecycleChanged, customer: Customer) -> LifecycleChanged:
    return LifecycleChanged(
        customer_id=event.customer_id,
        from_stage=event.from_stage,
        to_stage=event.to_stage,
        reason=event.reason,
        cause=event.cause,
        version=customer.version,
        occurred_at=event.occurred_at,
        actor_id=event.actor_id,
        actor_name=event.actor_name,
    )


INTERACTION_SUMMARY_MAX = 2000


@dataclass(frozen=True, slots=True)
class Interaction:
    """One entry of a customer's timeline."""

    id: str
    customer_id: str
    kind: InteractionKind
    occurred_at: datetime
    recorded_at: datetime
    summary: str
    details: dict[str, Any] | None
    actor_id: str | None
    actor_name: str | None
    opportunity_id: str | None = None
    merged_from: str | None = None

    @classmethod
    def log(
        cls,
        *,
        customer_id: str,
        kind: InteractionKind,
        summary: str | None,
        details: object = None,
        occurred_at: datetime | None = None,
        actor_id: str | None = None,
        actor_name: str | None = None,
        opportunity_id: str | None = None,
        interaction_id: str | None = None,
        now: datetime | None = None,
    ) -> Interaction:
        moment = now or utcnow()
        text = _clean_multiline(summary, "summary", INTERACTION_SUMMARY_MAX)
        if text is None:
            raise _invalid("summary", "is required and must not be blank")
        when = occurred_at or moment
        if when.tzinfo is None:
            raise _invalid("occurredAt", "must carry a time zone")
        when = when.astimezone(UTC)
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)
        return cls(
            id=interaction_id or new_id(),
            customer_id=customer_id,
            kind=InteractionKind(kind),
            occurred_at=when,
            recorded_at=moment,
            summary=text,
            details=normalise_attributes(details),
            actor_id=actor_id,
            actor_name=actor_name,
            opportunity_id=opportunity_id,
        )


_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean_multiline(value: str | None, field_name: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > max_length:
        raise _invalid(field_name, f"at most {max_length} characters (got {len(text)})")
    if _CONTROL_EXCEPT_NEWLINES.search(text):
        raise _invalid(field_name, "must not contain control characters")
    return text


def search_tokens(customer: Customer) -> list[str]:
    """What ``search`` matches by prefix: the folded words of the name, every e-mail (whole,
    local part, domain and its labels) and every phone (international and national digits)."""
    tokens: list[str] = list(words(customer.name))
    for email in customer.emails:
        local, _, domain = email.partition("@")
        tokens += [email, local, domain, *domain.split(".")]
    for phone in customer.phones:
        digits = phone_digits(phone)
        tokens.append(digits)
        try:
            parsed = phonenumbers.parse(phone.split(" ext. ")[0], None)
            tokens.append(str(parsed.national_number))
            national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
            tokens.append("".join(ch for ch in national if ch.isdigit()))  # with a trunk 0
        except phonenumbers.NumberParseException:
            pass
    if customer.external_id:
        tokens.append(fold(customer.external_id))
    return list(dict.fromkeys(token for token in tokens if token))


def name_similarity(a: str, b: str) -> float:
    """0..1: how alike two names are once folded (word-set and character based)."""
    from difflib import SequenceMatcher

    words_a, words_b = set(words(a)), set(words(b))
    if not words_a or not words_b:
        return 0.0
    jaccard = len(words_a & words_b) / len(words_a | words_b)
    ratio = SequenceMatcher(None, " ".join(sorted(words_a)), " ".join(sorted(words_b))).ratio()
    return max(jaccard, ratio)
