"""Running the gateway and the two fixture subgraphs as real processes, and talking to them.

Each subgraph logs the GraphQL requests it receives (``/_log``), so that tests can count the
fetches the gateway made and see what it sent.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from crm_common.identity import mint_token

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SUPERGRAPH_PATH = FIXTURES / "supergraph.graphql"
ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "gateway-tests-secret-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def _wait_until_healthy(process: _Process, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            break
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"{process.name} did not become healthy at {url}:\n{process.log.read_text()[-3000:]}"
    )


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
    """Both subgraphs and the gateway on free ports, stopped (by process id) on exit."""
    env = {
        **os.environ,
        "JWT_SECRET": JWT_SECRET,
        "CRM_ENV": "test",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("JWT_JWKS_URL", None)
    processes: list[_Process] = []

    def start(name: str, command: list[str], health_url: str, extra: dict[str, str]) -> None:
        log = logs / f"{name}.log"
        popen = subprocess.Popen(
            command,
            env={**env, **extra},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        process = _Process(name, popen, log)
        processes.append(process)
        _wait_until_healthy(process, health_url)

    try:
        bases: dict[str, str] = {}
        for name in ("products", "reviews"):
            port = _free_port()
            bases[name] = f"http://127.0.0.1:{port}"
            start(
                name,
                [
                    sys.executable, "-m", "uvicorn", "--app-dir", str(FIXTURES),
                    f"{name}_subgraph:app", "--host", "127.0.0.1", "--port", str(port),
                    "--log-level", "warning",
                ],
                f"{bases[name]}/health/live",
                {},
            )  # fmt: skip
        gateway_port = _free_port()
        # Upper-case on purpose: names match the join__graph names case-insensitively.
        urls = {name.upper(): f"{base}/graphql" for name, base in bases.items()}
        start(
            "gateway",
            [sys.executable, "-m", "gateway.main"],
            f"http://127.0.0.1:{gateway_port}/health",
            {
                "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(gateway_port),
                "GATEWAY_SUPERGRAPH_PATH": str(SUPERGRAPH_PATH),
                "GATEWAY_SUBGRAPH_URLS": json.dumps(urls),
                "GATEWAY_EXPOSE_QUERY_PLANS": "true",
                "LOG_LEVEL": "WARNING",
            },
        )
        yield GatewayStack(
            gateway_url=f"http://127.0.0.1:{gateway_port}/graphql",
            subgraph_bases=bases,
            token=mint_token(JWT_SECRET, user_id="u1", roles=["rep"]),
        )
    finally:
        for process in reversed(processes):
            process.stop()
