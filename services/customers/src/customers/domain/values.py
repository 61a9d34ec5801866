"""The values a customer is made of, with every rule on what may be stored.

Every normaliser and factory raises ``InvalidValue`` (naming the offending ``field``) before
anything is written, so a rejected command leaves no trace.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers

# A pure syntax check (no DNS), kept in the domain because it is a value-object rule.
from email_validator import EmailNotValidError, validate_email

from crm_common.errors import RuleViolation
from crm_common.text import check_no_control, identifier
from customers.domain.errors import InvalidValue

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
EMAILS_MAX = 20
PHONES_MAX = 20
ADDRESS_FIELD_MAX = 200
REASON_MAX = 500
DEFAULT_PHONE_REGION = "US"


def utcnow() -> datetime:
    """Now in UTC, truncated to the millisecond that MongoDB keeps (so reads equal writes)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


def invalid_value(field_name: str, problem: str) -> InvalidValue:
    return InvalidValue(f"{field_name}: {problem}", field=field_name)


def clean_text(value: str | None, field_name: str, max_length: int) -> str | None:
    """Strips; blank becomes None; refuses control characters and overlong text."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > max_length:
        raise invalid_value(field_name, f"at most {max_length} characters (got {len(text)})")
    _no_control(text, field_name, lines=False)
    return text


def _no_control(text: str, field_name: str, *, lines: bool) -> None:
    """The suite's one rule (crm_common.text): what crosses to the pipeline is checked alike."""
    try:
        check_no_control(text, field_name, lines=lines)
    except RuleViolation:
        raise invalid_value(field_name, "must not contain control characters") from None


def normalise_name(value: str | None) -> str:
    name = clean_text(value, "name", NAME_MAX)
    if name is None:
        raise invalid_value("name", "is required and must not be blank")
    return name


def normalise_email(value: str | None) -> str | None:
    """A syntactically valid address, lower-cased (None when absent or blank)."""
    text = clean_text(value, "email", EMAIL_MAX)
    if text is None:
        return None
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise invalid_value("email", f"{text!r} is not a valid e-mail address ({exc})") from exc
    return result.normalized.lower()


def normalise_phone(value: str | None, region: str | None = None) -> str | None:
    """E.164 (``+4930123456``), with `` ext. N`` when an extension was given.

    A number without a country code is read in ``region`` (ISO 3166 alpha-2; the service's
    ``CUSTOMERS_PHONE_REGION``); without a region such a number is refused.
    """
    phone = clean_text(value, "phone", PHONE_MAX)
    if phone is None:
        return None
    try:
        parsed = phonenumbers.parse(phone, (region or DEFAULT_PHONE_REGION).upper())
    except phonenumbers.NumberParseException as exc:
        raise invalid_value("phone", f"{phone!r} is not a phone number ({exc})") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise invalid_value("phone", f"{phone!r} is not a possible phone number")
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return f"{canonical} ext. {parsed.extension}" if parsed.extension else canonical


def phone_digits(phone: str) -> str:
    """The digits of a canonical phone (extension excluded), for fragment search."""
    return "".join(ch for ch in phone.split(" ext. ")[0] if ch.isdigit())


def normalise_id(value: str | None, field_name: str) -> str | None:
    """An id. Owners and teams travel in the events to the pipeline, which stores them: they
    follow the suite's id rule (crm_common.text.identifier); an external id is another
    system's and only has to be clean text."""
    if field_name == "externalId":
        return clean_text(value, field_name, ID_MAX)
    try:
        return identifier(value, field_name)
    except RuleViolation as exc:
        raise invalid_value(field_name, exc.message.split(": ", 1)[-1]) from None


def normalise_tags(values: Iterable[str] | None) -> list[str]:
    """Trimmed, blank ones dropped, duplicates (case-insensitive) dropped, order kept."""
    tags: list[str] = []
    seen: set[str] = set()
    for raw in values or ():
        tag = clean_text(raw, "tags", TAG_MAX)
        if tag is None or tag.casefold() in seen:
            continue
        seen.add(tag.casefold())
        tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise invalid_value("tags", f"at most {TAGS_MAX} tags (got {len(tags)})")
    return tags


