"""Quotes in the pipeline subgraph: the type, its mutations, and ``Opportunity.quotes``."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from crm_common.errors import NotFound
from pipeline.domain import quotes as domain
from pipeline.entrypoints.graphql_types import (
    Ctx,
    LineItem,
    Money,
    Opportunity,
    described_field,
    described_mutation,
)
from pipeline.service_layer import quotes

QuoteStatus = strawberry.enum(domain.QuoteStatus, name="QuoteStatus")


@strawberry.type(description="A deal's line items frozen into a numbered offer.")
class Quote:
    id: strawberry.ID
    number: str
    opportunity_id: strawberry.ID
    customer_id: strawberry.ID
    items: list[LineItem]
    total: Money
    valid_until: date
    status: QuoteStatus  # type: ignore[valid-type]
    version: int
    created_at: datetime
    updated_at: datetime
    html_url: str = strawberry.field(description="The printable HTML, through the gateway.")
    pdf_url: str = strawberry.field(description="The PDF, through the gateway.")

    @classmethod
    def of(cls, quote: domain.Quote) -> Quote:
        path = f"/documents/quotes/{quote.id}"
        return cls(
            id=strawberry.ID(quote.id),
            number=quote.number,
            opportunity_id=strawberry.ID(quote.opportunity_id),
            customer_id=strawberry.ID(quote.customer_id),
            items=[LineItem.of(line) for line in quote.items],
            total=Money.of(quote.total),
            valid_until=quote.valid_until,
            status=quote.status,
            version=quote.version,
            created_at=quote.created_at,
            updated_at=quote.updated_at,
            html_url=f"{path}.html",
            pdf_url=f"{path}.pdf",
        )


async def opportunity_quotes(opportunity: Opportunity, info: Ctx) -> list[Quote]:
    found = await info.context.services.uow.quotes.of_opportunities([str(opportunity.id)])
    return [Quote.of(q) for q in found.get(str(opportunity.id), [])]


@strawberry.type
class QuoteQuery:
    @described_field("A quote, for whoever may see its deal.")
    async def quote(self, info: Ctx, id: strawberry.ID) -> Quote | None:
        try:
            found = await quotes.visible_quote(
                str(id), info.context.actor, info.context.services.uow
            )
        except NotFound:
            return None
        return Quote.of(found)


async def _answer(
    info: Ctx, id: strawberry.ID, status: domain.QuoteStatus, expected_version: int | None
) -> Quote:
    svc = info.context.services
    answered = await quotes.answer_quote(
        quotes.AnswerQuote(str(id), status, expected_version, actor=info.context.actor),
        svc.uow,
        accept_wins=svc.settings.quote_accept_wins,
    )
    return Quote.of(answered)


@strawberry.type
class QuoteMutation:
    @described_mutation(
        "Freeze the deal's line items into a numbered DRAFT quote valid until the date; a QUOTE "
        "entry goes into the customer's timeline (pipeline.quote.created)."
    )
    async def create_quote(
        self, info: Ctx, opportunity_id: strawberry.ID, valid_until: date
    ) -> Quote:
        quote = await quotes.create_quote(
            quotes.CreateQuote(str(opportunity_id), valid_until, actor=info.context.actor),
            info.context.services.uow,
        )
        return Quote.of(quote)

    @described_mutation("Mark a draft quote as sent to the customer.")
    async def send_quote(
        self, info: Ctx, id: strawberry.ID, expected_version: int | None = None
    ) -> Quote:
        return await _answer(info, id, domain.QuoteStatus.SENT, expected_version)

    @described_mutation(
        "The customer accepted: the quote is ACCEPTED and, unless the service is configured "
        "otherwise (PIPELINE_QUOTE_ACCEPT_WINS=false), its open deal is won."
    )
    async def accept_quote(
        self, info: Ctx, id: strawberry.ID, expected_version: int | None = None
    ) -> Quote:
        return await _answer(info, id, domain.QuoteStatus.ACCEPTED, expected_version)

    @described_mutation("The customer declined the quote.")
    async def decline_quote(
        self, info: Ctx, id: strawberry.ID, expected_version: int | None = None
    ) -> Quote:
        return await _answer(info, id, domain.QuoteStatus.DECLINED, expected_version)
