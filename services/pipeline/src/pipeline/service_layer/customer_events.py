"""The customers service's events, as the pipeline consumes them: who each customer is and
belongs to (``known_customers``: who may open or move deals on it), merges that re-point
deals, and transfers that give a departing owner's open deals to another.
"""

from __future__ import annotations

import logging

from crm_common.errors import NotFound
from crm_common.events import CloudEvent
from pipeline.domain.errors import DomainError
from pipeline.domain.model import Opportunity, OpportunityChanges, Pipeline, check_id_shape
from pipeline.service_layer.ports import (
    Actor,
    CustomerFacts,
    CustomerOwner,
    KnownCustomers,
    OpportunityRepository,
    OutboxNotifier,
    PipelineRepository,
    ProcessedEvents,
)
from pipeline.service_layer.services import change_opportunity, now

log = logging.getLogger(__name__)

CUSTOMER_CREATED = "customers.customer.created"
CUSTOMER_UPDATED = "customers.customer.updated"
CUSTOMER_MERGED = "customers.customer.merged"
OWNERSHIP_TRANSFERRED = "customers.ownership.transferred"


class InvalidEvent(ValueError):
    """An event no retry can make valid (the consumer dead-letters it)."""


def _event_id_field(data: dict[str, object], key: str) -> str:
    value = data.get(key)
    try:
        return check_id_shape(value, key)  # type: ignore[arg-type]
    except DomainError as exc:
        raise InvalidEvent(exc.message) from exc


def _event_id_list(data: dict[str, object], key: str) -> list[str]:
    values = data.get(key)
    if not isinstance(values, list):
        raise InvalidEvent(f"{key} must be a list of ids")
    ids = []
    for value in values:
        try:
            ids.append(check_id_shape(value, key))
        except DomainError as exc:
            raise InvalidEvent(exc.message) from exc
    return ids


async def handle_customer_event(
    event: CloudEvent,
    *,
    customers: KnownCustomers,
    pipelines: PipelineRepository | None = None,
    opportunities: OpportunityRepository | None = None,
    processed: ProcessedEvents | None = None,
    notify_outbox: OutboxNotifier = lambda: None,
) -> None:
    """React to the customers service's events, idempotently:

    - ``created``: remember the customer (``known_customers``) and whom it belongs to;
    - ``updated``: its new owner and team (an older version is ignored);
    - ``merged``: re-point the merged customers' opportunities to the survivor, whose owner
      and team the event carries;
    - ``ownership.transferred``: the customers belong to the new owner; with
      ``includeOpenOpportunities``, give the previous owner's OPEN opportunities to the new
      owner: those of the moved customers and those on customers owned by others (of the
      transfer's ``team``, when a manager's transfer names one).

    Each opportunity is changed through the domain (new version, an ``updated`` event with
    the previous value), so a redelivery finds nothing left to change; the event id is also
    remembered once every effect is written.
    """
    if event.type == CUSTOMER_CREATED:
        await _remember_customer(event, customers)
        return
    if event.type == CUSTOMER_UPDATED:
        customer_id = _event_id_field(event.data, "customerId")
        await customers.belongs_to(customer_id, _owner(event.data), _version(event))
        return
    if event.type not in (CUSTOMER_MERGED, OWNERSHIP_TRANSFERRED):
        log.debug("customer event ignored", extra={"type": event.type, "event_id": event.id})
        return
    assert pipelines is not None
    assert opportunities is not None
    assert processed is not None
    if await processed.seen(event.id):
        return
    data = event.data
    actor = Actor(user_id=event.actorid or "system", name=event.actorname, roles=frozenset())
    if event.type == CUSTOMER_MERGED:
        survivor = _event_id_field(data, "survivorId")
        merged = [m for m in _event_id_list(data, "mergedIds") if m != survivor]
        await customers.merged(survivor, merged)  # later creates for them go to the survivor
        if data.get("survivorOwnerId") is not None:
            owner = _owner(data, owner_key="survivorOwnerId", team_key="survivorTeam")
            await customers.belongs_to(survivor, owner, _version(event))
        ids = await opportunities.ids_of_customers(merged) if merged else []
        changes = OpportunityChanges(customer_id=survivor)
    else:
        from_owner = _event_id_field(data, "fromOwnerId")
        to_owner = _event_id_field(data, "toOwnerId")
        customer_ids = _event_id_list(data, "customerIds")
        include = data.get("includeOpenOpportunities", True)
        if not isinstance(include, bool):
            raise InvalidEvent("includeOpenOpportunities must be a boolean")
        team = data.get("team")
        if team is not None and not isinstance(team, str):
            raise InvalidEvent("team must be a string")
        await customers.transferred(customer_ids, from_owner, to_owner)
        ids = []
        if include and from_owner != to_owner:
            # The departing owner's open deals on the customers that moved, and those on
            # customers owned by others (within the transfer's team, when it names one).
            on_theirs = await opportunities.ids_of_customers(
                customer_ids, owner_id=from_owner, open_only=True
            )
            elsewhere = await opportunities.open_ids_of_owner(from_owner, team=team)
            ids = sorted({*on_theirs, *elsewhere})
        changes = OpportunityChanges(owner_id=to_owner)

    for opportunity_id in ids:

        async def change(
            opportunity: Opportunity, pipeline: Pipeline, changes: OpportunityChanges = changes
        ) -> None:
            if event.type == OWNERSHIP_TRANSFERRED and (
                opportunity.is_closed or opportunity.owner_id != data.get("fromOwnerId")
            ):
                return  # changed meanwhile: not ours to move any more
            opportunity.update(changes, pipeline=pipeline, actor_id=actor.user_id, at=now())

        try:
            await change_opportunity(
                opportunity_id,
                None,
                change,
                actor=actor,
                pipelines=pipelines,
                opportunities=opportunities,
                customers=None,  # the customers service decided; no caller to check
                notify_outbox=notify_outbox,
                check_access=False,
            )
        except NotFound:
            continue
    await processed.mark(event.id, event.type)


def _version(event: CloudEvent) -> int:
    """The customer's version the event announces (its CloudEvents ``sequence``)."""
    return event.sequence


def _owner(
    data: dict[str, object], *, owner_key: str = "ownerId", team_key: str = "team"
) -> CustomerOwner:
    owner = _event_id_field(data, owner_key)
    team = data.get(team_key)
    if team is not None and not isinstance(team, str):
        raise InvalidEvent(f"{team_key} must be a string or null")
    return CustomerOwner(owner_id=owner, team=team or None)


async def _remember_customer(event: CloudEvent, customers: KnownCustomers) -> None:
    data = event.data
    customer_id = data.get("customerId", event.subject)
    try:
        check_id_shape(customer_id, "customerId")
    except DomainError as exc:
        raise InvalidEvent(exc.message) from exc

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    await customers.remember(
        CustomerFacts(
            customer_id=customer_id,
            name=text("name"),
            kind=text("kind"),
            owner_id=text("ownerId"),
            lifecycle=text("lifecycle"),
            event_id=event.id,
            team=text("team"),
            version=_version(event),
        )
    )
