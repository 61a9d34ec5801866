"""Composition with ``@apollo/composition``, the real composer, on Node (tools/composition).

The same script that composes ``contracts/supergraph.graphql`` (scripts/compose_supergraph.py),
so a supergraph in the registry is exactly what Apollo Router or Hive Gateway would load.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.registry.store import SubgraphSchema

COMPOSITION_RELATIVE = Path("tools") / "composition"


class CompositionUnavailable(RuntimeError):
    """Node, npm or the composition package is missing."""


@dataclass(frozen=True, slots=True)
class Composition:
    supergraph: str | None  # None when composition failed
    errors: str  # the composer's messages (hints on success)

    @property
    def ok(self) -> bool:
        return self.supergraph is not None


def composition_dir() -> Path:
    configured = os.environ.get("CRM_COMPOSITION_DIR")
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / COMPOSITION_RELATIVE / "compose.mjs"
        if candidate.is_file():
            return candidate.parent
    return Path.cwd() / COMPOSITION_RELATIVE


def _ensure_installed(directory: Path) -> None:
    if (directory / "node_modules" / "@apollo" / "composition").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise CompositionUnavailable("npm is needed to install @apollo/composition (Node 18+)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--silent"],
        cwd=directory,
        check=True,
        capture_output=True,
    )


def compose(subgraphs: Iterable[SubgraphSchema], timeout: float = 120.0) -> Composition:
    directory = composition_dir()
    script = directory / "compose.mjs"
    node = shutil.which("node")
    if node is None or not script.is_file():
        raise CompositionUnavailable(f"composition needs Node 18+ and {script}")
    _ensure_installed(directory)
    with tempfile.TemporaryDirectory(prefix="crm-compose-") as tmp:
        arguments = []
        for subgraph in sorted(subgraphs, key=lambda s: s.name):
            path = Path(tmp) / f"{subgraph.name}.graphql"
            path.write_text(subgraph.sdl)
            arguments.append(f"{subgraph.name}={subgraph.url}={path}")
        done = subprocess.run(
            [node, str(script), *arguments],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode == 0:
        return Composition(done.stdout, done.stderr)
    return Composition(None, done.stderr.strip() or f"composition exited {done.returncode}")
