"""End to end: real ``analytics-api`` and ``analytics-worker`` processes, real RabbitMQ and
MongoDB/SecantusDB, hand-made CloudEvents published on ``crm.events``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx

from crm_common.events import CONTENT_TYPE, EXCHANGE

DAY0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

ALL_REPORTS = """
query($p: ID!) {
  cohort: funnel(pipelineId: $p) { won lost steps { stageId entered advanced conversionRate
      cumulativeRate } }
  snapshot: funnel(pipelineId: $p, method: SNAPSHOT) { won lost steps { entered advanced
      conversionRate cumulativeRate } }
  stageDurations(pipelineId: $p) { stageId deals stays meanDays medianDays p90Days
      cumulativeMeanDays currentDeals bottleneck }
  salesPerformance(pipelineId: $p) { openDeals won lost winRate avgWonAmount { amount currency }
      avgCycleDays velocity { amount } owners { ownerId openDeals won } }
  weighted: forecast(pipelineId: $p, periodStart: "2026-01-01", periodEnd: "2026-12-31", method:
      WEIGHTED) { expected { amount currency } low { amount } high { amount } deals }
  markov: forecast(pipelineId: $p, periodStart: "2026-01-01", periodEnd: "2027-12-31", method:
      MARKOV) { expected { amount currency } deals }
  pipelineAsOf(pipelineId: $p, at: "2030-01-01T00:00:00Z") { stageId count amount { amount
      currency } }
}
"""


async def uninterrupted(events: list[Any], query: str, variables: dict[str, Any]) -> Any:
    """The reports of ``events`` applied once, in order, by the service layer in process."""
    from test_analytics_handbook_unit import context, deliver, run

    from analytics.adapters.memory import MemoryDeals, MemoryEventStore

    store, deals = MemoryEventStore(), MemoryDeals()
    await deliver(events, store, deals)
    return await run(query, context(store, deals), variables)


def summary(report: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(s["stageName"], s["entered"], s["advanced"]) for s in report["steps"]]


def settled(expected: list[tuple[str, int, int]], won: int, lost: int) -> Any:
    def check(report: dict[str, Any]) -> bool:
        return summary(report) == expected and (report["won"], report["lost"]) == (won, lost)

    return check


async def test_funnel_counts_published_events(
    worker: Any, graphql: Any, publisher: Any, scenario: Any, eventually: Any
) -> None:
    # d1 stays in Initial contact; d2 moves to Needs analysis; d3 skips Proposal into
    # Negotiation; d4 is won from Needs analysis; d5 is lost from Proposal; d6 goes back and
    # forth between Needs analysis and Initial contact (counted once per stage).
    hour = timedelta(hours=1)
    _d1, created1 = scenario.create(owner="rep-1", at=DAY0)
    d2, created2 = scenario.create(owner="rep-1", at=DAY0 + hour)
    d3, created3 = scenario.create(owner="rep-2", at=DAY0 + 2 * hour)
    d4, created4 = scenario.create(owner="rep-2", at=DAY0 + 3 * hour)
    d5, created5 = scenario.create(owner="rep-1", at=DAY0 + timedelta(days=2))
    d6, created6 = scenario.create(stage="Needs analysis", owner="rep-2", at=DAY0 + 4 * hour)
    later = DAY0 + timedelta(days=3)
    events = [
        created1,
        created2,
        scenario.move(d2, "Needs analysis", at=later),
        created3,
        scenario.move(d3, "Needs analysis", at=later),
        scenario.move(d3, "Negotiation", at=later + hour),
        created4,
        scenario.move(d4, "Needs analysis", at=later),
        scenario.move(d4, "Won", at=later + hour),
        created5,
        scenario.move(d5, "Proposal", at=later),
        scenario.move(d5, "Lost", at=later + hour),
        created6,
        scenario.move(d6, "Initial contact", at=later),
        scenario.move(d6, "Needs analysis", at=later + hour),
    ]
    for event in events:
        await publisher.publish(event)

    # Initial contact: entered all 6, advanced d2 d3 d4 d5 d6 = 5
    # Needs analysis: entered d2 d3 d4 d5 d6 = 5, advanced d3 d4 d5 = 3
    # Proposal: entered d3 d4 d5 = 3, advanced d3 d4 = 2
    # Negotiation: entered d3 d4 = 2, advanced d4 = 1
    expected = [
        ("Initial contact", 6, 5),
        ("Needs analysis", 5, 3),
        ("Proposal", 3, 2),
        ("Negotiation", 2, 1),
    ]
    report = await eventually(
        lambda: graphql.funnel(scenario.pipeline_id),
        settled(expected, won=1, lost=1),
        what="funnel of all deals",
    )
    assert report["pipelineId"] == scenario.pipeline_id
    assert report["method"] == "COHORT"
    assert [s["stageId"] for s in report["steps"]] == [s["id"] for s in scenario.stages[:4]]
    rates = [(s["conversionRate"], s["cumulativeRate"]) for s in report["steps"]]
    assert rates == [(5 / 6, 1.0), (3 / 5, 5 / 6), (2 / 3, 3 / 6), (1 / 2, 2 / 6)]

    # ownerId: rep-1 owns d1 d2 d5.
    by_owner = await graphql.funnel(scenario.pipeline_id, ownerId="rep-1")
    assert summary(by_owner) == [
        ("Initial contact", 3, 2),
        ("Needs analysis", 2, 1),
        ("Proposal", 1, 0),
        ("Negotiation", 0, 0),
    ]
    assert (by_owner["won"], by_owner["lost"]) == (0, 1)

    # from/to filter on creation time, half-open: the first day holds d1 d2 d3 d4 d6.
    first_day = await graphql.funnel(
        scenario.pipeline_id,
        **{"from": DAY0.isoformat(), "to": (DAY0 + timedelta(days=1)).isoformat()},
    )
    assert summary(first_day) == [
        ("Initial contact", 5, 4),
        ("Needs analysis", 4, 2),
        ("Proposal", 2, 2),
        ("Negotiation", 2, 1),
    ]
    assert (first_day["won"], first_day["lost"]) == (1, 0)
    since_day_two = await graphql.funnel(
        scenario.pipeline_id, **{"from": (DAY0 + timedelta(days=2)).isoformat()}
    )
    assert summary(since_day_two)[0] == ("Initial contact", 1, 1)
    assert (since_day_two["won"], since_day_two["lost"]) == (0, 1)


async def test_redelivered_event_counts_once(
    worker: Any, graphql: Any, publisher: Any, scenario: Any, mongo_db: Any, eventually: Any
) -> None:
    deal, created = scenario.create()
    moved = scenario.move(deal, "Proposal")
    marker, marker_created = scenario.create()
    for event in (created, created, moved, moved, created):
        await publisher.publish(event)
    await publisher.publish(marker_created)  # published last: once it counts, all were handled

    expected = [
        ("Initial contact", 2, 1),
        ("Needs analysis", 1, 1),
        ("Proposal", 1, 0),
        ("Negotiation", 0, 0),
    ]
    await eventually(
        lambda: graphql.funnel(scenario.pipeline_id),
        settled(expected, won=0, lost=0),
        what="funnel after duplicates",
    )

    async def stored() -> int:
        count: int = await mongo_db.events.count_documents({"subject": {"$in": [deal, marker]}})
        return count

    await eventually(stored, lambda n: n == 3, what="three distinct events stored")
    stored_ids = {e["_id"] async for e in mongo_db.events.find({"subject": deal})}
    assert stored_ids == {created.id, moved.id}
    # Give any straggling duplicate a moment, then check nothing changed.
    await asyncio.sleep(0.5)
    assert summary(await graphql.funnel(scenario.pipeline_id)) == expected


async def dead_letters(
    channel: Any, dlq: str, wanted: set[str], within: float = 30.0
) -> dict[str, Any]:
    """Messages of ``dlq`` whose message id is in ``wanted``, by message id."""
    queue = await channel.declare_queue(dlq, passive=True)
    found: dict[str, Any] = {}
    deadline = time.monotonic() + within
    while set(found) != wanted and time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.2)
            continue
        if message.message_id in wanted:
            found[message.message_id] = message
    return found


async def test_poison_messages_go_to_the_dead_letter_queue(
    worker: Any,
    graphql: Any,
    publisher: Any,
    scenario: Any,
    amqp_connection: Any,
    run_config: Any,
    eventually: Any,
) -> None:
    channel = await amqp_connection.channel()
    exchange = await channel.get_exchange(EXCHANGE)
    not_json, bad_envelope, bad_payload = (str(uuid.uuid4()) for _ in range(3))

    async def publish_raw(body: bytes, message_id: str) -> None:
        await exchange.publish(
            aio_pika.Message(body=body, content_type=CONTENT_TYPE, message_id=message_id),
            routing_key="pipeline.opportunity.created",
        )

    await publish_raw(b"this is { not json", not_json)
    _deal, valid = scenario.create()
    envelope = json.loads(valid.to_json())
    del envelope["subject"]  # CloudEvent without its required subject
    envelope["id"] = bad_envelope
    await publish_raw(json.dumps(envelope).encode(), bad_envelope)
    payload_invalid = json.loads(valid.to_json())
    payload_invalid["id"] = bad_payload
    del payload_invalid["data"]["pipelineId"]  # envelope fine, payload breaks the contract
    await publish_raw(json.dumps(payload_invalid).encode(), bad_payload)
    await publisher.publish(valid)  # the worker keeps consuming after the poison

    await eventually(
        lambda: graphql.funnel(scenario.pipeline_id),
        lambda report: bool(report["steps"]) and report["steps"][0]["entered"] == 1,
        what="valid event after poison counted",
    )
    found = await dead_letters(channel, run_config.dlq, {not_json, bad_envelope, bad_payload})
    await channel.close()

    assert set(found) == {not_json, bad_envelope, bad_payload}
    reasons = {key: str(m.headers["x-death-reason"]) for key, m in found.items()}
    assert "not a valid CloudEvent" in reasons[not_json]
    assert "not a valid CloudEvent" in reasons[bad_envelope]
    assert "subject" in reasons[bad_envelope]
    assert "rejected by handler" in reasons[bad_payload]
    assert "pipelineId" in reasons[bad_payload]
    assert found[not_json].body == b"this is { not json"
    assert all(
        m.headers["x-original-routing-key"] == "pipeline.opportunity.created"
        for m in found.values()
    )
    assert worker.running


async def test_sigkill_mid_stream_then_restart_gives_the_same_figures(
    worker: Any, graphql: Any, publisher: Any, scenario: Any, mongo_db: Any, eventually: Any
) -> None:
    # 60 deals: each created, then moved on by how far it gets (0-4 steps, 4 = won):
    # 12 deals per depth, 180 events in all. A small prefetch slows the worker down enough
    # for the kill to land mid-stream even on a fast database.
    worker.signal(signal.SIGTERM)
    worker.start(ANALYTICS_PREFETCH="1")
    path = ["Needs analysis", "Proposal", "Negotiation", "Won"]
    events = []
    subjects = []
    for index in range(60):
        deal, created = scenario.create()
        subjects.append(deal)
        events.append(created)
        events.extend(scenario.move(deal, stage) for stage in path[: index % 5])
    for event in events:
        await publisher.publish(event)

    async def processed() -> int:
        count: int = await mongo_db.events.count_documents({"subject": {"$in": subjects}})
        return count

    seen = await eventually(processed, lambda n: n >= 10, interval=0.02, what="first events")
    code = worker.signal(signal.SIGKILL)
    assert code == -signal.SIGKILL
    at_kill = await processed()
    worker.start()

    # Initial contact: 60 entered, 48 advanced; Needs analysis: 48/36; Proposal 36/24;
    # Negotiation 24/12 (the 12 won ones passed it).
    expected = [
        ("Initial contact", 60, 48),
        ("Needs analysis", 48, 36),
        ("Proposal", 36, 24),
        ("Negotiation", 24, 12),
    ]
    await eventually(
        lambda: graphql.funnel(scenario.pipeline_id),
        settled(expected, won=12, lost=0),
        within=60,
        what="funnel after the restart",
    )
    await eventually(processed, lambda n: n == len(events), what="every event stored once")
    # Every report equals the one an uninterrupted run gives (the same events, in order, in
    # process with in-memory adapters).
    live = await graphql.execute(ALL_REPORTS, {"p": scenario.pipeline_id})
    assert "errors" not in live, live
    reference = await uninterrupted(events, ALL_REPORTS, {"p": scenario.pipeline_id})
    assert live["data"] == reference
    # Evidence that the kill really happened mid-stream (not after everything was handled).
    assert seen < len(events), f"all {len(events)} events were handled before the kill"
    assert at_kill < len(events)


DEALS_FOR_SIGTERM = 250


async def test_sigterm_mid_stream_stops_cleanly_and_loses_nothing(
    worker: Any,
    graphql: Any,
    publisher: Any,
    scenario: Any,
    mongo_db: Any,
    eventually: Any,
    run_config: Any,
) -> None:
    worker.signal(signal.SIGTERM)
    worker.start(ANALYTICS_PREFETCH="1")  # batches of one: the stop lands mid-stream
    events, subjects = [], []
    # Enough events that a prefetch-1 worker cannot finish them all before the SIGTERM below
    # lands, even on an idle machine (80 were not always enough).
    for _ in range(DEALS_FOR_SIGTERM):
        deal, created = scenario.create()
        subjects.append(deal)
        events += [created, scenario.move(deal, "Proposal")]
    for event in events:
        await publisher.publish(event)

    async def processed() -> int:
        count: int = await mongo_db.events.count_documents({"subject": {"$in": subjects}})
        return count

    await eventually(processed, lambda n: n >= 5, interval=0.02, what="first events")
    beat = run_config.heartbeat_path
    assert time.time() - beat.stat().st_mtime < 5, "a consuming worker keeps its heartbeat fresh"
    code = worker.signal(signal.SIGTERM)
    at_stop = await processed()

    assert code == 0, worker.log_tail()
    assert not beat.exists(), "a stopped worker removes its heartbeat"
    assert at_stop < len(events), "every event was handled before the stop: not mid-stream"
    lines = worker.log_tail(400).split("--- start")[-1].splitlines()
    log = [json.loads(line) for line in lines if line.startswith("{")]
    messages = [entry["message"] for entry in log]
    assert "worker stopping" in messages
    assert messages[-1] == "worker stopped"
    assert all(entry.get("service") == "analytics-worker" for entry in log)
    assert all(entry["level"] in ("INFO", "DEBUG") for entry in log), messages

    worker.start()
    expected = [
        ("Initial contact", DEALS_FOR_SIGTERM, DEALS_FOR_SIGTERM),
        ("Needs analysis", DEALS_FOR_SIGTERM, DEALS_FOR_SIGTERM),
        ("Proposal", DEALS_FOR_SIGTERM, 0),
        ("Negotiation", 0, 0),
    ]
    await eventually(
        lambda: graphql.funnel(scenario.pipeline_id),
        settled(expected, won=0, lost=0),
        within=60,
        what="funnel after a graceful restart",
    )
    await eventually(processed, lambda n: n == len(events), what="every event stored once")


async def test_graphql_needs_a_valid_token(api: Any, run_config: Any) -> None:
    query = {"query": '{ funnel(pipelineId: "x") { won } }'}
    async with httpx.AsyncClient() as client:
        missing = await client.post(f"{run_config.api_url}/graphql", json=query)
        forged = await client.post(
            f"{run_config.api_url}/graphql",
            json=query,
            headers={"Authorization": "Bearer not-a-token"},
        )
    assert missing.status_code == 401
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert forged.status_code == 401


async def test_unknown_pipeline_snapshot_and_rep_scope(
    api: Any, graphql: Any, run_config: Any
) -> None:
    unknown = await graphql.funnel(f"never-seen-{uuid.uuid4()}")
    assert (unknown["steps"], unknown["won"], unknown["lost"]) == ([], 0, 0)

    snapshot = await graphql.execute(
        "query($p: ID!) { funnel(pipelineId: $p, method: SNAPSHOT)"
        " { method won steps { entered } } }",
        {"p": "x"},
    )
    assert snapshot["data"]["funnel"] == {"method": "SNAPSHOT", "won": 0, "steps": []}
    backwards = await graphql.execute(
        'query { funnel(pipelineId: "x", from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z")'
        " { won } }"
    )
    assert backwards["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    rep = type(graphql)(run_config.api_url, run_config.token(["rep"], user_id="rep-1"))
    forbidden = await rep.execute('query { funnel(pipelineId: "x", ownerId: "rep-2") { won } }')
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    own = await rep.execute('query { funnel(pipelineId: "x", ownerId: "rep-1") { won } }')
    assert "errors" not in own


async def test_health_metrics_and_federation_sdl(api: Any, graphql: Any, run_config: Any) -> None:
    async with httpx.AsyncClient() as client:
        live = await client.get(f"{run_config.api_url}/health/live")
        ready = await client.get(f"{run_config.api_url}/health/ready")
        metrics = await client.get(f"{run_config.api_url}/metrics")
    assert live.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"mongo": "ok", "amqp": "ok"}}
    assert "crm_mongo_commands_total" in metrics.text

    sdl = (await graphql.execute("{ _service { sdl } }"))["data"]["_service"]["sdl"]
    assert "specs.apollo.dev/federation/v2" in sdl
    assert "enum ConversionMethod" in sdl
    assert "enum ForecastMethod" in sdl
    assert "funnel(pipelineId: ID!, from: DateTime" in sdl
