"""The web console in real headless Chromium against the running suite: the development
sign-in, a drag that moves the deal (counts, sums and the funnel report follow), a second
browser that sees the move live, a stale drag answered by the conflict message, a loss with its
reason, a move by keyboard, the move in the customer 360's timeline, a merge preview, and the
Chinese UI.
Screenshots are written to the session's temporary folder (their paths are printed)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import Suite
from support.graphql import admin_post

Page = Any  # playwright.sync_api.Page (imported lazily: the pure tests need no Playwright)
TIMEOUT_MS = 20_000


def _data(suite: Suite, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = admin_post(suite.gateway_url, query, variables)
    assert not body.get("errors"), body["errors"]
    result: dict[str, Any] = body["data"]
    return result


@pytest.fixture(scope="module")
def world(suite: Suite) -> dict[str, Any]:
    """A pipeline of its own (so counts start at zero), a customer and three deals."""
    suffix = uuid.uuid4().hex[:6]
    pipeline = _data(
        suite,
        """mutation($n: String!) { createPipeline(input: {name: $n, stages: [
          {name: "Lead in", probability: 0.2, kind: OPEN, rottingDays: 30},
          {name: "Quoted", probability: 0.5, kind: OPEN},
          {name: "Signing", probability: 0.8, kind: OPEN},
          {name: "Won", probability: 1, kind: WON},
          {name: "Lost", probability: 0, kind: LOST}]}) { id stages { id name kind } } }""",
        {"n": f"Console {suffix}"},
    )["createPipeline"]
    email = f"console-{suffix}@example.com"
    create = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }"
    customer = _data(
        suite, create, {"i": {"kind": "COMPANY", "name": f"Console Co {suffix}", "email": email}}
    )["createCustomer"]["id"]
    twin = _data(
        suite,
        create,
        {
            "i": {
                "kind": "COMPANY",
                "name": f"Console Co {suffix}",
                "email": email,
                "tags": ["twin"],
            }
        },
    )["createCustomer"]["id"]
    deals = [
        _data(
            suite,
            "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",
            {
                "i": {
                    "title": title,
                    "customerId": customer,
                    "pipelineId": pipeline["id"],
                    "amount": {"amount": amount, "currency": "EUR"},
                }
            },
        )["createOpportunity"]["id"]
        for title, amount in (("Fleet renewal", "1000"), ("Pilot", "500"), ("Training", "250"))
    ]
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    return {
        "pipeline": pipeline["id"],
        "stages": stages,
        "customer": customer,
        "twin": twin,
        "deals": deals,
    }


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Page, str], Path]:
    folder = tmp_path_factory.mktemp("console-screenshots")

    def shoot(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return shoot


@pytest.fixture(scope="module")
def base(suite: Suite) -> str:
    return suite.gateway_url.removesuffix("/graphql")


@pytest.fixture(scope="module")
def pages(chromium: Any, base: str, token: Any, world: dict[str, Any]) -> Iterator[dict[str, Page]]:
    """Two browsers of the same team: one signs in through the sign-in page, one by #token=."""
    one_context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    two_context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    one, two = one_context.new_page(), two_context.new_page()
    one.goto(f"{base}/")
    one.select_option('[data-testid="signin-user"]', "manager-1")
    one.click('[data-testid="signin-submit"]')
    one.wait_for_selector('[data-testid="board"]', timeout=TIMEOUT_MS)
    two.goto(f"{base}/board/{world['pipeline']}#token={token('manager', 'manager-2')}")
    two.wait_for_function("() => window.location.hash === ''")  # out of the address bar at once
    for page in (one, two):
        page.goto(f"{base}/board/{world['pipeline']}")
        page.wait_for_selector(f'[data-testid="deal-card-{world["deals"][0]}"]', timeout=TIMEOUT_MS)
    yield {"one": one, "two": two}
    one_context.close()
    two_context.close()


def _card_in(page: Page, stage: str, deal: str) -> None:
    page.wait_for_selector(
        f'[data-testid="board-column-{stage}"] [data-testid="deal-card-{deal}"]', timeout=TIMEOUT_MS
    )


def _count(page: Page, stage: str) -> str:
    return str(page.inner_text(f'[data-testid="column-count-{stage}"]'))


def _wait_text(page: Page, selector: str, wanted: str, within: float = 20.0) -> str:
    deadline = time.monotonic() + within
    text = ""
    while time.monotonic() < deadline:
        text = str(page.inner_text(selector)) if page.query_selector(selector) else ""
        if wanted in text:
            return text
        page.wait_for_timeout(250)
    raise AssertionError(f"{selector}: {wanted!r} not shown within {within} s (last: {text!r})")


