"""The composition tooling: Apollo's composition through tools/composition/compose.mjs, and
scripts/compose_supergraph.py that exports SDL in-process and checks committed files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway_stack import FIXTURES, ROOT

COMPOSE_MJS = ROOT / "tools" / "composition" / "compose.mjs"
SCRIPT = ROOT / "scripts" / "compose_supergraph.py"
FIXTURE_SUBGRAPHS = [
    "--python-path", str(FIXTURES),
    "--subgraph", "products=http://products:4001/graphql=products_subgraph",
    "--subgraph", "reviews=http://reviews:4002/graphql=reviews_subgraph",
    "--subgraphs-dir", str(FIXTURES / "subgraphs"),
    "--supergraph", str(FIXTURES / "supergraph.graphql"),
]  # fmt: skip

# Node.js 20 is part of the supported platform (README): no skip, a missing node must fail.


def compose(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(COMPOSE_MJS), *arguments], capture_output=True, text=True, check=False
    )


def test_the_fixture_supergraph_is_what_composition_gives_today() -> None:
    check = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", *FIXTURE_SUBGRAPHS],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert check.returncode == 0, check.stderr


def test_check_mode_reports_stale_files(tmp_path: Path) -> None:
    stale = tmp_path / "supergraph.graphql"
    stale.write_text("# stale\n")
    arguments = [*FIXTURE_SUBGRAPHS[:-1], str(stale)]
    check = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert check.returncode == 1
    assert "stale: supergraph" in check.stderr


def test_composition_prints_the_supergraph(tmp_path: Path) -> None:
    sdl = tmp_path / "a.graphql"
    sdl.write_text(
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])\n'
        'type Thing @key(fields: "id") { id: ID! }\ntype Query { thing: Thing }\n'
    )
    result = compose(f"a=http://a:1/graphql={sdl}")
    assert result.returncode == 0, result.stderr
    assert '@join__graph(name: "a", url: "http://a:1/graphql")' in result.stdout


def test_composition_errors_exit_non_zero(tmp_path: Path) -> None:
    first, second = tmp_path / "a.graphql", tmp_path / "b.graphql"
    link = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: [])\n'
    first.write_text(link + "type Query { a: Int }\n")
    second.write_text(link + "type Query { a: String }\n")
    result = compose(f"a=http://a/graphql={first}", f"b=http://b/graphql={second}")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "composition error:" in result.stderr


def test_bad_arguments_are_refused() -> None:
    assert compose("just-a-name").returncode == 2


def test_the_committed_crm_supergraph_is_a_fresh_composition_of_our_subgraphs() -> None:
    """Fails when a subgraph's schema changed and nobody ran scripts/compose_supergraph.py."""
    check = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert check.returncode == 0, check.stderr
