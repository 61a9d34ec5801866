"""The plan snapshots of the differential corpus, without Node: every corpus query planned on
the committed composed supergraph (corpus/supergraphs, kept equal to @apollo/composition's
output by test_gateway_differential.py) gives the committed plan (corpus/plans)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from corpus.cases import CORPORA
from corpus.model import Corpus, Query

from gateway.engine import GatewayEngine, RequestError
from gateway.planning import plan_to_data
from gateway.supergraph import load_supergraph
from gateway.transport import SubgraphTransport

CORPUS = Path(__file__).resolve().parent / "corpus"

CASES = [
    pytest.param(corpus, query, id=f"{corpus.name}-{index}")
    for corpus in CORPORA
    for index, query in enumerate(corpus.queries)
]


@cache
def _engine(name: str) -> GatewayEngine:
    supergraph = load_supergraph((CORPUS / "supergraphs" / f"{name}.graphql").read_text())
    # Planning only: the transport is never used.
    transport = SubgraphTransport(None, {n: g.url for n, g in supergraph.graphs.items()})  # type: ignore[arg-type]
    return GatewayEngine(supergraph, transport)


@cache
def _snapshot(name: str) -> dict[str, Any]:
    path = CORPUS / "plans" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def test_every_corpus_has_a_committed_supergraph() -> None:
    committed = {p.stem for p in (CORPUS / "supergraphs").glob("*.graphql")}
    assert committed == {c.name for c in CORPORA}


@pytest.mark.parametrize(("corpus", "query"), CASES)
def test_plan_is_the_snapshot(corpus: Corpus, query: Query) -> None:
    engine = _engine(corpus.name)
    entry = _snapshot(corpus.name).get(query.query)
    try:
        prepared = engine.prepare(query.query, query.operation_name)
    except RequestError:
        assert entry is None
        return
    if entry is None:
        pytest.skip("Apollo Gateway rejects the request before planning: no snapshot")
    plan = engine.planner.plan(
        prepared.document, prepared.text, prepared.operation_name, engine.planner.roll_labels()
    )
    assert plan_to_data(plan) == entry["plan"], "plan changed: review, then GATEWAY_UPDATE_PLANS=1"
