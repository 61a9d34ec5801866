"""The console's component tests (Vitest: the board's logic and error paths, money formatting,
the client's error codes) as part of ``make test``: a failing Vitest test fails this one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "console"


def test_vitest_component_tests_pass() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is missing: the console's component tests need Node.js 20+")
    if not (CONSOLE / "node_modules" / ".package-lock.json").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=CONSOLE,
            check=True,
            timeout=600,
        )
    result = subprocess.run(
        ["npx", "vitest", "run", "--reporter=dot"],
        cwd=CONSOLE,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"Vitest failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    )
    assert "passed" in result.stdout
