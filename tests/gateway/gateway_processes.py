"""Extra gateway processes for the production-feature tests: each with its own settings
(environment, limits, manifest, supergraph file), in front of the session's fixture
subgraphs or of the slow stand-in; stopped (by process group) on exit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway_stack import JWT_SECRET, SUPERGRAPH_PATH, gateway_process, started, subgraph_process

from crm_common.identity import mint_token
from crmstack.ports import free_port
from crmstack.processes import ManagedProcess


@dataclass(frozen=True)
class RunningProcess:
    base: str  # http://127.0.0.1:port
    process: ManagedProcess

    @property
    def graphql(self) -> str:
        return f"{self.base}/graphql"

    def log_text(self) -> str:
        return self.process.log_path.read_text(errors="replace")


@contextmanager
def running_gateway(
    logs: Path,
    subgraph_urls: dict[str, str],
    env: dict[str, str] | None = None,
    supergraph: Path = SUPERGRAPH_PATH,
    name: str = "gateway",
) -> Iterator[RunningProcess]:
    port = free_port()
    settings = {"GATEWAY_SUPERGRAPH_PATH": str(supergraph), "LOG_LEVEL": "INFO", **(env or {})}
    process = started(gateway_process(port, logs, subgraph_urls, name, **settings))
    try:
        yield RunningProcess(f"http://127.0.0.1:{port}", process)
    finally:
        process.stop()


@contextmanager
def slow_subgraph(logs: Path, seconds: float = 10.0) -> Iterator[RunningProcess]:
    port = free_port()
    slow = subgraph_process("slow", "slow_subgraph", port, logs, SLOW_SECONDS=str(seconds))
    process = started(slow)
    try:
        yield RunningProcess(f"http://127.0.0.1:{port}", process)
    finally:
        process.stop()


def rep_token() -> str:
    return mint_token(JWT_SECRET, user_id="u1", roles=["rep"])
