"""The GraphQL inputs of the customers subgraph (filters, sorts, create and update) and their
translation into the domain's values and queries.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from customers.domain import model, values
from customers.domain.commands import CreateCustomer
from customers.entrypoints.graphql_types import CustomerKind, InteractionKind, LifecycleStage
from customers.service_layer.ports import (
    CustomerQuery,
)


@strawberry.input
class CustomerFilter:
    lifecycle: list[LifecycleStage] | None = strawberry.field(
        default=None, description="Any of these stages."
    )
    owner_id: strawberry.ID | None = None
    kind: CustomerKind | None = None
    name_contains: str | None = strawberry.field(
        default=None,
        description="Any fragment of the name: 'uller', 'ÜLL', 'garcia rob'; case and accents "
        "are ignored. Indexed (trigrams); under 3 characters, the start of a word.",
    )
    email_contains: str | None = strawberry.field(
        default=None,
        description="Any fragment of an e-mail; case and accents are ignored. Indexed "
        "(trigrams); under 3 characters, the start of the address, its local part, domain or "
        "a label.",
    )
    phone_contains: str | None = strawberry.field(
        default=None,
        description="Digits found anywhere in a phone's E.164 digits (other characters are "
        "ignored). Indexed (trigrams); under 3 digits, the start of the digits.",
    )
    search: str | None = strawberry.field(
        default=None,
        description="Words, each the start of a word of the name, an e-mail (or its local "
        "part or domain) or a phone (international or national digits), in any order; indexed.",
    )
    tag: str | None = strawberry.field(default=None, description="Case-insensitive.")
    source_channel: str | None = None
    source_campaign: str | None = None
    company_id: strawberry.ID | None = None
    created_from: datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_to: datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.enum
class CustomerSortField(Enum):
    ID = "ID"
    NAME = "NAME"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input
class CustomerSort:
    field: CustomerSortField = CustomerSortField.ID
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class LeadSourceInput:
    channel: str | None = None
    campaign: str | None = None
    medium: str | None = None
    referrer: str | None = None


@strawberry.input
class AddressInput:
    street: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = None


def _source(value: LeadSourceInput | None) -> values.LeadSource | None:
    if value is None:
        return None
    return values.LeadSource(
        channel=value.channel, campaign=value.campaign, medium=value.medium, referrer=value.referrer
    )


def _address(value: AddressInput | None) -> values.Address | None:
    if value is None:
        return None
    return values.Address(
        street=value.street,
        city=value.city,
        postal_code=value.postal_code,
        region=value.region,
        country=value.country,
    )


@strawberry.input
class CreateCustomerInput:
    kind: CustomerKind
    name: str
    email: str | None = None
    phone: str | None = None
    company_id: strawberry.ID | None = None
    source: LeadSourceInput | None = None
    lifecycle: LifecycleStage = model.LifecycleStage.LEAD
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Defaults to the caller."
    )
    tags: list[str] | None = None
    attributes: JSON | None = strawberry.field(
        default=None, description="A JSON object of at most 16 KiB, nested at most 5 levels."
    )
    emails: list[str] | None = strawberry.field(default=None, description="More e-mails.")
    phones: list[str] | None = strawberry.field(default=None, description="More phones.")
    address: AddressInput | None = None
    external_id: str | None = strawberry.field(
        default=None, description="The id in another system (imports upsert by it)."
    )
    team: str | None = strawberry.field(
        default=None, description="Defaults to the caller's team; only an admin names another."
    )

    def to_command(self) -> CreateCustomer:
        return CreateCustomer(
            kind=model.CustomerKind(self.kind),
            name=self.name,
            email=self.email,
            phone=self.phone,
            company_id=None if self.company_id is None else str(self.company_id),
            source=_source(self.source),
            lifecycle=model.LifecycleStage(self.lifecycle),
            owner_id=None if self.owner_id is None else str(self.owner_id),
            tags=None if self.tags is None else tuple(self.tags),
            attributes=self.attributes,
            emails=None if self.emails is None else tuple(self.emails),
            phones=None if self.phones is None else tuple(self.phones),
            address=_address(self.address),
            external_id=self.external_id,
            team=self.team,
        )


@strawberry.input(description="Only the fields given change; null clears an optional field.")
class UpdateCustomerInput:
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="The primary e-mail (the old one stays listed)."
    )
    emails: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Every e-mail (replaces the list)."
    )
    phone: str | None = strawberry.UNSET
    phones: list[str] | None = strawberry.UNSET
    company_id: strawberry.ID | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    source: LeadSourceInput | None = strawberry.UNSET
    lifecycle: LifecycleStage | None = strawberry.field(
        default=strawberry.UNSET,
        description="LEAD→PROSPECT|CUSTOMER, PROSPECT→LEAD|CUSTOMER, CUSTOMER→CHURNED, "
        "CHURNED→PROSPECT|CUSTOMER.",
    )
    lifecycle_reason: str | None = strawberry.field(
        default=strawberry.UNSET, description="Why the lifecycle changes (required to CHURNED)."
    )
    owner_id: strawberry.ID | None = strawberry.UNSET
    team: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    attributes: JSON | None = strawberry.UNSET
    external_id: str | None = strawberry.UNSET

    def to_changes(self) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        simple = {
            "name": self.name,
            "email": self.email,
            "emails": self.emails,
            "phone": self.phone,
            "phones": self.phones,
            "companyId": self.company_id,
            "lifecycle": self.lifecycle,
            "ownerId": self.owner_id,
            "team": self.team,
            "tags": self.tags,
            "attributes": self.attributes,
            "externalId": self.external_id,
        }
        for name, value in simple.items():
            if value is not strawberry.UNSET:
                changes[name] = value
        if self.emails is None and "emails" in changes:
            changes["emails"] = []
        if self.phones is None and "phones" in changes:
            changes["phones"] = []
        if self.tags is None and "tags" in changes:
            changes["tags"] = []
        if self.address is not strawberry.UNSET:
            address = _address(self.address)
            changes["address"] = None if address is None else _plain_address(address)
        if self.source is not strawberry.UNSET:
            source = _source(self.source)
            changes["source"] = None if source is None else _plain_source(source)
        return changes


def _plain_address(address: values.Address) -> dict[str, Any]:
    return {
        "street": address.street,
        "city": address.city,
        "postal_code": address.postal_code,
        "region": address.region,
        "country": address.country,
    }


def _plain_source(source: values.LeadSource) -> dict[str, Any]:
    return {
        "channel": source.channel,
        "campaign": source.campaign,
        "medium": source.medium,
        "referrer": source.referrer,
    }


@strawberry.input
class InteractionInput:
    kind: InteractionKind
    summary: str
    occurred_at: datetime | None = strawberry.field(default=None, description="Default: now.")
    details: JSON | None = None
    opportunity_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deal it is about (listed in Opportunity.interactions)."
    )


def customer_query(filter: CustomerFilter | None) -> CustomerQuery:
    if filter is None:
        return CustomerQuery()
    return CustomerQuery(
        lifecycles=tuple(model.LifecycleStage(s) for s in filter.lifecycle or ()),
        owner_id=None if filter.owner_id is None else str(filter.owner_id),
        kind=None if filter.kind is None else model.CustomerKind(filter.kind),
        name_contains=filter.name_contains,
        email_contains=filter.email_contains,
        phone_contains=filter.phone_contains,
        search=filter.search,
        tag=filter.tag,
        source_channel=filter.source_channel,
        source_campaign=filter.source_campaign,
        company_id=None if filter.company_id is None else str(filter.company_id),
        created_from=filter.created_from,
        created_to=filter.created_to,
    )
