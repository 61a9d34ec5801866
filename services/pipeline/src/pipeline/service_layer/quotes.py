"""Use cases of quotes; each takes (command, uow). A quote is seen and changed by whoever
sees and changes its deal (the deal's owner and team, copied onto the quote)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from crm_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from pipeline.domain import access
from pipeline.domain.model import OpportunityStatus
from pipeline.domain.quotes import InvalidQuote, Quote, QuoteStatus, quote_number
from pipeline.service_layer.commands import WinOpportunity
from pipeline.service_layer.ports import Actor
from pipeline.service_layer.services import (
    Clock,
    IdFactory,
    new_id,
    now,
    require_customer_visible,
    win_opportunity,
)
from pipeline.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class CreateQuote:
    opportunity_id: str
    valid_until: date
    actor: Actor = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class AnswerQuote:
    """Send, accept or decline (``status``) a quote."""

    quote_id: str
    status: QuoteStatus
    expected_version: int | None = None
    actor: Actor = field(kw_only=True)


def _bad(exc: InvalidQuote) -> BadUserInput:
    return BadUserInput(exc.message, field=exc.field, reason=exc.reason)


async def create_quote(
    cmd: CreateQuote, uow: UnitOfWork, *, clock: Clock = now, make_id: IdFactory = new_id
) -> Quote:
    opportunity = await uow.opportunities.get(cmd.opportunity_id)
    if opportunity is None:
        raise NotFound(f"opportunity {cmd.opportunity_id} does not exist")
    if not access.can_change(cmd.actor.viewer, opportunity.owner_id, opportunity.team):
        raise Forbidden(f"you may not quote opportunity {opportunity.id}")
    await require_customer_visible(uow.customers, cmd.actor, opportunity.customer_id)
    at = clock()
    try:
        draft = Quote.freeze(
            id=make_id(),
            number="",
            opportunity_id=opportunity.id,
            opportunity_title=opportunity.title,
            customer_id=opportunity.customer_id,
            owner_id=opportunity.owner_id,
            team=opportunity.team,
            items=opportunity.line_items,
            valid_until=cmd.valid_until,
            created_by=cmd.actor.user_id,
            at=at,
        )
    except InvalidQuote as exc:
        raise _bad(exc) from exc
    # The number is drawn only for a valid quote (no gaps from refused ones).
    number = quote_number(at.year, await uow.quotes.next_number(at.year))
    quote = replace(draft, number=number)
    await uow.quotes.add(quote, by=cmd.actor)
    return quote


async def visible_quote(quote_id: str, actor: Actor, uow: UnitOfWork) -> Quote:
    quote = await uow.quotes.get(quote_id)
    if quote is None or not access.can_read(actor.viewer, quote.owner_id, quote.team):
        raise NotFound(f"quote {quote_id} does not exist")
    return quote


async def answer_quote(
    cmd: AnswerQuote, uow: UnitOfWork, *, accept_wins: bool, clock: Clock = now
) -> Quote:
    """The quote's new status, in one write with its event; accepting may then win its deal
    (an open deal only; the win is the deal's own write and event)."""
    quote = await visible_quote(cmd.quote_id, cmd.actor, uow)
    if not access.can_change(cmd.actor.viewer, quote.owner_id, quote.team):
        raise Forbidden(f"you may not change quote {quote.number}")
    if cmd.expected_version is not None and cmd.expected_version != quote.version:
        raise _conflict(quote)
    try:
        answered = quote.moved_to(cmd.status, at=clock())
    except InvalidQuote as exc:
        raise _bad(exc) from exc
    if not await uow.quotes.save(answered, quote.version, by=cmd.actor):
        current = await uow.quotes.get(quote.id)
        raise _conflict(current or quote)
    if cmd.status is QuoteStatus.ACCEPTED and accept_wins:
        deal = await uow.opportunities.get(quote.opportunity_id)
        if deal is not None and deal.status is OpportunityStatus.OPEN:
            await win_opportunity(WinOpportunity(deal.id, actor=cmd.actor), uow)
    return answered


def _conflict(quote: Quote) -> Conflict:
    return Conflict(
        f"quote {quote.number} is at version {quote.version}: reload it and try again",
        currentVersion=quote.version,
    )
