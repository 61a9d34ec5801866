"""Settings read the standard names unprefixed and the service's own with ``CUSTOMERS_``."""

from __future__ import annotations

import pytest

from customers.settings import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTOMERS_PORT", raising=False)
    monkeypatch.delenv("CUSTOMERS_DATABASE", raising=False)
    settings = Settings()
    assert settings.port == 4001
    assert settings.database == "customers"


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMERS_PORT", "5001")
    monkeypatch.setenv("CUSTOMERS_DATABASE", "dev_customers")
    monkeypatch.setenv("MONGODB_URL", "mongodb://db:27017/")
    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    settings = Settings()
    assert (settings.port, settings.database) == (5001, "dev_customers")
    assert settings.mongodb_url == "mongodb://db:27017/"
    assert settings.jwt_secret == "s" * 40


def test_an_empty_secret_counts_as_unset_and_production_refuses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # docker-compose passes `JWT_SECRET: ${JWT_SECRET:-}`: empty must not become a secret.
    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "")
    monkeypatch.setenv("JWT_JWKS_URL", "")
    with pytest.raises(ValueError, match="JWT_SECRET or JWT_JWKS_URL is required"):
        Settings()
    monkeypatch.setenv("JWT_JWKS_URL", "https://idp.example/jwks")
    settings = Settings()
    assert settings.jwt_secret is None
    assert settings.jwt_jwks_url == "https://idp.example/jwks"


def test_the_instance_name_prefixes_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_INSTANCE", raising=False)
    assert Settings().consumer_queue == "crm.customers.pipeline-events"
    monkeypatch.setenv("CRM_INSTANCE", "team-b")
    assert Settings().consumer_queue == "team-b.customers.pipeline-events"
    monkeypatch.setenv("CRM_INSTANCE", "no spaces/or slashes")
    with pytest.raises(ValueError, match=r"(?i)instance"):
        Settings()
