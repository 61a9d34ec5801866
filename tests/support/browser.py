"""Real headless Chromium for the console's end-to-end tests: Debian's ``/usr/bin/chromium``
driven by Playwright (no browser download). The console is built first when it is missing
(``make console``). Without Chromium the tests are skipped, except in CI (``CI`` set), where
``.ci/run`` installs it and its absence is a failure.

Playwright's sync API runs an event loop in the test's thread while it is open, so the browser
lives for one module only, and only after the suite is up (the suite's start-up and the async
tests of other modules need the thread's loop free)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_console_built() -> None:
    """``make console`` builds console/dist when it is missing or stale (and says so)."""
    result = subprocess.run(
        ["make", "-s", "console"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"the console did not build: {result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def chromium(suite: Any) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (.ci/run installs it: apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    ensure_console_built()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
