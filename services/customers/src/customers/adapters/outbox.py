"""How the customer archive's domain events become outbox entries (CloudEvents).

The relay that publishes them is ``crm_common.outbox.OutboxRelay``: a write stores the change
and its events in one insert/update of the customer document, and the repository hands the
relay the pending events right after (its fast path).
"""

from __future__ import annotations

from typing import Any

from crm_common.events import CloudEvent, new_event
from customers.domain.events import CustomerCreated, DomainEvent

SOURCE = "crm/customers"
CUSTOMER_CREATED = "customers.customer.created"


def to_cloud_event(event: DomainEvent) -> CloudEvent:
    match event:
        case CustomerCreated():
            return new_event(
                source=SOURCE,
                type=CUSTOMER_CREATED,
                subject=event.customer_id,
                sequence=event.version,
                data={
                    "customerId": event.customer_id,
                    "name": event.name,
                    "kind": event.kind,
                    "ownerId": event.owner_id,
                    "lifecycle": event.lifecycle,
                },
                actor_id=event.actor_id,
                actor_name=event.actor_name,
                at=event.occurred_at,
            )


def outbox_entry(event: DomainEvent) -> dict[str, Any]:
    """The form an event takes in a document's ``outbox`` array (its id is fixed from now on)."""
    return to_cloud_event(event).model_dump(exclude_none=True)
