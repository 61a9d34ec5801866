"""The request path's savings keep its guarantees: a cached token is never served past its
expiry and a bad one is never cached; a fetch drops its own timer only when the request's
deadline comes first; settling the heap frees garbage the frozen generation held."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest

from crm_common.errors import Unauthenticated
from crm_common.identity import mint_token
from crm_common.settings import CommonSettings
from crm_common.token_cache import CachedTokenVerifier
from gateway.heap import settle_heap
from gateway.transport.deadline import fetch_timeout, request_deadline

SECRET = "request-path-test-secret-0123456789abcdef"


def verifier() -> CachedTokenVerifier:
    # No leeway: the expiry test then sees the exact moment a token stops being valid.
    return CachedTokenVerifier(
        CommonSettings(jwt_secret=SECRET, environment="test", jwt_leeway_seconds=0)
    )


def test_a_verified_token_is_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    cached = verifier()
    token = mint_token(SECRET, user_id="u1", roles=["rep"], team="t1")
    first = cached.verify(token)
    monkeypatch.setattr("jwt.decode", lambda *a, **k: pytest.fail("verified again"))
    again = cached.verify(token)
    assert again == first
    assert (again.user_id, again.roles, again.team) == ("u1", frozenset({"rep"}), "t1")


def test_a_cached_token_is_refused_once_it_expired() -> None:
    cached = verifier()
    token = mint_token(SECRET, user_id="u1", roles=["rep"], ttl_seconds=2)
    cached.verify(token)
    time.sleep(max(0.0, float(int(time.time()) + 2 - time.time())) + 1.1)
    with pytest.raises(Unauthenticated):
        cached.verify(token)


def test_a_bad_token_is_refused_every_time() -> None:
    cached = verifier()
    forged = mint_token("another-secret-of-enough-length-0123456789", user_id="u1", roles=["admin"])
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            cached.verify(forged)


async def test_a_fetch_sets_its_own_timer_only_when_it_would_end_first() -> None:
    loop = asyncio.get_running_loop()
    assert fetch_timeout(30.0) == 30.0  # outside a request (a subscription's events)
    token = request_deadline.set(loop.time() + 10.0)
    try:
        assert fetch_timeout(30.0) is None  # the request's deadline fires first
        assert fetch_timeout(5.0) == 5.0  # a shorter subgraph timeout still applies
    finally:
        request_deadline.reset(token)


def test_settling_the_heap_frees_cycles_the_frozen_generation_held() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    node = Node()
    alive = weakref.ref(node)
    gc.freeze()
    try:
        del node
        gc.collect()
        assert alive() is not None, "frozen: the collector does not see it"
        settle_heap()
        assert alive() is None
    finally:
        gc.unfreeze()
