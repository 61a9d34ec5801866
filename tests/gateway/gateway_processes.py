"""Extra gateway processes for the production-feature tests: each with its own settings
(environment, limits, manifest, supergraph file), in front of the session's fixture
subgraphs or of the slow stand-in; stopped by process id on exit."""

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

import httpx
from gateway_stack import FIXTURES, JWT_SECRET, ROOT, SUPERGRAPH_PATH

from crm_common.identity import mint_token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunningProcess:
    base: str  # http://127.0.0.1:port
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def graphql(self) -> str:
        return f"{self.base}/graphql"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _wait(process: RunningProcess, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            break
        try:
            if httpx.get(process.base + path, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not healthy at {process.base}{path}:\n{process.log_text()[-3000:]}")


def _stop(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=5)


@contextmanager
def running_gateway(
    logs: Path,
    subgraph_urls: dict[str, str],
    env: dict[str, str] | None = None,
    supergraph: Path = SUPERGRAPH_PATH,
    name: str = "gateway",
) -> Iterator[RunningProcess]:
    port = free_port()
    log = logs / f"{name}-{port}.log"
    full_env = {
        **os.environ,
        "JWT_SECRET": JWT_SECRET,
        "CRM_ENV": "test",
        "PYTHONUNBUFFERED": "1",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_SUPERGRAPH_PATH": str(supergraph),
        "GATEWAY_SUBGRAPH_URLS": json.dumps(subgraph_urls),
        "LOG_LEVEL": "INFO",
        **(env or {}),
    }
    full_env.pop("JWT_JWKS_URL", None)
    popen = subprocess.Popen(
        [sys.executable, "-m", "gateway.main"],
        env=full_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    process = RunningProcess(f"http://127.0.0.1:{port}", popen, log)
    try:
        _wait(process, "/health")
        yield process
    finally:
        _stop(popen)


@contextmanager
def slow_subgraph(logs: Path, seconds: float = 10.0) -> Iterator[RunningProcess]:
    port = free_port()
    log = logs / f"slow-{port}.log"
    popen = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "--app-dir", str(FIXTURES), "slow_subgraph:app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ],
        env={**os.environ, "SLOW_SECONDS": str(seconds)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    process = RunningProcess(f"http://127.0.0.1:{port}", popen, log)
    try:
        _wait(process, "/health/live")
        yield process
    finally:
        _stop(popen)


def rep_token() -> str:
    return mint_token(JWT_SECRET, user_id="u1", roles=["rep"])