def test_a_drag_moves_the_deal_and_the_other_browser_sees_it_live(
    pages: dict[str, Page], world: dict[str, Any], suite: Suite, shots: Any, base: str
) -> None:
    one, two = pages["one"], pages["two"]
    lead_in, quoted = world["stages"]["Lead in"], world["stages"]["Quoted"]
    fleet = world["deals"][0]
    assert _count(one, lead_in) == "3"
    assert _count(one, quoted) == "0"
    shots(one, "board-before")
    one.drag_and_drop(
        f'[data-testid="deal-card-{fleet}"]', f'[data-testid="board-column-{quoted}"]'
    )
    _card_in(one, quoted, fleet)
    _card_in(two, quoted, fleet)  # live, no reload
    assert _count(one, quoted) == "1"
    assert _count(one, lead_in) == "2"
    _wait_text(two, f'[data-testid="column-count-{quoted}"]', "1")
    column = str(one.inner_text(f'[data-testid="board-column-{quoted}"]'))
    assert "€1,000.00" in column  # total
    assert "€500.00" in column  # weighted at 50 %
    moved = _data(suite, "query($id: ID!) { opportunity(id: $id) { stage { id } } }", {"id": fleet})
    assert moved["opportunity"]["stage"]["id"] == quoted
    shots(one, "board-after-drag")
    shots(two, "board-second-browser")

    # The funnel report counts the deal in the stage it reached (analytics is fed by events).
    one.goto(f"{base}/reports")
    one.select_option('select[aria-label="Pipeline"]', world["pipeline"])
    deadline = time.monotonic() + 30
    while _entered(one, quoted) != "1":
        assert time.monotonic() < deadline, "the funnel never counted the move"
        one.reload()
        one.select_option('select[aria-label="Pipeline"]', world["pipeline"])
        one.wait_for_timeout(800)
    shots(one, "reports-funnel")
    one.goto(f"{base}/board/{world['pipeline']}")
    one.wait_for_selector(f'[data-testid="deal-card-{fleet}"]', timeout=TIMEOUT_MS)


def _entered(page: Page, stage: str) -> str:
    selector = f'[data-testid="funnel-entered-{stage}"]'
    try:
        page.wait_for_selector(selector, timeout=5000)
    except Exception:
        return ""
    return str(page.inner_text(selector))


def test_a_stale_drag_says_someone_else_changed_the_deal(
    pages: dict[str, Page], world: dict[str, Any], suite: Suite, shots: Any
) -> None:
    two = pages["two"]
    pilot, signing, lead_in = (
        world["deals"][1],
        world["stages"]["Signing"],
        world["stages"]["Lead in"],
    )
    # Someone else edits the deal: the second browser still holds the old version.
    _data(
        suite,
        'mutation($id: ID!) { updateOpportunity(id: $id, input: {nextStep: "call"}) { version } }',
        {"id": pilot},
    )
    two.drag_and_drop(
        f'[data-testid="deal-card-{pilot}"]', f'[data-testid="board-column-{signing}"]'
    )
    notice = _wait_text(two, '[data-testid="board-notice"]', "Someone else")
    assert "reloaded" in notice
    _card_in(two, lead_in, pilot)  # rolled back, then reloaded where it really is
    assert _count(two, signing) == "0"
    shots(two, "board-conflict")


def test_a_card_moves_by_keyboard(
    pages: dict[str, Page], world: dict[str, Any], suite: Suite
) -> None:
    two = pages["two"]  # reloaded after the conflict: it holds the deal's current version
    pilot, quoted = world["deals"][1], world["stages"]["Quoted"]
    card = f'[data-testid="deal-card-{pilot}"]'
    two.focus(card)
    two.keyboard.press("Space")  # pick up
    two.wait_for_timeout(200)
    two.keyboard.press("ArrowRight")  # to the next column
    two.wait_for_timeout(200)
    two.keyboard.press("Space")  # drop
    _card_in(two, quoted, pilot)
    query = "query($id: ID!) { opportunity(id: $id) { stage { id } } }"
    deadline = time.monotonic() + 10
    while _data(suite, query, {"id": pilot})["opportunity"]["stage"]["id"] != quoted:
        assert time.monotonic() < deadline, "the keyboard move never reached the server"
        two.wait_for_timeout(200)


def test_dropping_on_lost_asks_for_the_reason(
    pages: dict[str, Page], world: dict[str, Any], suite: Suite, shots: Any
) -> None:
    one = pages["one"]
    training, lost = world["deals"][2], world["stages"]["Lost"]
    # The keyboard move of the other browser has arrived here (the board is settled).
    _card_in(one, world["stages"]["Quoted"], world["deals"][1])
    one.wait_for_timeout(300)
    one.drag_and_drop(
        f'[data-testid="deal-card-{training}"]', f'[data-testid="board-column-{lost}"]'
    )
    one.wait_for_selector('[data-testid="lost-dialog"]', timeout=TIMEOUT_MS)
    one.fill('[data-testid="lost-reason"]', "budget frozen")
    shots(one, "board-lost-reason")
    one.click('[data-testid="lost-confirm"]')
    _card_in(one, lost, training)
    deal = _data(
        suite, "query($id: ID!) { opportunity(id: $id) { status lostReason } }", {"id": training}
    )
    assert deal["opportunity"] == {"status": "LOST", "lostReason": "budget frozen"}


