"""The schema registry with the running suite: the gateway seeds it from its file and follows
it; ``crm-graph check`` refuses a change that breaks an operation clients sent and lets an
unused removal through; ``publish`` is served without a restart; ``history`` and ``rollback``;
a supergraph that cannot be loaded keeps the last good one; swaps under load fail nothing."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import ROOT, Suite, make_token
from support.graphql import admin_post

PIPELINE_SDL = ROOT / "contracts" / "subgraphs" / "pipeline.graphql"
CRM_GRAPH = Path(sys.executable).parent / "crm-graph"


def crm_graph(suite: Suite, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CRM_GRAPH), "--registry", suite.mongodb_url, "--database",
         f"registry{suite.database_suffix}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )  # fmt: skip


def post(suite: Suite, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return admin_post(suite.gateway_url, query, variables)


def query_fields(suite: Suite) -> set[str]:
    body = post(suite, '{ __type(name: "Query") { fields { name } } }')
    return {f["name"] for f in body["data"]["__type"]["fields"]}


def wait_for(predicate: Any, timeout: float = 30.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def health(suite: Suite) -> dict[str, Any]:
    base = suite.gateway_url.removesuffix("/graphql")
    body: dict[str, Any] = httpx.get(f"{base}/health", timeout=5).json()
    return body


@pytest.fixture
def probe_sdl(tmp_path: Path) -> tuple[str, Path]:
    field = f"registryProbe{int(time.time() * 1000) % 100000}"
    path = tmp_path / "pipeline-added.graphql"
    path.write_text(
        PIPELINE_SDL.read_text().replace("type Query {", f"type Query {{\n  {field}: String", 1)
    )
    return field, path


def test_gateway_seeds_and_follows_the_registry(suite: Suite) -> None:
    wait_for(lambda: health(suite).get("registry") == "ok")
    history = crm_graph(suite, "history")
    assert history.returncode == 0, history.stderr
    assert "file" in history.stdout


def test_check_refuses_removing_a_field_clients_use(suite: Suite, tmp_path: Path) -> None:
    post(suite, "query DealTitles { opportunities(first: 1) { edges { node { title } } } }")
    time.sleep(2.5)  # the gateway flushes usage every second
    sdl = PIPELINE_SDL.read_text()
    head, sep, rest = sdl.partition('type Opportunity @key(fields: "id") {')
    assert sep
    broken = tmp_path / "broken.graphql"
    broken.write_text(head + sep + rest.replace("  title: String!\n", "", 1))
    result = crm_graph(suite, "check", "--subgraph", "pipeline", "--schema", str(broken))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BREAKING FIELD_REMOVED Opportunity.title" in result.stdout
    assert "DealTitles" in result.stdout


def test_check_reports_composition_errors(suite: Suite, tmp_path: Path) -> None:
    bad = tmp_path / "bad.graphql"
    # Opportunity.customer's type is owned by customers: a conflicting key breaks composition.
    bad.write_text(PIPELINE_SDL.read_text().replace("type Query {", "type Query {\n  x: Nope", 1))
    result = crm_graph(suite, "check", "--subgraph", "pipeline", "--schema", str(bad))
    assert result.returncode == 1
    assert "COMPOSITION FAILED" in result.stdout


def test_publish_is_served_then_an_unused_removal_passes_and_rollback(
    suite: Suite, probe_sdl: tuple[str, Path]
) -> None:
    field, added = probe_sdl
    published = crm_graph(suite, "publish", "--subgraph", "pipeline", "--schema", str(added))
    assert published.returncode == 0, published.stdout + published.stderr
    version = int(published.stdout.strip().rsplit(" ", 1)[1])
    wait_for(lambda: field in query_fields(suite), timeout=15)
    assert health(suite)["supergraph"]["source"] == f"registry:v{version}"

    # Nobody queried the new field: removing it again breaks nobody.
    removed = crm_graph(suite, "publish", "--subgraph", "pipeline", "--schema", str(PIPELINE_SDL))
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert f"safe     FIELD_REMOVED Query.{field}" in removed.stdout
    wait_for(lambda: field not in query_fields(suite), timeout=15)

    rolled = crm_graph(suite, "rollback", str(version))
    assert rolled.returncode == 0, rolled.stderr
    wait_for(lambda: field in query_fields(suite), timeout=15)
    history = crm_graph(suite, "history")
    assert "rollback" in history.stdout
    assert (
        crm_graph(
            suite, "publish", "--subgraph", "pipeline", "--schema", str(PIPELINE_SDL)
        ).returncode
        == 0
    )
    wait_for(lambda: field not in query_fields(suite), timeout=15)


def test_a_supergraph_that_cannot_load_keeps_the_last_good_one(suite: Suite) -> None:
    from gateway.registry.store import RegistryStore

    store = RegistryStore(suite.mongodb_url, f"registry{suite.database_suffix}")
    try:
        good = store.latest()
        assert good is not None
        store.add_version(good.subgraphs.values(), "type Query { broken: ", source="test")
        wait_for(lambda: "lastError" in health(suite)["supergraph"], timeout=15)
        assert health(suite)["supergraph"]["sha256"] == good.supergraph_sha256
        assert post(suite, "{ pipelines { id } }")["data"]["pipelines"]
        base = suite.gateway_url.removesuffix("/graphql")
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert "crm_gateway_supergraph_load_error 1.0" in metrics
        # The next good version is loaded again.
        store.add_version(good.subgraphs.values(), good.supergraph + "\n", source="test")
        wait_for(lambda: "lastError" not in health(suite)["supergraph"], timeout=15)
    finally:
        store.close()


def test_hot_swaps_under_load_fail_no_request(suite: Suite, probe_sdl: tuple[str, Path]) -> None:
    field, added = probe_sdl
    token = make_token("admin", "admin-1")
    failures: list[str] = []
    done = threading.Event()
    counts = [0]

    def load() -> None:
        with httpx.Client(timeout=30) as client:
            while not done.is_set():
                response = client.post(
                    suite.gateway_url,
                    json={"query": "{ pipelines { id name stages { id } } }"},
                    headers={"authorization": f"Bearer {token}"},
                )
                counts[0] += 1
                if response.status_code != 200 or "errors" in response.json():
                    failures.append(response.text[:200])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for schema in (added, PIPELINE_SDL, added, PIPELINE_SDL):
            result = crm_graph(suite, "publish", "--subgraph", "pipeline", "--schema", str(schema))
            assert result.returncode == 0, result.stdout
            expected = schema == added
            wait_for(lambda e=expected: (field in query_fields(suite)) == e, timeout=15)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert counts[0] > 20
    assert failures == []
