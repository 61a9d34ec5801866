"""Tokens and secrets: production refuses weak or public secrets, claims are checked by a schema."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import jwt
import pytest

from crm_common.errors import Unauthenticated
from crm_common.identity import TokenVerifier
from crm_common.settings import DEVELOPMENT_JWT_SECRET, CommonSettings

SECRET = "security-tests-secret-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


def _settings(**values: object) -> CommonSettings:
    return CommonSettings.model_validate({"jwt_secret": SECRET, **values})


def _token(claims: dict[str, object], secret: str = SECRET) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 600, **claims}, secret, algorithm="HS256")


@pytest.mark.parametrize("secret", ["x", "s" * 31, DEVELOPMENT_JWT_SECRET])
def test_production_refuses_a_short_or_the_development_secret(secret: str) -> None:
    with pytest.raises(ValueError, match="JWT_SECRET"):
        CommonSettings.model_validate({"environment": "production", "jwt_secret": secret})
    # Development keeps working with anything.
    assert CommonSettings.model_validate({"jwt_secret": secret}).jwt_secret == secret


def test_production_accepts_a_secret_of_32_bytes() -> None:
    settings = CommonSettings.model_validate({"environment": "production", "jwt_secret": "s" * 32})
    assert settings.jwt_secret == "s" * 32


@pytest.mark.parametrize("secret", ["short", DEVELOPMENT_JWT_SECRET])
def test_a_production_gateway_process_will_not_start_with_a_weak_secret(secret: str) -> None:
    env = {**os.environ, "CRM_ENV": "production", "JWT_SECRET": secret, "GATEWAY_PORT": "0"}
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "crm-gateway")],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert b"JWT_SECRET" in done.stderr


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "m-1", "name": "m", "roles": ["manager"], "team": {"$ne": None}},
        {"sub": "m-1", "roles": ["manager"], "team": ["team-1"]},
        {"sub": "m-1", "roles": ["manager"], "team": 7},
        {"sub": {"$gt": ""}, "roles": ["rep"]},
        {"sub": 12, "roles": ["rep"]},
        {"sub": "r-1", "name": ["x"], "roles": ["rep"]},
        {"sub": "r-1", "roles": "admin"},
        {"sub": "r-1", "roles": ["root"]},
        {"sub": "r-1", "roles": [{"$ne": None}]},
        {"sub": "", "roles": ["rep"]},
    ],
)
def test_malformed_claims_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(Unauthenticated, match="invalid token"):
        TokenVerifier(_settings()).verify(_token(claims))


def test_good_claims_give_the_identity() -> None:
    identity = TokenVerifier(_settings()).verify(
        _token({"sub": "r-1", "name": "Rep", "roles": ["rep"], "team": "north"})
    )
    assert (identity.user_id, identity.name, identity.roles, identity.team) == (
        "r-1",
        "Rep",
        frozenset({"rep"}),
        "north",
    )
    no_team = TokenVerifier(_settings()).verify(_token({"sub": "r-1", "roles": ["rep"]}))
    assert no_team.team is None
    assert no_team.name == "r-1"


def test_issuer_max_age_and_clock_skew() -> None:
    verifier = TokenVerifier(_settings(jwt_issuer="https://idp.example", jwt_max_age_seconds=60))
    good = {"sub": "r-1", "roles": ["rep"], "iss": "https://idp.example"}
    assert verifier.verify(_token(good)).user_id == "r-1"
    with pytest.raises(Unauthenticated):
        verifier.verify(_token({**good, "iss": "https://other.example"}))
    with pytest.raises(Unauthenticated):
        verifier.verify(_token({"sub": "r-1", "roles": ["rep"]}))  # no iss
    with pytest.raises(Unauthenticated, match="older than"):
        verifier.verify(_token({**good, "iat": int(time.time()) - 3600}))
    # Expired 10 s ago: inside a 30 s leeway, outside a 0 s one.
    expired = _token({**good, "exp": int(time.time()) - 10})
    assert verifier.verify(expired).user_id == "r-1"
    strict = TokenVerifier(_settings(jwt_issuer="https://idp.example", jwt_leeway_seconds=0))
    with pytest.raises(Unauthenticated):
        strict.verify(expired)


def test_roles_and_team_from_an_identity_providers_own_claims() -> None:
    verifier = TokenVerifier(
        _settings(jwt_roles_claim="realm_access.roles", jwt_team_claim="groups")
    )
    identity = verifier.verify(
        _token(
            {
                "sub": "kc-1",
                "realm_access": {"roles": ["offline_access", "manager"]},
                "groups": ["/north"],
            }
        )
    )
    assert identity.roles == frozenset({"manager"})
    assert identity.team == "north"
    with pytest.raises(Unauthenticated):
        verifier.verify(_token({"sub": "kc-1", "realm_access": {"roles": "manager"}}))
