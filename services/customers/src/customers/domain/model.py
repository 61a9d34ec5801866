"""The customer aggregate: its lifecycle, changes, merges and audit trail.

``contacts`` are not stored on the company: a person belongs to a company through its
``company_id``, and a company's contacts are the people that point at it. One fact, one
place, and no two-document update when someone changes employer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# A pure syntax check (no DNS), kept in the domain because it is a value-object rule.
from customers.domain.events import (
    CustomerCreated,
    CustomersMerged,
    CustomerUpdated,
    DomainEvent,
    LifecycleChanged,
)
from customers.domain.values import (
    Address,
    LeadSource,
    invalid_value,
    new_id,
    normalise_attributes,
    normalise_email,
    normalise_emails,
    normalise_id,
    normalise_name,
    normalise_phone,
    normalise_phones,
    normalise_reason,
    normalise_tags,
    utcnow,
)


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
    TASK_DONE = "TASK_DONE"


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
            raise invalid_value(
                "companyId", f"{company.id} is a {company.kind.value}, not a COMPANY"
            )
        owner = normalise_id(owner_id, "ownerId")
        if owner is None:
            raise invalid_value("ownerId", "is required")
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
                team=customer.team,
                source=_plain(customer.source) if customer.source else None,
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
            if any(change.field in ("ownerId", "team") for change in changes):
                # Who may see the customer changed: the pipeline's copy must follow.
                self.events.append(
                    CustomerUpdated(
                        customer_id=self.id,
                        owner_id=self.owner_id,
                        team=self.team,
                        version=self.version,
                        occurred_at=now,
                        actor_id=actor_id,
                        actor_name=actor_name,
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
            raise invalid_value(sorted(unknown)[0], "cannot be changed")
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
                raise invalid_value("ownerId", "is required")
            new["owner_id"] = owner
        if "team" in changes:
            new["team"] = normalise_id(changes["team"], "team")
        if change_company and company is not None and company.kind is not CustomerKind.COMPANY:
            raise invalid_value(
                "companyId", f"{company.id} is a {company.kind.value}, not a COMPANY"
            )
        if change_company and company is not None and company.id == self.id:
            raise invalid_value("companyId", "a company cannot be its own company")
        target_stage = None
        if "lifecycle" in changes and changes["lifecycle"] is not None:
            target_stage = LifecycleStage(changes["lifecycle"])
            self.check_transition(target_stage)
        reason = normalise_reason(lifecycle_reason)
        if target_stage is LifecycleStage.CHURNED and target_stage != self.lifecycle and not reason:
            raise invalid_value("lifecycleReason", "is required when a customer churns")
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
            raise invalid_value(
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
                raise invalid_value("sourceIds", "the target cannot be merged into itself")
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
                survivor_owner_id=self.owner_id,
                survivor_team=self.team,
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
