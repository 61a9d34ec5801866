"""Which deals a manager's reports cover (docs/CONVENTIONS.md, Visibility), in process.

Every pipeline event carries the deal's ``team`` (null when it has none; contract-required
since the pipeline stamps it on every event). The rule, as in the pipeline's own reads: a
manager sees the deals whose team, as the deal's latest event carrying it says, is theirs, and
every deal they own. An event without the field (stored before it was required) changes
nothing: the team is learned from the deal's other events."""

from __future__ import annotations

import handbook as hb
from story import Story
from test_analytics_handbook_unit import ADMIN, context, deliver, run

from analytics.adapters.memory import MemoryDeals, MemoryEventStore
from crm_common.identity import Identity

REPORTS = """
query($p: ID!, $start: Date!, $end: Date!) {
  funnel(pipelineId: $p) { steps { entered } }
  forecast(pipelineId: $p, periodStart: $start, periodEnd: $end, method: WEIGHTED) { deals }
}
"""


async def test_a_manager_sees_their_teams_deals_by_the_events_and_their_own() -> None:
    story = Story()
    story.create(hb.d(0), owner="rep-1")  # team-1
    # Its creation event predates the field; its next event says team-1.
    learned = story.create(hb.d(0), owner="rep-1")
    story.events[-1].data.pop("team")
    story.move(learned, "Needs analysis", hb.d(1))
    # team-1, then an event without the field: still team-1.
    kept = story.create(hb.d(0), owner="rep-1")
    story.update(kept, hb.d(1), amount="1500.00").data.pop("team")
    story.create(hb.d(0), owner="rep-x", team=None)  # no team, someone else's: hidden
    story.create(hb.d(0), owner="manager-1", team=None)  # no team, but the manager's own
    # Reassigned to team-2 (an admin's explicit team): team-2's from then on.
    moved = story.create(hb.d(0), owner="rep-2")
    story.deals[moved].team = "team-2"
    story.update(moved, hb.d(2), owner="rep-2")
    store, deals = MemoryEventStore(), MemoryDeals()
    await deliver(story.events, store, deals)
    variables = {
        "p": story.pipeline_id,
        "start": hb.TODAY.isoformat(),
        "end": (hb.TODAY.replace(year=hb.TODAY.year + 1)).isoformat(),
    }

    async def seen(identity: Identity) -> tuple[int, int]:
        data = await run(REPORTS, context(store, deals, identity), variables)
        return int(data["funnel"]["steps"][0]["entered"]), int(data["forecast"]["deals"])

    manager_1 = Identity("manager-1", "m1", frozenset({"manager"}), team="team-1")
    manager_2 = Identity("manager-2", "m2", frozenset({"manager"}), team="team-2")
    no_team = Identity("manager-3", "m3", frozenset({"manager"}))
    assert await seen(ADMIN) == (6, 6)
    # The first three (team-1 by their events) and their own team-less deal.
    assert await seen(manager_1) == (4, 4)
    assert await seen(manager_2) == (1, 1)  # the reassigned deal only
    assert await seen(no_team) == (0, 0)  # a manager without a team sees their own only
