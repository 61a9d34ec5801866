"""A customers API process that a test starts, kills and starts again on the same database.

The session's ``customers_api`` lives for the whole session; crash tests need their own
process: started with extra settings (a crash point, ``CUSTOMERS_CRASH_AT``), killed by it
(SIGKILL, as a power cut), started again without it on the same database and broker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from crm_common.identity import mint_token

SECRET = "customers-crash-tests-" + uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class CustomersProcess:
    def __init__(
        self, mongodb_url: str, amqp_url: str, database: str, log_dir: Path, **env: str
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"customers-{database}-{self.port}.log"
        self.env = {
            **os.environ,
            "MONGODB_URL": mongodb_url,
            "AMQP_URL": amqp_url,
            "JWT_SECRET": SECRET,
            "CRM_ENV": "test",
            "CUSTOMERS_HOST": "127.0.0.1",
            "CUSTOMERS_PORT": str(self.port),
            "CUSTOMERS_DATABASE": database,
            "CUSTOMERS_CONSUMER_QUEUE": f"customers.pipeline-events.{database}",
            **env,
        }
        if "CUSTOMERS_CRASH_AT" not in env:  # never inherited by accident
            self.env.pop("CUSTOMERS_CRASH_AT", None)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, within: float = 60) -> CustomersProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "customers.entrypoints.main"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + within
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"customers exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"customers not ready:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_killed(self, within: float = 20) -> None:
        """The process died of SIGKILL (its crash point), not of anything else."""
        assert self.process is not None
        code = self.process.wait(within)
        assert code == -signal.SIGKILL, (code, self.log_tail())

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

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
