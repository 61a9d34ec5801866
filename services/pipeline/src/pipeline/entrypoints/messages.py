"""Inbound: the customers service's CloudEvents as the pipeline's commands. The one place
where a consumed event's wire shape is read (outbound events take theirs in
``adapters/outbox.py``); an event no retry can make valid raises ``InvalidEvent``, which the
consumer dead-letters."""

from __future__ import annotations

import logging

from crm_common.events import CloudEvent
from pipeline.domain.errors import DomainError
from pipeline.domain.model import check_id_shape
from pipeline.service_layer.commands import (
    ChangeCustomerOwner,
    CustomerEvent,
    MergeCustomers,
    RememberCustomer,
    TransferOwnership,
)
from pipeline.service_layer.ports import Actor, CustomerFacts, CustomerOwner

log = logging.getLogger(__name__)

CUSTOMER_CREATED = "customers.customer.created"
CUSTOMER_UPDATED = "customers.customer.updated"
CUSTOMER_MERGED = "customers.customer.merged"
OWNERSHIP_TRANSFERRED = "customers.ownership.transferred"


class InvalidEvent(ValueError):
    """An event no retry can make valid (the consumer dead-letters it)."""


def customer_command(event: CloudEvent) -> CustomerEvent | None:
    """The command an event of the customers service asks for; None for one we ignore."""
    data = event.data
    if event.type == CUSTOMER_CREATED:
        return RememberCustomer(_customer_facts(event))
    if event.type == CUSTOMER_UPDATED:
        # The customer's version is the event's CloudEvents ``sequence``.
        return ChangeCustomerOwner(
            _id_field(data, "customerId"), _owner(data), version=event.sequence
        )
    actor = Actor(user_id=event.actorid or "system", name=event.actorname, roles=frozenset())
    if event.type == CUSTOMER_MERGED:
        return MergeCustomers(
            event_id=event.id,
            survivor_id=_id_field(data, "survivorId"),
            merged_ids=_id_list(data, "mergedIds"),
            survivor_owner=(
                _owner(data, owner_key="survivorOwnerId", team_key="survivorTeam")
                if data.get("survivorOwnerId") is not None
                else None
            ),
            version=event.sequence,
            actor=actor,
        )
    if event.type == OWNERSHIP_TRANSFERRED:
        include = data.get("includeOpenOpportunities", True)
        if not isinstance(include, bool):
            raise InvalidEvent("includeOpenOpportunities must be a boolean")
        team = data.get("team")
        if team is not None and not isinstance(team, str):
            raise InvalidEvent("team must be a string")
        return TransferOwnership(
            event_id=event.id,
            from_owner_id=_id_field(data, "fromOwnerId"),
            to_owner_id=_id_field(data, "toOwnerId"),
            customer_ids=_id_list(data, "customerIds"),
            include_open_opportunities=include,
            team=team,
            actor=actor,
        )
    log.debug("customer event ignored", extra={"type": event.type, "event_id": event.id})
    return None


def _customer_facts(event: CloudEvent) -> CustomerFacts:
    data = event.data
    customer_id = data.get("customerId", event.subject)
    checked = _checked_id(customer_id, "customerId")

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    return CustomerFacts(
        customer_id=checked,
        name=text("name"),
        kind=text("kind"),
        owner_id=text("ownerId"),
        lifecycle=text("lifecycle"),
        event_id=event.id,
        team=text("team"),
        version=event.sequence,
        source=_source(data.get("source")),
    )


def _source(value: object) -> dict[str, str] | None:
    """The customer's lead source (tolerant: fields that are not text are left out)."""
    if not isinstance(value, dict):
        return None
    source = {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and v}
    return source or None


def _checked_id(value: object, key: str) -> str:
    try:
        return check_id_shape(value, key)  # type: ignore[arg-type]
    except DomainError as exc:
        raise InvalidEvent(exc.message) from exc


def _id_field(data: dict[str, object], key: str) -> str:
    return _checked_id(data.get(key), key)


def _id_list(data: dict[str, object], key: str) -> list[str]:
    values = data.get(key)
    if not isinstance(values, list):
        raise InvalidEvent(f"{key} must be a list of ids")
    return [_checked_id(value, key) for value in values]


def _owner(
    data: dict[str, object], *, owner_key: str = "ownerId", team_key: str = "team"
) -> CustomerOwner:
    owner = _id_field(data, owner_key)
    team = data.get(team_key)
    if team is not None and not isinstance(team, str):
        raise InvalidEvent(f"{team_key} must be a string or null")
    return CustomerOwner(owner_id=owner, team=team or None)
