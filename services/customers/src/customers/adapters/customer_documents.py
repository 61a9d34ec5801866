"""A customer to and from its MongoDB document (with its search, sort and visibility keys)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from crm_common.outbox import OUTBOX, OUTBOX_PENDING
from customers.adapters.audit_log import AUDIT_OUTBOX, AUDIT_PENDING
from customers.adapters.customer_search import (
    search_fields,
)
from customers.domain.model import (
    Customer,
    CustomerKind,
    LifecycleStage,
)
from customers.domain.search_terms import search_tokens
from customers.domain.values import Address, LeadSource, fold
from customers.service_layer.ports import (
    SortField,
)

_PROJECTION = {
    OUTBOX: 0,
    OUTBOX_PENDING: 0,
    AUDIT_OUTBOX: 0,
    AUDIT_PENDING: 0,
    "search_tokens": 0,
    "search_text": 0,
    "search_grams": 0,
}
# Sorted lists page on one string key each (value + NUL + id): a keyset is one range.
_SORT_KEYS = {
    SortField.ID: "sort_id",  # an indexed copy: a range on ``_id`` scans on the stand-in
    SortField.NAME: "sort_name",
    SortField.CREATED_AT: "sort_created",
    SortField.UPDATED_AT: "sort_updated",
}


def sort_key(customer: Customer, field: SortField) -> str:
    if field is SortField.NAME:
        value = fold(customer.name)
    elif field is SortField.CREATED_AT:
        value = customer.created_at.astimezone(UTC).isoformat()
    elif field is SortField.UPDATED_AT:
        value = customer.updated_at.astimezone(UTC).isoformat()
    else:
        return customer.id
    return f"{value}\x00{customer.id}"


def visibility_keys(owner_id: str, team: str | None) -> list[str]:
    return [f"owner:{owner_id}", *([f"team:{team}"] if team else [])]


Collection = AsyncCollection[dict[str, Any]]


def _source_document(source: LeadSource | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {
        "channel": source.channel,
        "campaign": source.campaign,
        "medium": source.medium,
        "referrer": source.referrer,
    }


def _address_document(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "street": address.street,
        "city": address.city,
        "postal_code": address.postal_code,
        "region": address.region,
        "country": address.country,
    }


def to_document(customer: Customer) -> dict[str, Any]:
    return {
        "_id": customer.id,
        "kind": customer.kind.value,
        "name": customer.name,
        "email": customer.email,
        "emails": list(customer.emails),
        "phone": customer.phone,
        "phones": list(customer.phones),
        "search_tokens": (tokens := search_tokens(customer)),
        "search_text": " " + " ".join(tokens),
        "company_id": customer.company_id,
        "source": _source_document(customer.source),
        "address": _address_document(customer.address),
        "lifecycle": customer.lifecycle.value,
        "lifecycle_reason": customer.lifecycle_reason,
        "lifecycle_changed_at": customer.lifecycle_changed_at,
        "lifecycle_cause": customer.lifecycle_cause,
        "owner_id": customer.owner_id,
        "team": customer.team,
        "tags": list(customer.tags),
        "tags_search": [fold(tag) for tag in customer.tags],
        "attributes": customer.attributes,
        "external_id": customer.external_id,
        "merged_ids": list(customer.merged_ids),
        "ids": [customer.id, *customer.merged_ids],
        "visibility": visibility_keys(customer.owner_id, customer.team),
        "sort_name": sort_key(customer, SortField.NAME),
        "sort_created": sort_key(customer, SortField.CREATED_AT),
        "sort_updated": sort_key(customer, SortField.UPDATED_AT),
        "version": customer.version,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        # name_search, emails_search, phone_digits, search_grams, sort_id, ...
        **search_fields(customer),
    }


def from_document(document: dict[str, Any]) -> Customer:
    source = document.get("source")
    address = document.get("address")
    email = document.get("email")
    phone = document.get("phone")
    return Customer(
        id=document["_id"],
        kind=CustomerKind(document["kind"]),
        name=document["name"],
        email=email,
        phone=phone,
        company_id=document.get("company_id"),
        source=None
        if not source
        else LeadSource(
            channel=source.get("channel"),
            campaign=source.get("campaign"),
            medium=source.get("medium"),
            referrer=source.get("referrer"),
        ),
        lifecycle=LifecycleStage(document["lifecycle"]),
        owner_id=document["owner_id"],
        tags=list(document.get("tags") or []),
        attributes=document.get("attributes"),
        version=document["version"],
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        emails=list(document.get("emails") or ([email] if email else [])),
        phones=list(document.get("phones") or ([phone] if phone else [])),
        address=None
        if not address
        else Address(
            street=address.get("street"),
            city=address.get("city"),
            postal_code=address.get("postal_code"),
            region=address.get("region"),
            country=address.get("country"),
        ),
        external_id=document.get("external_id"),
        team=document.get("team"),
        lifecycle_reason=document.get("lifecycle_reason"),
        lifecycle_changed_at=document.get("lifecycle_changed_at"),
        lifecycle_cause=document.get("lifecycle_cause"),
        merged_ids=list(document.get("merged_ids") or []),
    )
