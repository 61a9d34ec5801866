"""Runs the differential corpus: one Python process serving every subgraph, one Node process
hosting one @apollo/gateway per corpus (composed there by @apollo/composition), and our
gateway's engine in-process per corpus over the same subgraphs."""

from __future__ import annotations

import json
import os
import shutil
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

from corpus.cases import CORPORA
from corpus.model import Corpus

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PEERS = ROOT / "tools" / "federation-peers"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ensure_node_modules(package: Path) -> None:
    """``npm ci`` once, as compose_supergraph.py does for tools/composition."""
    if (package / "node_modules" / ".package-lock.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is missing: Node.js 20 is part of the supported platform")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=package,
        check=True,
        capture_output=True,
    )


@dataclass
class Peers:
    subgraph_base: str
    apollo_url: str
    supergraphs: dict[str, str]
    composition_errors: dict[str, list[str]]

    def apollo(self, corpus: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.apollo_url}/{corpus}", json=body, timeout=30)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def _wait_for(path: Path, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and path.stat().st_size:
            return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"the Apollo host did not start:\n{log.read_text()[-4000:]}")


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            httpx.post(url, json={}, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"the corpus subgraphs did not start:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def running_peers(workdir: Path, corpora: list[Corpus] = CORPORA) -> Iterator[Peers]:
    ensure_node_modules(PEERS)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sub_log = workdir / "subgraphs.log"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    subgraphs = subprocess.Popen(
        [sys.executable, "-m", "corpus.server", str(port)],
        cwd=HERE.parent,
        env=env,
        stdout=sub_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    apollo: subprocess.Popen[bytes] | None = None
    try:
        config = {
            "corpora": [
                {
                    "name": c.name,
                    "subgraphs": [
                        {"name": s.name, "url": f"{base}/{c.name}/{s.name}", "sdl": s.composed_sdl}
                        for s in c.subgraphs
                    ],
                }
                for c in corpora
            ]
        }
        config_path = workdir / "corpora.json"
        config_path.write_text(json.dumps(config))
        out = workdir / "apollo.json"
        apollo_log = workdir / "apollo.log"
        apollo = subprocess.Popen(
            ["node", str(PEERS / "apollo_host.mjs"), str(config_path), str(out)],
            cwd=PEERS,
            stdout=apollo_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait_for(out, apollo, apollo_log, 120)
        _wait_http(f"{base}/none/none", subgraphs, sub_log)
        started = json.loads(out.read_text())
        yield Peers(
            subgraph_base=base,
            apollo_url=f"http://127.0.0.1:{started['port']}",
            supergraphs=started["supergraphs"],
            composition_errors=started["errors"],
        )
    finally:
        if apollo is not None:
            _stop(apollo)
        _stop(subgraphs)
