"""Differential tests: our gateway against @apollo/gateway on the corpus of small supergraphs
(tests/gateway/corpus). For every query, our ``data`` equals Apollo Gateway's and both agree
on whether there are errors; where Apollo Gateway is itself wrong, the query says why and the
test asserts what the federation spec says. Each query's plan is snapshot-tested
(corpus/plans/<corpus>.json, rewrite with GATEWAY_UPDATE_PLANS=1) and never makes more
subgraph fetches than Apollo's plan for the same query."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus.cases import CORPORA
from corpus.harness import Peers, running_peers
from corpus.model import Corpus, Query

from gateway.engine import GatewayEngine, RequestError
from gateway.planning import Condition, Fetch, Flatten, Parallel, PlanNode, Sequence, plan_to_data
from gateway.supergraph import load_supergraph
from gateway.transport import SubgraphTransport
from gateway.transport.http import new_session

PLANS = Path(__file__).resolve().parent / "corpus" / "plans"
SUPERGRAPHS = Path(__file__).resolve().parent / "corpus" / "supergraphs"
COMMITTED_BASE = "http://corpus.invalid"
UPDATE = os.environ.get("GATEWAY_UPDATE_PLANS") == "1"

CASES = [
    pytest.param(corpus, query, id=f"{corpus.name}-{index}")
    for corpus in CORPORA
    for index, query in enumerate(corpus.queries)
]


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    with running_peers(tmp_path_factory.mktemp("differential")) as running:
        yield running


@pytest.fixture(scope="module")
async def engines(peers: Peers) -> AsyncIterator[dict[str, GatewayEngine]]:
    async with new_session() as client:
        engines = {}
        for name, sdl in peers.supergraphs.items():
            supergraph = load_supergraph(sdl)
            transport = SubgraphTransport(client, {n: g.url for n, g in supergraph.graphs.items()})
            engines[name] = GatewayEngine(supergraph, transport)
        yield engines


async def _ours(engine: GatewayEngine, query: Query) -> tuple[dict[str, Any], Any]:
    try:
        prepared = engine.prepare(query.query, query.operation_name)
        variables = query.variables or {}
        response = await engine.execute(prepared, variables, {}, explain=True)
    except RequestError as exc:
        return {"errors": exc.errors}, None
    plan = response.pop("extensions", {}).get("queryPlan")
    return response, plan


def _fetch_count(node: PlanNode | None) -> int:
    fetches: set[int] = set()

    def walk(n: PlanNode) -> None:
        if isinstance(n, Fetch):
            fetches.add(id(n))
        elif isinstance(n, Flatten):
            walk(n.node)
        elif isinstance(n, Condition):
            for clause in (n.if_clause, n.else_clause):
                if clause is not None:
                    walk(clause)
        elif isinstance(n, Sequence | Parallel):
            for child in n.nodes:
                walk(child)

    if node is not None:
        walk(node)
    return len(fetches)


def _ordered(value: Any) -> Any:
    """JSON data as nested lists of pairs: equal only with the same keys in the same order
    (numbers compare by value: JavaScript prints 4.0 as 4)."""
    if isinstance(value, dict):
        return [(k, _ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def test_every_corpus_composes(peers: Peers) -> None:
    assert peers.composition_errors == {}
    assert len(peers.supergraphs) >= 25


def test_committed_supergraphs_are_the_composed_ones(peers: Peers) -> None:
    """corpus/supergraphs/<corpus>.graphql is what @apollo/composition composes now, so
    that the plan snapshots run without Node (test_gateway_plan_snapshots.py). The subgraph
    URLs are written with a placeholder host: the corpus server's port changes every run."""
    composed = {
        name: sdl.replace(peers.subgraph_base, COMMITTED_BASE)
        for name, sdl in peers.supergraphs.items()
    }
    if UPDATE:
        SUPERGRAPHS.mkdir(exist_ok=True)
        for name, sdl in composed.items():
            (SUPERGRAPHS / f"{name}.graphql").write_text(sdl)
    committed = {p.stem: p.read_text() for p in SUPERGRAPHS.glob("*.graphql")}
    assert committed == composed, "recompose: GATEWAY_UPDATE_PLANS=1"


def _plan_snapshot(corpus: Corpus) -> dict[str, Any]:
    path = PLANS / f"{corpus.name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@pytest.mark.parametrize(("corpus", "query"), CASES)
