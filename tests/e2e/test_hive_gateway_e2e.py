"""Our graph on Hive Gateway (tools/hive-gateway): it reads the same schema registry as our
gateway, serves the suite's real subgraphs, answers a query across all three as ours does,
forwards the caller's token (a rep sees only their own customers), and follows a publish."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crmstack.ports import free_port
from crmstack.processes import ManagedProcess
from devstack import ROOT, Suite, make_token
from support.graphql import admin_post
from support.polling import eventually_sync

HIVE = ROOT / "tools" / "hive-gateway"
PIPELINE_SDL = ROOT / "contracts" / "subgraphs" / "pipeline.graphql"
CRM_GRAPH = Path(sys.executable).parent / "crm-graph"
ACROSS_SUBGRAPHS = """
query Across {
  customers(first: 50) { edges { node { id name lifecycle
    opportunities { title amount { amount currency } stage { name } } } } }
  pipelines { name stages { name kind } }
  funnel(pipelineId: "default") { won lost steps { stageName entered } }
}"""


@pytest.fixture(scope="module")
def hive(suite: Suite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    sys.path.insert(0, str(ROOT / "tests" / "gateway"))
    from corpus.harness import ensure_node_modules

    ensure_node_modules(HIVE)
    port = free_port()
    env = {
        **suite.env(),
        "GATEWAY_REGISTRY_URL": suite.mongodb_url,
        "GATEWAY_REGISTRY_DATABASE": f"registry{suite.database_suffix}",
        "HIVE_POLLING_SECONDS": "10",
        "NODE_ENV": "production",
    }
    process = ManagedProcess(
        "hive-gateway",
        [str(HIVE / "node_modules" / ".bin" / "hive-gateway"), "supergraph", "-c",
         "gateway.config.mjs", "--host", "127.0.0.1", "--port", str(port)],
        env,
        tmp_path_factory.mktemp("hive") / "hive-gateway.log",
        ready_url=f"http://127.0.0.1:{port}/readiness",
        cwd=HIVE,
    )  # fmt: skip
    # Our gateway seeds the registry on its first contact: Hive needs a version to serve.
    eventually_sync(
        lambda: (
            httpx.get(suite.gateway_url.removesuffix("/graphql") + "/health").json().get("registry")
            == "ok"
        ),
        within=30,
    )
    process.start(timeout=90)
    try:
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        process.stop()


def post(url: str, query: str, token: str, variables: dict[str, Any] | None = None) -> Any:
    response = httpx.post(
        url,
        json={"query": query, "variables": variables or {}},
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_hive_answers_a_query_across_every_subgraph_as_ours_does(suite: Suite, hive: str) -> None:
    admin = make_token("admin", "hive-admin")
    created = admin_post(
        suite.gateway_url,
        'mutation { createCustomer(input: { kind: COMPANY, name: "Hive Probe GmbH" }) { id } }',
    )["data"]["createCustomer"]
    admin_post(
        suite.gateway_url,
        'mutation($c: ID!) { createOpportunity(input: { title: "Hive deal", customerId: $c,'
        ' amount: { amount: "1200.00", currency: "EUR" } }) { id } }',
        {"c": created["id"]},
    )
    theirs = post(hive, ACROSS_SUBGRAPHS, admin)
    ours = post(suite.gateway_url, ACROSS_SUBGRAPHS, admin)
    assert "errors" not in theirs, theirs
    assert theirs["data"] == ours["data"]
    names = {edge["node"]["name"]: edge["node"] for edge in theirs["data"]["customers"]["edges"]}
    assert names["Hive Probe GmbH"]["opportunities"][0]["title"] == "Hive deal"
    assert theirs["data"]["pipelines"][0]["stages"][0]["name"] == "Initial contact"


def test_hive_forwards_the_callers_token(suite: Suite, hive: str) -> None:
    rep = make_token("rep", "hive-rep-without-customers")
    body = post(hive, "{ customers(first: 50) { totalCount } }", rep)
    assert body["data"]["customers"]["totalCount"] == 0
    anonymous = httpx.post(hive, json={"query": "{ customers(first: 1) { totalCount } }"})
    codes = {e.get("extensions", {}).get("code") for e in anonymous.json().get("errors", [])}
    assert "UNAUTHENTICATED" in codes, anonymous.text


def test_hive_follows_a_publish_to_the_registry(suite: Suite, hive: str, tmp_path: Path) -> None:
    field = "hiveRegistryProbe"
    added = tmp_path / "pipeline-added.graphql"
    added.write_text(
        PIPELINE_SDL.read_text().replace("type Query {", f"type Query {{\n  {field}: String", 1)
    )
    admin = make_token("admin", "hive-admin")
    fields = '{ __type(name: "Query") { fields { name } } }'

    def served() -> set[str]:
        return {f["name"] for f in post(hive, fields, admin)["data"]["__type"]["fields"]}

    def publish(schema: Path) -> None:
        completed = subprocess.run(
            [str(CRM_GRAPH), "--registry", suite.mongodb_url, "--database",
             f"registry{suite.database_suffix}", "publish", "--subgraph", "pipeline",
             "--schema", str(schema)],
            capture_output=True, text=True, timeout=180, cwd=ROOT,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stdout + completed.stderr

    publish(added)
    try:
        eventually_sync(lambda: field in served(), within=45)
    finally:
        publish(PIPELINE_SDL)
    eventually_sync(lambda: field not in served(), within=45)