def _check_json(value: object, depth: int, path: str) -> None:
    """Walks the value (bounded by the depth limit, so no deep recursion) and checks types."""
    if isinstance(value, Mapping):
        depth += 1
        if depth > ATTRIBUTES_MAX_DEPTH:
            raise invalid_value(
                "attributes", f"nested deeper than {ATTRIBUTES_MAX_DEPTH} at {path}"
            )
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise invalid_value("attributes", f"keys must be non-empty strings at {path}")
            if len(key) > ATTRIBUTE_KEY_MAX:
                raise invalid_value("attributes", f"key longer than {ATTRIBUTE_KEY_MAX} at {path}")
            if key.startswith("$") or "." in key or "\x00" in key:
                raise invalid_value(
                    "attributes", f"key {key[:40]!r} at {path} must not start with $ or hold . "
                )
            _check_json(item, depth, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        depth += 1
        if depth > ATTRIBUTES_MAX_DEPTH:
            raise invalid_value(
                "attributes", f"nested deeper than {ATTRIBUTES_MAX_DEPTH} at {path}"
            )
        for index, item in enumerate(value):
            _check_json(item, depth, f"{path}[{index}]")
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise invalid_value("attributes", f"integer out of the 64-bit range at {path}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise invalid_value("attributes", f"numbers must be finite at {path}")
    else:
        raise invalid_value(
            "attributes", f"unsupported value of type {type(value).__name__} at {path}"
        )


def normalise_attributes(value: object) -> dict[str, Any] | None:
    """A JSON object of at most 16 KiB (compact UTF-8) nested at most 5 levels, or None."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise invalid_value("attributes", "must be a JSON object")
    _check_json(value, 0, "$")
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    if len(encoded) > ATTRIBUTES_MAX_BYTES:
        raise invalid_value(
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
            channel=clean_text(self.channel, "source.channel", SOURCE_FIELD_MAX),
            campaign=clean_text(self.campaign, "source.campaign", SOURCE_FIELD_MAX),
            medium=clean_text(self.medium, "source.medium", SOURCE_FIELD_MAX),
            referrer=clean_text(self.referrer, "source.referrer", SOURCE_FIELD_MAX),
        )
        return None if source == LeadSource() else source


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
        raise invalid_value("emails", f"at most {EMAILS_MAX} e-mail addresses")
    return emails


def normalise_phones(values: Iterable[str] | None, region: str | None = None) -> list[str]:
    phones: list[str] = []
    for raw in values or ():
        phone = normalise_phone(raw, region)
        if phone is not None and phone not in phones:
            phones.append(phone)
    if len(phones) > PHONES_MAX:
        raise invalid_value("phones", f"at most {PHONES_MAX} phone numbers")
    return phones


def normalise_reason(value: str | None) -> str | None:
    return clean_text(value, "lifecycleReason", REASON_MAX)


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, upper-cased

    def normalised(self) -> Address | None:
        country = clean_text(self.country, "address.country", 2)
        if country is not None and not (len(country) == 2 and country.isalpha()):
            raise invalid_value("address.country", "must be an ISO 3166-1 alpha-2 code such as DE")
        address = Address(
            street=clean_text(self.street, "address.street", ADDRESS_FIELD_MAX),
            city=clean_text(self.city, "address.city", ADDRESS_FIELD_MAX),
            postal_code=clean_text(self.postal_code, "address.postalCode", 20),
            region=clean_text(self.region, "address.region", ADDRESS_FIELD_MAX),
            country=None if country is None else country.upper(),
        )
        return None if address == Address() else address


def clean_multiline(value: str | None, field_name: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > max_length:
        raise invalid_value(field_name, f"at most {max_length} characters (got {len(text)})")
    _no_control(text, field_name, lines=True)
    return text
