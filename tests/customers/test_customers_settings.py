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
