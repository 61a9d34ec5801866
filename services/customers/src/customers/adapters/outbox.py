"""How the customer archive's domain events become outbox entries (CloudEvents).

The relay that publishes them is ``crm_common.outbox.OutboxRelay``: a write stores the change
and its events in one insert/update of the customer document, and the repository hands the
relay the pending events right after (its fast path).
"""

from __future__ import annotations

from typing import Any

from crm_common.events import CloudEvent, iso, new_event
from customers.domain.events import (
    CustomerCreated,
    CustomersMerged,
    CustomerUpdated,
    DomainEvent,
    LifecycleChanged,
    OwnershipTransferred,
)

SOURCE = "crm/customers"
CUSTOMER_CREATED = "customers.customer.created"
CUSTOMER_UPDATED = "customers.customer.updated"
LIFECYCLE_CHANGED = "customers.customer.lifecycle_changed"
CUSTOMER_MERGED = "customers.customer.merged"
OWNERSHIP_TRANSFERRED = "customers.ownership.transferred"


def _type_subject_and_data(event: DomainEvent) -> tuple[str, str, dict[str, Any]]:
    """What differs between the customer events; the envelope is the same for all."""
    match event:
        case CustomerCreated():
            return (
                CUSTOMER_CREATED,
                event.customer_id,
                {
                    "customerId": event.customer_id,
                    "name": event.name,
                    "kind": event.kind,
                    "ownerId": event.owner_id,
                    "lifecycle": event.lifecycle,
                    # The pipeline decides from owner and team who may open deals on it.
                    **({"team": event.team} if event.team is not None else {}),
                    # Deals opened on the customer take its lead source (source attribution).
                    **({"source": event.source} if event.source else {}),
                },
            )
        case CustomerUpdated():
            return (
                CUSTOMER_UPDATED,
                event.customer_id,
                {"customerId": event.customer_id, "ownerId": event.owner_id, "team": event.team},
            )
        case LifecycleChanged():
            return (
                LIFECYCLE_CHANGED,
                event.customer_id,
                {
                    "customerId": event.customer_id,
                    "from": event.from_stage,
                    "to": event.to_stage,
                    "reason": event.reason,
                    "cause": event.cause,
                },
            )
        case CustomersMerged():
            return (
                CUSTOMER_MERGED,
                event.survivor_id,
                {
                    "survivorId": event.survivor_id,
                    "mergedIds": list(event.merged_ids),
                    "mergedAt": iso(event.occurred_at),
                    "survivorOwnerId": event.survivor_owner_id,
                    "survivorTeam": event.survivor_team,
                },
            )
        case OwnershipTransferred():
            return (
                OWNERSHIP_TRANSFERRED,
                event.transfer_id,
                {
                    "transferId": event.transfer_id,
                    "fromOwnerId": event.from_owner_id,
                    "toOwnerId": event.to_owner_id,
                    "includeOpenOpportunities": event.include_open_opportunities,
                    "customerIds": list(event.customer_ids),
                    **({"team": event.team} if event.team is not None else {}),
                },
            )


def to_cloud_event(event: DomainEvent) -> CloudEvent:
    type_, subject, data = _type_subject_and_data(event)
    return new_event(
        source=SOURCE,
        type=type_,
        subject=subject,
        sequence=event.version,
        data=data,
        actor_id=event.actor_id,
        actor_name=event.actor_name,
        at=event.occurred_at,
    )


def outbox_entry(event: DomainEvent) -> dict[str, Any]:
    """The form an event takes in a document's ``outbox`` array (its id is fixed from now on)."""
    return to_cloud_event(event).model_dump(exclude_none=True)
