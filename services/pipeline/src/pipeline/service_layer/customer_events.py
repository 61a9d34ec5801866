"""What the pipeline does when the customers service announces something (commands parsed
from its events in ``entrypoints/messages.py``), idempotently:

- a created customer is remembered with whom it belongs to (who may see it decides who may
  open or move deals on it), and so is each later change of its owner or team;
- a merge re-points the merged customers' deals to the survivor (and learns its owner);
- a transfer gives the customers to the new owner and, with ``includeOpenOpportunities``,
  the previous owner's OPEN deals too: on those customers and on customers owned by others
  (of the transfer's team, when a manager's transfer names one).

Each deal is changed through the domain (new version, an ``updated`` event with the previous
value), so a redelivery finds nothing left to change; the event id is also remembered once
every effect is written.
"""

from __future__ import annotations

from crm_common.errors import NotFound
from pipeline.domain.model import Opportunity, OpportunityChanges, Pipeline
from pipeline.service_layer.commands import (
    ChangeCustomerOwner,
    CustomerEvent,
    MergeCustomers,
    RememberCustomer,
    TransferOwnership,
)
from pipeline.service_layer.ports import Actor
from pipeline.service_layer.services import Change, change_opportunity, now
from pipeline.service_layer.unit_of_work import UnitOfWork


async def handle_customer_event(cmd: CustomerEvent, uow: UnitOfWork) -> None:
    if isinstance(cmd, RememberCustomer):
        await uow.customers.remember(cmd.facts)
    elif isinstance(cmd, ChangeCustomerOwner):
        await uow.customers.belongs_to(cmd.customer_id, cmd.owner, cmd.version)
    elif isinstance(cmd, MergeCustomers):
        await merge_customers(cmd, uow)
    else:
        await transfer_ownership(cmd, uow)


async def merge_customers(cmd: MergeCustomers, uow: UnitOfWork) -> None:
    if await uow.processed.seen(cmd.event_id):
        return
    merged = [m for m in cmd.merged_ids if m != cmd.survivor_id]
    await uow.customers.merged(cmd.survivor_id, merged)  # later creates go to the survivor
    if cmd.survivor_owner is not None:
        await uow.customers.belongs_to(cmd.survivor_id, cmd.survivor_owner, cmd.version)
    ids = await uow.opportunities.ids_of_customers(merged) if merged else []
    changes = OpportunityChanges(customer_id=cmd.survivor_id)

    async def change(opportunity: Opportunity, pipeline: Pipeline) -> None:
        opportunity.update(changes, pipeline=pipeline, actor_id=cmd.actor.user_id, at=now())

    await _change_each(ids, change, uow, cmd.actor)
    await uow.processed.mark(cmd.event_id, "customers.customer.merged")


async def transfer_ownership(cmd: TransferOwnership, uow: UnitOfWork) -> None:
    if await uow.processed.seen(cmd.event_id):
        return
    await uow.customers.transferred(cmd.customer_ids, cmd.from_owner_id, cmd.to_owner_id)
    ids: list[str] = []
    if cmd.include_open_opportunities and cmd.from_owner_id != cmd.to_owner_id:
        # The departing owner's open deals on the customers that moved, and those on
        # customers owned by others (within the transfer's team, when it names one).
        on_theirs = await uow.opportunities.ids_of_customers(
            cmd.customer_ids, owner_id=cmd.from_owner_id, open_only=True
        )
        elsewhere = await uow.opportunities.open_ids_of_owner(cmd.from_owner_id, team=cmd.team)
        ids = sorted({*on_theirs, *elsewhere})
    changes = OpportunityChanges(owner_id=cmd.to_owner_id)

    async def change(opportunity: Opportunity, pipeline: Pipeline) -> None:
        if opportunity.is_closed or opportunity.owner_id != cmd.from_owner_id:
            return  # changed meanwhile: not ours to move any more
        opportunity.update(changes, pipeline=pipeline, actor_id=cmd.actor.user_id, at=now())

    await _change_each(ids, change, uow, cmd.actor)
    await uow.processed.mark(cmd.event_id, "customers.ownership.transferred")


async def _change_each(ids: list[str], change: Change, uow: UnitOfWork, actor: Actor) -> None:
    for opportunity_id in ids:
        try:
            await change_opportunity(
                opportunity_id, None, change, uow, actor=actor, by_the_system=True
            )
        except NotFound:
            continue  # gone meanwhile: nothing left to change
