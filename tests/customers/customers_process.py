"""A customers API process that a test starts, kills and starts again on the same database.

The session's ``customers_api`` lives for the whole session; crash tests need their own
process: started with extra settings (a crash point, ``CUSTOMERS_CRASH_AT``), killed by it
(SIGKILL, as a power cut), started again without it on the same database and broker.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from crm_common.identity import mint_token
from crmstack.ports import free_port
from crmstack.processes import ManagedProcess

SECRET = "customers-crash-tests-" + uuid.uuid4().hex


class CustomersProcess(ManagedProcess):
    def __init__(
        self, mongodb_url: str, amqp_url: str, database: str, log_dir: Path, **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {
            **os.environ,
            "MONGODB_URL": mongodb_url,
            "AMQP_URL": amqp_url,
            "JWT_SECRET": SECRET,
            "CRM_ENV": "test",
            "CUSTOMERS_HOST": "127.0.0.1",
            "CUSTOMERS_PORT": str(self.port),
            "CUSTOMERS_DATABASE": database,
            "CRM_INSTANCE": f"test-{database}",
            **env,
        }
        if "CUSTOMERS_CRASH_AT" not in env:  # never inherited by accident
            environment.pop("CUSTOMERS_CRASH_AT", None)
        super().__init__(
            "customers-api",
            [sys.executable, "-m", "customers.entrypoints.main"],
            environment,
            log_dir / f"customers-{database}-{self.port}.log",
            ready_url=f"{self.url}/health/ready",
        )

    def start(self, timeout: float | None = 60) -> CustomersProcess:
        super().start(timeout)
        return self

    def wait_killed(self, within: float = 20) -> None:
        """The process died of SIGKILL (its crash point), not of anything else."""
        assert self.process is not None
        code = self.process.wait(within)
        assert code == -signal.SIGKILL, (code, self.log_tail())

    @staticmethod
    def token(user_id: str, roles: tuple[str, ...] = ("rep",), team: str | None = None) -> str:
        return mint_token(
            SECRET, user_id=user_id, roles=list(roles), name=f"User {user_id}", team=team
        )

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user_id: str = "rep-1",
        roles: tuple[str, ...] = ("rep",),
    ) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token(user_id, roles)}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def post_until_it_dies(self, query: str, variables: dict[str, Any], **kwargs: Any) -> None:
        """Sends a request that reaches a crash point: no answer, the process is gone."""
        try:
            body = self.post(query, variables, **kwargs)
        except httpx.HTTPError:
            self.wait_killed()
            return
        raise AssertionError(f"answered instead of crashing: {body}")
