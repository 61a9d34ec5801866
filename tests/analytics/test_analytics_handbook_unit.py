"""The hand-computed fixture through the real schema and service layer, in process (in-memory
adapters): the same checks as the gateway test, in milliseconds."""

from __future__ import annotations

import random
from typing import Any, cast

import handbook as hb
import pytest
from handbook_checks import REPORTS, check, variables

from analytics.adapters.memory import MemoryDeals, MemoryEventStore
from analytics.entrypoints.context import Context, Resources
from analytics.entrypoints.messages import stored_change, to_change
from analytics.entrypoints.schema import schema
from analytics.service_layer import services
from analytics.settings import Settings
from crm_common.events import CloudEvent, utcnow
from crm_common.identity import Identity

ADMIN = Identity(user_id="admin-1", name="admin", roles=frozenset({"admin"}))


async def deliver(events: list[CloudEvent], store: MemoryEventStore, deals: MemoryDeals) -> None:
    for event in events:
        await services.record_event(
            event.id,
            event.model_dump(exclude_none=True),
            to_change(event),
            events=store,
            deals=deals,
            parse=stored_change,
            now=utcnow(),
        )


def context(store: MemoryEventStore, deals: MemoryDeals, identity: Identity = ADMIN) -> Context:
    resources = Resources(
        settings=Settings(),
        mongo=cast(Any, None),
        amqp=cast(Any, None),
        read_model=deals,
        events=store,
        history=services.HistoryCache(),
        live=cast(Any, None),
        rates=cast(Any, None),
        reporting=cast(Any, None),
        webhooks=cast(Any, None),
        webhook_address_check=cast(Any, None),
    )
    return Context(resources=resources, identity_or_none=identity)


async def run(query: str, ctx: Context, variables: dict[str, Any]) -> dict[str, Any]:
    result = await schema.execute(query, variable_values=variables, context_value=ctx)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_handbook_figures_whatever_the_delivery_order(seed: int) -> None:
    story, ids = hb.build()
    events = list(story.events)
    shuffled = random.Random(seed)
    if seed:
        events = events + shuffled.sample(events, len(events) // 2)  # duplicates
        shuffled.shuffle(events)
    store, deals = MemoryEventStore(), MemoryDeals()
    await deliver(events, store, deals)
    assert not any(state.held for state, _ in deals.states.values())
    sent = utcnow()
    data = await run(REPORTS, context(store, deals), variables(story))
    check(data, story, ids, (sent, utcnow()))


async def test_a_rep_sees_only_their_own_figures() -> None:
    story, _ = hb.build()
    store, deals = MemoryEventStore(), MemoryDeals()
    await deliver(story.events, store, deals)
    rep_b = Identity(user_id="rep-b", name="b", roles=frozenset({"rep"}))
    query = "query($p: ID!) { funnel(pipelineId: $p) { won lost steps { entered advanced } } }"
    data = await run(query, context(store, deals, rep_b), {"p": story.pipeline_id})
    assert [(s["entered"], s["advanced"]) for s in data["funnel"]["steps"]] == [
        step[:2] for step in hb.COHORT_REP_B
    ]
    other = await schema.execute(
        'query($p: ID!) { funnel(pipelineId: $p, ownerId: "rep-a") { won } }',
        variable_values={"p": story.pipeline_id},
        context_value=context(store, deals, rep_b),
    )
    assert other.errors
    assert other.errors[0].extensions == {"code": "FORBIDDEN"}


async def test_a_manager_sees_their_team_and_their_own_deals() -> None:
    story, _ = hb.build()
    other_team = story.create(hb.d(1), stage="A", owner="rep-z", team="team-2")
    own = story.create(hb.d(1), stage="A", owner="manager-9", team="team-2")
    store, deals = MemoryEventStore(), MemoryDeals()
    await deliver(story.events, store, deals)
    query = "query($p: ID!) { funnel(pipelineId: $p) { steps { entered } } }"

    async def entered(identity: Identity) -> int:
        data = await run(query, context(store, deals, identity), {"p": story.pipeline_id})
        return int(data["funnel"]["steps"][0]["entered"])

    team_1 = Identity("manager-1", "m1", frozenset({"manager"}), team="team-1")
    team_9 = Identity("manager-9", "m9", frozenset({"manager"}), team="team-3")
    assert await entered(ADMIN) == 9
    assert await entered(team_1) == 7  # the handbook's seven; not rep-z's nor manager-9's
    assert await entered(team_9) == 1  # only their own
    assert other_team != own