def test_the_customer_360_shows_the_move_and_previews_a_merge(
    pages: dict[str, Page], world: dict[str, Any], shots: Any, base: str
) -> None:
    one = pages["one"]
    one.goto(f"{base}/customers/{world['customer']}")
    one.wait_for_selector('[data-testid="timeline"]', timeout=TIMEOUT_MS)
    deadline = time.monotonic() + 30
    while "moved from Lead in to Quoted" not in str(one.inner_text('[data-testid="timeline"]')):
        assert time.monotonic() < deadline, one.inner_text('[data-testid="timeline"]')
        one.reload()
        one.wait_for_selector('[data-testid="timeline"]', timeout=TIMEOUT_MS)
        one.wait_for_timeout(800)
    one.wait_for_selector(f'[data-testid="merge-preview-{world["twin"]}"]', timeout=TIMEOUT_MS)
    one.click(f'[data-testid="merge-preview-{world["twin"]}"]')
    preview = one.wait_for_selector('[data-testid="merge-preview"]', timeout=TIMEOUT_MS)
    assert "nothing written" in preview.inner_text()
    assert "twin" in preview.inner_text()  # the twin's tag would be kept
    shots(one, "customer-360")


def test_customers_search_in_chinese_and_an_import_with_row_errors(
    pages: dict[str, Page], suite: Suite, base: str, shots: Any
) -> None:
    one = pages["one"]
    name = f"北京星河科技 {uuid.uuid4().hex[:4]}"
    _data(
        suite,
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
        {"i": {"kind": "COMPANY", "name": name}},
    )
    one.goto(f"{base}/customers")
    one.fill('[data-testid="customer-search"]', "北京星河")
    _wait_text(one, "table", name)
    one.fill(
        '[data-testid="import-csv"]',
        "kind,name,email\nCOMPANY,Good Row Ltd,good@example.com\nALIEN,,bad\n",
    )
    one.click('[data-testid="import-run"]')  # a dry run: nothing written
    report = _wait_text(one, '[data-testid="import-report"]', "failed")
    assert "1 failed" in report
    assert one.query_selector_all('[data-testid="import-error"]'), report
    shots(one, "customers-import")


def test_a_manager_changes_a_probability_and_the_weighted_sum_follows(
    pages: dict[str, Page], world: dict[str, Any], base: str, suite: Suite
) -> None:
    one = pages["one"]
    quoted = world["stages"]["Quoted"]
    one.goto(f"{base}/settings")
    one.select_option('select[aria-label="Pipeline"]', world["pipeline"])
    field = f'[data-testid="stage-row-{quoted}"] input[aria-label="Probability"]'
    one.wait_for_selector(field, timeout=TIMEOUT_MS)
    one.fill(field, "0.9")
    one.press(field, "Tab")  # saved when the field is left
    query = "query($p: ID!) { pipeline(id: $p) { stages { id probability } } }"
    deadline = time.monotonic() + 10
    while True:
        stages = _data(suite, query, {"p": world["pipeline"]})["pipeline"]["stages"]
        if next(s["probability"] for s in stages if s["id"] == quoted) == 0.9:
            break
        assert time.monotonic() < deadline, stages
        one.wait_for_timeout(200)
    one.goto(f"{base}/board/{world['pipeline']}")
    _wait_text(one, f'[data-testid="board-column-{quoted}"]', "90%")


def test_the_console_speaks_chinese(
    chromium: Any, base: str, world: dict[str, Any], shots: Any, token: Any
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{base}/")
        page.wait_for_selector("text=登录", timeout=TIMEOUT_MS)
        page.goto(f"{base}/board/{world['pipeline']}#token={token('manager', 'manager-3')}")
        page.wait_for_selector(f'[data-testid="deal-card-{world["deals"][0]}"]', timeout=TIMEOUT_MS)
        text = str(page.inner_text("body"))
        assert "看板" in text
        assert "加权" in text
        assert "€1,000.00" in text  # zh-CN money format
        shots(page, "board-chinese")
        page.select_option('[data-testid="language"]', "en")
        page.wait_for_selector("text=Board", timeout=TIMEOUT_MS)
    finally:
        context.close()


def test_the_deal_screen_edits_and_wins_the_deal(
    pages: dict[str, Page], world: dict[str, Any], base: str, suite: Suite
) -> None:
    one = pages["one"]
    fleet, won = world["deals"][0], world["stages"]["Won"]
    one.goto(f"{base}/deals/{fleet}")
    one.wait_for_selector('[data-testid="deal-amount"]', timeout=TIMEOUT_MS)
    one.fill('[data-testid="deal-amount"]', "1200.50")
    one.click('[data-testid="deal-save"]')
    _wait_text(one, "main", "€1,200.50")
    one.click('[data-testid="deal-win"]')
    _wait_text(one, "main", "Won")
    deal = _data(
        suite,
        "query($id: ID!) { opportunity(id: $id) { status amount { amount } stage { id } } }",
        {"id": fleet},
    )["opportunity"]
    assert deal["status"] == "WON"
    assert deal["stage"]["id"] == won
    assert deal["amount"]["amount"] in ("1200.50", "1200.5")
    one.goto(f"{base}/board/{world['pipeline']}")
    _card_in(one, won, fleet)
