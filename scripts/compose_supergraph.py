"""Export each subgraph's SDL and compose them into the supergraph that the gateway loads.

    uv run python scripts/compose_supergraph.py           # write contracts/subgraphs/*, supergraph
    uv run python scripts/compose_supergraph.py --check   # exit 1 if the committed files are stale

The SDL is taken in-process from each service's Strawberry schema (``{ _service { sdl } }``,
what the gateway would ask the running subgraph), so no service has to run. Composition is
Apollo's own (tools/composition/compose.mjs), so the supergraph is exactly what Apollo Router
or Hive Gateway would load. ``--subgraph NAME=URL=MODULE`` composes other schemas (the gateway
tests compose their fixture subgraphs this way).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMPOSITION_DIR = ROOT / "tools" / "composition"
COMPOSE_SCRIPT = COMPOSITION_DIR / "compose.mjs"

# The docker-compose service names: the URLs a gateway inside that network would call.
# Elsewhere the gateway overrides them with GATEWAY_SUBGRAPH_URLS.
DEFAULT_SUBGRAPHS = (
    "customers=http://customers:4001/graphql=customers.entrypoints.schema",
    "pipeline=http://pipeline:4002/graphql=pipeline.entrypoints.schema",
    "analytics=http://analytics:4003/graphql=analytics.entrypoints.schema",
)


class CompositionFailed(Exception):
    pass


@dataclass(frozen=True)
class Subgraph:
    name: str
    url: str
    module: str

    @classmethod
    def parse(cls, spec: str) -> Subgraph:
        # Split on the first and last "=": a URL may carry "=" in its query string.
        name, _, rest = spec.partition("=")
        url, _, module = rest.rpartition("=")
        if not name or not url or not module:
            raise argparse.ArgumentTypeError(f"expected NAME=URL=MODULE, got {spec!r}")
        return cls(name, url, module)


def export_sdl(module_name: str) -> str:
    """The SDL that the subgraph serves on ``_service``, with one trailing newline."""
    module = importlib.import_module(module_name)
    schema: Any = module.schema
    result = schema.execute_sync("{ _service { sdl } }")
    if result.errors:
        raise CompositionFailed(f"{module_name}: _service query failed: {result.errors}")
    sdl = str(result.data["_service"]["sdl"])
    return sdl.rstrip("\n") + "\n"


def ensure_node_modules() -> None:
    if (COMPOSITION_DIR / "node_modules" / "@apollo" / "composition").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise CompositionFailed("npm is required to compose (Node 18+): install Node.js")
    # `npm ci` installs exactly the locked versions of package-lock.json.
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=COMPOSITION_DIR, check=True)


def compose(sdl_files: list[tuple[Subgraph, Path]]) -> str:
    node = shutil.which("node")
    if node is None:
        raise CompositionFailed("node is required to compose (Node 18+): install Node.js")
    ensure_node_modules()
    arguments = [f"{sub.name}={sub.url}={path}" for sub, path in sdl_files]
    completed = subprocess.run(
        [node, str(COMPOSE_SCRIPT), *arguments], capture_output=True, text=True, check=False
    )
    if completed.stderr:
        sys.stderr.write(completed.stderr)
    if completed.returncode != 0:
        raise CompositionFailed(f"composition failed (exit {completed.returncode})")
    return completed.stdout


def _differs(path: Path, expected: str) -> bool:
    actual = path.read_text() if path.exists() else ""
    if actual == expected:
        return False
    diff = difflib.unified_diff(
        actual.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{path} (committed)",
        tofile=f"{path} (fresh)",
        n=2,
    )
    sys.stderr.writelines(list(diff)[:80])
    return True


def run(subgraphs: list[Subgraph], subgraphs_dir: Path, supergraph_path: Path, check: bool) -> int:
    exported = {sub.name: export_sdl(sub.module) for sub in subgraphs}
    if not check:
        subgraphs_dir.mkdir(parents=True, exist_ok=True)
        files = []
        for sub in subgraphs:
            path = subgraphs_dir / f"{sub.name}.graphql"
            path.write_text(exported[sub.name])
            files.append((sub, path))
        supergraph_path.write_text(compose(files))
        print(f"wrote {len(files)} subgraph SDL files and {supergraph_path}")
        return 0

    stale = [
        sub.name
        for sub in subgraphs
        if _differs(subgraphs_dir / f"{sub.name}.graphql", exported[sub.name])
    ]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for sub in subgraphs:
            path = Path(tmp) / f"{sub.name}.graphql"
            path.write_text(exported[sub.name])
            files.append((sub, path))
        fresh = compose(files)
    if _differs(supergraph_path, fresh):
        stale.append("supergraph")
    if stale:
        print(
            f"stale: {', '.join(stale)}; run scripts/compose_supergraph.py and commit",
            file=sys.stderr,
        )
        return 1
    print("subgraph SDL and supergraph are up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument(
        "--subgraph",
        action="append",
        type=Subgraph.parse,
        metavar="NAME=URL=MODULE",
        help="a subgraph: its name, routing URL and the module exposing `schema`",
    )
    parser.add_argument("--subgraphs-dir", type=Path, default=ROOT / "contracts" / "subgraphs")
    parser.add_argument(
        "--supergraph", type=Path, default=ROOT / "contracts" / "supergraph.graphql"
    )
    parser.add_argument(
        "--python-path",
        action="append",
        type=Path,
        default=[],
        help="a directory to import subgraph modules from",
    )
    args = parser.parse_args(argv)
    for directory in args.python_path:
        sys.path.insert(0, str(directory.resolve()))
    subgraphs = args.subgraph or [Subgraph.parse(spec) for spec in DEFAULT_SUBGRAPHS]
    try:
        return run(subgraphs, args.subgraphs_dir, args.supergraph, args.check)
    except CompositionFailed as exc:
        print(exc, file=sys.stderr)
        return 1 if args.check else 2


if __name__ == "__main__":
    sys.exit(main())
