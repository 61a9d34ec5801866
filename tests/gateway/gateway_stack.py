"""Running the gateway and the two fixture subgraphs as real processes, and talking to them.

Each subgraph logs the GraphQL requests it receives (``/_log``), so that tests can count the
fetches the gateway made and see what it sent.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from crm_common.identity import mint_token
from crmstack.ports import free_port
from crmstack.processes import ManagedProcess, ProcessFailed

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SUPERGRAPH_PATH = FIXTURES / "supergraph.graphql"
ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "gateway-tests-secret-0123456789abcdef"


def subgraph_process(name: str, app: str, port: int, logs: Path, **env: str) -> ManagedProcess:
    """A fixture subgraph (``tests/gateway/fixtures/<app>.py``) under uvicorn on ``port``."""
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(FIXTURES), f"{app}:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    return ManagedProcess(
        name,
        command,
        {**os.environ, "JWT_SECRET": JWT_SECRET, "CRM_ENV": "test", "PYTHONUNBUFFERED": "1", **env},
        logs / f"{name}-{port}.log",
        ready_url=f"http://127.0.0.1:{port}/health/live",
        cwd=ROOT,
    )


def gateway_process(
    port: int, logs: Path, subgraph_urls: dict[str, str], name: str = "gateway", **env: str
) -> ManagedProcess:
    """``python -m gateway.main`` on ``port`` with the fixture supergraph unless ``env`` says
    otherwise; development JWKS settings of the caller's shell are dropped."""
    full_env = {
        **os.environ,
        "JWT_SECRET": JWT_SECRET,
        "CRM_ENV": "test",
        "PYTHONUNBUFFERED": "1",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_SUPERGRAPH_PATH": str(SUPERGRAPH_PATH),
        "GATEWAY_SUBGRAPH_URLS": json.dumps(subgraph_urls),
        **env,
    }
    full_env.pop("JWT_JWKS_URL", None)
    return ManagedProcess(
        name,
        [sys.executable, "-m", "gateway.main"],
        full_env,
        logs / f"{name}-{port}.log",
        ready_url=f"http://127.0.0.1:{port}/health",
        cwd=ROOT,
    )


def started(process: ManagedProcess, timeout: float = 30.0) -> ManagedProcess:
    """Start and wait; on failure the error carries the end of the process's log."""
    try:
        return process.start(timeout)
    except ProcessFailed as failure:
        process.stop()
        raise RuntimeError(f"{failure}\n{process.log_tail(60)}") from failure


@dataclass(frozen=True)
class GatewayStack:
    gateway_url: str  # .../graphql
    subgraph_bases: dict[str, str]  # name -> http://127.0.0.1:port
    token: str  # user u1, role rep

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        operation_name: str | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        all_headers = {"authorization": f"Bearer {token or self.token}", **(headers or {})}
        return httpx.post(self.gateway_url, json=body, headers=all_headers, timeout=10)

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The response body of a POST that must have answered 200."""
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def requests_to(self, subgraph: str) -> list[dict[str, Any]]:
        """The GraphQL requests the subgraph received since the last ``reset_logs``."""
        entries: list[dict[str, Any]] = httpx.get(
            f"{self.subgraph_bases[subgraph]}/_log", timeout=5
        ).json()
        return entries

    def reset_logs(self) -> None:
        for base in self.subgraph_bases.values():
            httpx.delete(f"{base}/_log", timeout=5)


@contextmanager
def running_gateway_stack(logs: Path) -> Iterator[GatewayStack]:
    """Both subgraphs and the gateway on free ports, stopped (by process group) on exit."""
    processes: list[ManagedProcess] = []
    try:
        bases: dict[str, str] = {}
        for name in ("products", "reviews"):
            port = free_port()
            bases[name] = f"http://127.0.0.1:{port}"
            processes.append(started(subgraph_process(name, f"{name}_subgraph", port, logs)))
        gateway_port = free_port()
        # Upper-case on purpose: names match the join__graph names case-insensitively.
        urls = {name.upper(): f"{base}/graphql" for name, base in bases.items()}
        gateway = gateway_process(
            gateway_port, logs, urls, GATEWAY_EXPOSE_QUERY_PLANS="true", LOG_LEVEL="WARNING"
        )
        processes.append(started(gateway))
        yield GatewayStack(
            gateway_url=f"http://127.0.0.1:{gateway_port}/graphql",
            subgraph_bases=bases,
            token=mint_token(JWT_SECRET, user_id="u1", roles=["rep"]),
        )
    finally:
        for process in reversed(processes):
            process.stop()
