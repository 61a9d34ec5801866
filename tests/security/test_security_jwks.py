"""RS256 tokens verified against a local JWKS endpoint: the key set is fetched off the event
loop, cached, refreshed when a token names an unknown ``kid`` (key rotation) but not once per
made-up ``kid``, and roles and team may come from the identity provider's own claims."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from crm_common.errors import Unauthenticated
from crm_common.identity import TokenVerifier
from crm_common.settings import CommonSettings
from crm_common.token_cache import CachedTokenVerifier


@dataclass
class Provider:
    """A local identity provider: its signing keys by kid, its JWKS endpoint and how often
    that endpoint was fetched."""

    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    fetches: int = 0
    delay: float = 0.0
    url: str = ""

    def add_key(self, kid: str, *, publish: bool = True) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def jwks(self) -> bytes:
        entries = []
        for kid in self.published:
            jwk = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            entries.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return json.dumps({"keys": entries}).encode()

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {"sub": "u-1", "roles": ["rep"], "iat": now, "exp": now + 600, **claims}
        return jwt.encode(payload, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            time.sleep(state.delay)
            body = state.jwks()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def verifier(provider: Provider, **settings: Any) -> TokenVerifier:
    return TokenVerifier(
        CommonSettings.model_validate(
            {"jwt_jwks_url": provider.url, "jwt_secret": None, **settings}
        )
    )


async def test_rs256_keys_are_cached_and_refreshed_on_rotation(provider: Provider) -> None:
    provider.add_key("k1")
    check = verifier(provider)
    assert (await check.averify(provider.token("k1"))).user_id == "u-1"
    assert (await check.averify(provider.token("k1", sub="u-2"))).user_id == "u-2"
    assert provider.fetches == 1  # cached
    assert check.verify(provider.token("k1")).user_id == "u-1"  # sync: the cached key

    provider.add_key("k2")  # the provider rotates: k2 published, tokens signed with it
    assert (await check.averify(provider.token("k2"))).user_id == "u-1"
    assert provider.fetches == 2  # one refresh for the unknown kid


async def test_made_up_kids_do_not_flood_the_provider(provider: Provider) -> None:
    provider.add_key("k1")
    provider.add_key("secret", publish=False)
    check = verifier(provider)
    await check.averify(provider.token("k1"))
    for _ in range(20):
        with pytest.raises(Unauthenticated, match="unknown signing key"):
            await check.averify(provider.token("secret"))
    assert provider.fetches <= 2


async def test_the_fetch_does_not_block_the_event_loop(provider: Provider) -> None:
    provider.add_key("k1")
    provider.delay = 0.5
    check = verifier(provider)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    tokens = [provider.token("k1", sub=f"u-{i}") for i in range(5)]
    identities = await asyncio.gather(*(check.averify(t) for t in tokens))
    ticker.cancel()
    assert [i.user_id for i in identities] == [f"u-{i}" for i in range(5)]
    assert provider.fetches == 1  # concurrent requests wait for the same fetch
    assert ticks >= 20  # the loop kept running during the half-second fetch


async def test_a_forged_or_unsigned_token_is_refused(provider: Provider) -> None:
    provider.add_key("k1")
    check = verifier(provider)
    hs = jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, "x" * 32, headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        await check.averify(hs)  # HS256 with a kid of the provider: not accepted
    no_kid = jwt.encode(
        {"sub": "u", "exp": int(time.time()) + 60}, provider.keys["k1"], algorithm="RS256"
    )
    with pytest.raises(Unauthenticated, match="no kid"):
        await check.averify(no_kid)


async def test_identity_provider_claims_with_rs256(provider: Provider) -> None:
    provider.add_key("k1")
    check = CachedTokenVerifier(
        CommonSettings.model_validate(
            {
                "jwt_jwks_url": provider.url,
                "jwt_secret": None,
                "jwt_roles_claim": "realm_access.roles",
                "jwt_team_claim": "groups",
                "jwt_issuer": "https://idp.example/realms/crm",
            }
        )
    )
    token = provider.token(
        "k1",
        roles=None,
        realm_access={"roles": ["offline_access", "manager"]},
        groups=["/north"],
        iss="https://idp.example/realms/crm",
    )
    identity = await check.averify_header(f"Bearer {token}")
    assert (identity.roles, identity.team) == (frozenset({"manager"}), "north")
    bad = provider.token("k1", team={"$ne": None}, iss="https://idp.example/realms/crm")
    with pytest.raises(Unauthenticated):
        await CachedTokenVerifier(
            CommonSettings.model_validate({"jwt_jwks_url": provider.url, "jwt_secret": None})
        ).averify(bad)
