"""A client of the session's customers API process: GraphQL posts, tokens, metrics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from crm_common.identity import mint_token

JWT_SECRET = "customers-tests-secret-" + uuid.uuid4().hex


@dataclass
class CustomersApi:
    url: str
    database: str
    mongo: MongoClient[dict[str, Any]]
    log_path: Path

    def token(
        self, user_id: str = "rep-1", roles: tuple[str, ...] = ("rep",), team: str | None = None
    ) -> str:
        return mint_token(
            JWT_SECRET, user_id=user_id, roles=list(roles), name=f"User {user_id}", team=team
        )

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        user_id: str = "rep-1",
        roles: tuple[str, ...] = ("rep",),
    ) -> dict[str, Any]:
        """Posts a GraphQL document and returns the JSON body (asserting HTTP 200)."""
        bearer = token or self.token(user_id, roles)
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def command_count(self, command: str) -> float:
        """``crm_mongo_commands_total`` of the service for one command on its database."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (
                    sample.name == "crm_mongo_commands_total"
                    and sample.labels.get("command") == command
                    and sample.labels.get("database") == self.database
                ):
                    return float(sample.value)
        return 0.0

    @property
    def collection(self) -> Any:
        return self.mongo[self.database]["customers"]
