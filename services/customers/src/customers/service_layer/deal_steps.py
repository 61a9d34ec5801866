"""The archive fed by the funnel: each step of a deal (``DealStep``, parsed from the pipeline's
events in ``entrypoints/messages.py``) becomes a timeline entry, and the lifecycle it implies
(a deal opened for a LEAD: PROSPECT; a deal won: CUSTOMER)."""

from __future__ import annotations

from datetime import datetime

from crm_common.errors import Conflict, CrmError
from crm_common.events import CloudEvent
from customers.domain.commands import DealStep, StepKind
from customers.domain.errors import InvalidValue
from customers.domain.interactions import Interaction
from customers.domain.model import Customer, InteractionKind, LifecycleStage
from customers.domain.values import utcnow
from customers.service_layer.ports import CustomerRepository, InteractionRepository

# The cause a lifecycle change records, by the event type that caused it (stored as such).
WON_CAUSE = "pipeline.opportunity.won"
OPENED_CAUSE = "pipeline.opportunity.created"


class UnknownCustomer(CrmError):
    code = "NOT_FOUND"


def summary(step: DealStep) -> str:
    title = step.title
    to_stage = _stage_name(step.to_stage)
    from_stage = _stage_name(step.from_stage)
    if step.kind is StepKind.OPENED:
        return f"Deal “{title}” opened in {to_stage}"
    if step.kind is StepKind.WON:
        return f"Deal “{title}” won ({from_stage} → {to_stage})"
    if step.kind is StepKind.LOST:
        reason = f": {step.lost_reason}" if step.lost_reason else ""
        return f"Deal “{title}” lost ({from_stage} → {to_stage})" + reason
    if step.kind is StepKind.REOPENED:
        return f"Deal “{title}” reopened in {to_stage}"
    return f"Deal “{title}” moved from {from_stage} to {to_stage}"


def _stage_name(stage: dict[str, object] | None) -> str:
    return str(stage["name"]) if stage and stage.get("name") else "?"


async def record_deal_step(
    step: DealStep,
    customers: CustomerRepository,
    interactions: InteractionRepository,
    attempts: int = 8,
) -> None:
    """Idempotent: the entries have ids derived from the deal and its version (``sequence``),
    which also makes a ``stage_changed`` into WON and the ``won`` event of the same move one
    single step."""
    customer = (await customers.resolve_many([step.customer_id])).get(step.customer_id)
    if customer is None:
        raise UnknownCustomer(f"customer {step.customer_id} unknown")
    key = f"opp:{step.opportunity_id}:{step.sequence}"
    details = {
        "opportunityId": step.opportunity_id,
        "eventType": step.event_type,
        "fromStage": step.from_stage,
        "toStage": step.to_stage,
        "status": step.status,
        "amount": step.amount,
    }
    await interactions.add(
        Interaction.log(
            customer_id=customer.id,
            kind=InteractionKind.STAGE_CHANGE,
            summary=summary(step),
            details={k: v for k, v in details.items() if v is not None},
            occurred_at=step.at,
            actor_id=step.actor_id,
            actor_name=step.actor_name,
            opportunity_id=step.opportunity_id,
            interaction_id=key,
        )
    )
    if step.kind is StepKind.WON:
        target, reason, cause_type = LifecycleStage.CUSTOMER, f"deal won: {step.title}", WON_CAUSE
    elif step.kind is StepKind.OPENED:
        target, reason, cause_type = (
            LifecycleStage.PROSPECT,
            f"deal opened: {step.title}",
            OPENED_CAUSE,
        )
    else:
        return
    cause = {"type": cause_type, "opportunityId": step.opportunity_id, "key": key}
    cause["from"] = customer.lifecycle.value
    for _ in range(attempts):
        version = customer.version
        before = customer.lifecycle
        if customer.advance_lifecycle(
            target,
            reason=reason,
            cause=cause,
            actor_id=step.actor_id,
            actor_name=step.actor_name,
            now=step.at if step.at <= utcnow() else None,
        ):
            try:
                await customers.save(customer, version)
            except Conflict:
                reloaded = await customers.get(customer.id)
                if reloaded is None:
                    raise
                customer = reloaded
                continue
            await _lifecycle_entry(customer, before, key, step, interactions)
            return
        # Nothing to change: a redelivery after a crash may still owe the timeline entry.
        if (customer.lifecycle_cause or {}).get("key") == key:
            await _lifecycle_entry(customer, None, key, step, interactions)
        return
    raise Conflict(f"customer {customer.id} kept changing; will retry")


async def _lifecycle_entry(
    customer: Customer,
    before: LifecycleStage | None,
    key: str,
    step: DealStep,
    interactions: InteractionRepository,
) -> None:
    origin = before.value if before is not None else (customer.lifecycle_cause or {}).get("from")
    await interactions.add(
        Interaction.log(
            customer_id=customer.id,
            kind=InteractionKind.LIFECYCLE_CHANGE,
            summary=f"{origin} → {customer.lifecycle.value}: {customer.lifecycle_reason}",
            details={"to": customer.lifecycle.value, "cause": customer.lifecycle_cause},
            occurred_at=step.at,
            actor_id=step.actor_id,
            actor_name=step.actor_name,
            opportunity_id=step.opportunity_id,
            interaction_id=f"{key}:lifecycle",
        )
    )


async def record_quote(
    event: CloudEvent, customers: CustomerRepository, interactions: InteractionRepository
) -> None:
    """A quote made for a deal (``pipeline.quote.created``) becomes a ``QUOTE`` entry of the
    customer's timeline; idempotent (the entry's id is the quote's)."""
    data = event.data
    try:
        customer_id = str(data["customerId"])
        quote_id = str(data["quoteId"])
        total = data["total"]
        summary = (
            f"Quote {data['number']} for deal “{data['opportunityTitle']}”: "
            f"{total['amount']} {total['currency']}, valid until {data['validUntil']}"
        )
    except (KeyError, TypeError) as exc:
        raise InvalidValue(f"{event.type} without {exc}", field="data") from exc
    customer = (await customers.resolve_many([customer_id])).get(customer_id)
    if customer is None:
        raise UnknownCustomer(f"customer {customer_id} unknown")
    details = {key: data.get(key) for key in ("quoteId", "number", "total", "validUntil", "status")}
    await interactions.add(
        Interaction.log(
            customer_id=customer.id,
            kind=InteractionKind.QUOTE,
            summary=summary,
            details=details,
            occurred_at=datetime.fromisoformat(event.time),
            actor_id=event.actorid,
            actor_name=event.actorname,
            opportunity_id=str(data.get("opportunityId")) if data.get("opportunityId") else None,
            interaction_id=f"quote:{quote_id}",
        )
    )
