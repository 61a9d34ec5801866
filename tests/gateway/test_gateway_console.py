"""The gateway serves the web console at / (hashed assets immutable, the page revalidated, an
SPA fallback for the console's own paths) and, outside production, the development sign-in."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import Settings

SUPERGRAPH_PATH = Path(__file__).resolve().parents[2] / "contracts" / "supergraph.graphql"
SECRET = "console-test-secret-0123456789abcdef-0123456789"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><html><script src="/assets/app-1a2b.js">')
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log('board')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    return tmp_path


def _client(dist: Path, **settings: object) -> TestClient:
    return TestClient(
        create_app(
            Settings(
                supergraph_path=SUPERGRAPH_PATH, jwt_secret=SECRET, console_dir=dist, **settings
            )
        )
    )


def test_the_page_is_revalidated_and_hashed_assets_are_immutable(dist: Path) -> None:
    with _client(dist) as client:
        page = client.get("/", headers={"accept": "text/html"})
        asset = client.get("/assets/app-1a2b.js")
        other = client.get("/favicon.svg")
    assert page.status_code == 200
    assert "<html" in page.text
    assert page.headers["cache-control"] == "no-cache"
    assert asset.status_code == 200
    assert "board" in asset.text
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in asset.headers["content-type"]
    assert other.headers["cache-control"] == "no-cache"


def test_console_paths_fall_back_to_the_page_and_server_paths_do_not(dist: Path) -> None:
    with _client(dist) as client:
        deep = client.get("/customers/42")
        missing_asset = client.get("/assets/app-old.js")
        escape = client.get("/assets/../../etc/passwd")
        health = client.get("/health/nothing-here")
        graphql = client.post("/graphql", json={"query": "{ __typename }"})
    assert deep.status_code == 200
    assert "<html" in deep.text
    assert deep.headers["cache-control"] == "no-cache"
    assert missing_asset.status_code == 404
    assert escape.status_code in (200, 404)
    assert "root:" not in escape.text
    assert health.status_code == 404
    assert graphql.status_code == 401  # the graph is still behind the identity gate


def test_a_missing_build_says_how_to_build_it(tmp_path: Path) -> None:
    with _client(tmp_path / "nothing") as client:
        page = client.get("/")
    assert page.status_code == 503
    assert "npm run build" in page.text


def test_development_sign_in_mints_a_token_the_graph_accepts(dist: Path) -> None:
    with _client(dist) as client:
        minted = client.post("/dev/token", json={"user": "rep-2", "role": "rep"})
        bad_role = client.post("/dev/token", json={"user": "x", "role": "service"})
        typename = client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"authorization": f"Bearer {minted.json()['token']}"},
        )
    assert minted.status_code == 200
    assert minted.headers["cache-control"] == "no-store"
    claims = jwt.decode(minted.json()["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "rep-2"
    assert claims["roles"] == ["rep"]
    assert bad_role.status_code == 400
    assert typename.json() == {"data": {"__typename": "Query"}}


def test_production_has_no_development_sign_in(dist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", SECRET)
    settings = Settings(supergraph_path=SUPERGRAPH_PATH, console_dir=dist)
    assert settings.dev_sign_in_secret is None
    with TestClient(create_app(settings)) as client:
        refused = client.post("/dev/token", json={"user": "admin-1", "role": "admin"})
        page = client.get("/")
    assert refused.status_code in (404, 405)
    assert page.status_code == 200