async def test_same_answer_as_apollo_gateway(
    corpus: Corpus, query: Query, peers: Peers, engines: dict[str, GatewayEngine]
) -> None:
    engine = engines[corpus.name]
    apollo = peers.apollo(
        corpus.name,
        {"query": query.query, "variables": query.variables, "operationName": query.operation_name},
    )
    ours, _ = await _ours(engine, query)
    theirs = apollo["response"]
    if query.apollo_wrong:
        assert query.expected is not None
        assert ours.get("data") == query.expected.get("data"), query.apollo_wrong
        assert bool(ours.get("errors")) == bool(query.expected.get("errors"))
        assert ours.get("data") != theirs.get("data"), "Apollo Gateway is right now: compare"
        return
    assert ("data" in ours) == ("data" in theirs), (ours, theirs)
    assert _ordered(ours.get("data")) == _ordered(theirs.get("data")), (ours, theirs)
    if query.apollo_errors_wrong:
        assert ours.get("errors"), query.apollo_errors_wrong
        assert not theirs.get("errors"), "Apollo Gateway reports errors now: compare"
        return
    assert bool(ours.get("errors")) == bool(theirs.get("errors")), (ours, theirs)


@pytest.mark.parametrize(("corpus", "query"), CASES)
def test_plan_snapshot_and_no_more_fetches_than_apollo(
    corpus: Corpus, query: Query, peers: Peers, engines: dict[str, GatewayEngine]
) -> None:
    engine = engines[corpus.name]
    try:
        prepared = engine.prepare(query.query, query.operation_name)
    except RequestError:
        pytest.skip("a request error: nothing is planned")
    plan = engine.planner.plan(
        prepared.document, prepared.text, prepared.operation_name, engine.planner.roll_labels()
    )
    ours = _fetch_count(plan.node)
    apollo = peers.apollo(
        corpus.name,
        {"query": query.query, "variables": query.variables, "operationName": query.operation_name},
    )
    if apollo["plan"] is None and "data" not in apollo["response"]:
        pytest.skip("Apollo Gateway rejects the request before planning (e.g. its variables)")
    theirs = apollo["fetches"] or 0
    entry = {"plan": plan_to_data(plan), "fetches": ours, "apolloFetches": theirs}
    snapshot_path = PLANS / f"{corpus.name}.json"
    snapshot = _plan_snapshot(corpus)
    if UPDATE:
        snapshot[query.query] = entry
        PLANS.mkdir(exist_ok=True)
        snapshot_path.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    else:
        assert snapshot.get(query.query) == entry, (
            "plan changed: review, then GATEWAY_UPDATE_PLANS=1"
        )
    if not query.apollo_wrong:
        assert ours <= theirs, (plan_to_data(plan), apollo["plan"])


async def test_errors_never_name_a_field_the_client_did_not_select(
    peers: Peers, engines: dict[str, GatewayEngine]
) -> None:
    """Issue 13, class 2: tier fails for Eve while fetched only as label's @requires input;
    the error stands at Eve's entity, the client never selected tier. (Apollo Gateway
    reports it at users.2.tier.)"""
    query = Query("{ users { id label } }")
    ours, _ = await _ours(engines["requires_transitive"], query)
    assert ours["errors"] == [
        {
            "message": "tiers are down for Eve",
            "path": ["users", 2],
            "extensions": {"code": "TIER_DOWN"},
        }
    ]
    theirs = peers.apollo("requires_transitive", {"query": query.query})["response"]
    assert [e["path"] for e in theirs["errors"]] == [["users", 2, "tier"]]


async def test_an_error_of_an_aliased_field_names_the_clients_key(
    peers: Peers, engines: dict[str, GatewayEngine]
) -> None:
    """Issue 13, class 9: Movie.code is sent to shop under a gateway alias (Book.code is ID!
    there); m2's code fails, and the error stands at the client's key, as Apollo's does."""
    for text, path in [
        ("{ items { ... on Book { code } ... on Movie { code rating } } }", ["items", 2, "code"]),
        ("{ feed { ... on Movie { code } ... on Book { code } } }", ["feed", 0, "code"]),
    ]:
        ours, _ = await _ours(engines["field_merging_conflicts"], Query(text))
        assert [e["path"] for e in ours["errors"]] == [path]
        theirs = peers.apollo("field_merging_conflicts", {"query": text})["response"]
        assert [e["path"] for e in theirs["errors"]] == [path]
