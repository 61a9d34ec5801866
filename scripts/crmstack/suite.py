"""The running suite: the three subgraphs, the analytics worker and the gateway, each a
``ManagedProcess`` with the standard environment, started in dependency order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmstack.broker import DEFAULT_AMQP_URL, ensure_rabbitmq, private_vhost
from crmstack.database import DEFAULT_MONGODB_URL, ensure_mongodb
from crmstack.output import say
from crmstack.ports import free_port
from crmstack.processes import ManagedProcess, ProcessFailed

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_PORTS = {"gateway": 4000, "customers": 4001, "pipeline": 4002, "analytics": 4003}
SUBGRAPHS = ("customers", "pipeline", "analytics")
#: Start order: the worker first (its queue must exist before any event; publishers declare
#: it too), the subgraphs next (the gateway checks them), the gateway last.
START_ORDER = ("analytics-worker", *SUBGRAPHS, "gateway")
CONSOLE_SCRIPTS = {
    "customers": "customers-api",
    "pipeline": "pipeline-api",
    "analytics": "analytics-api",
    "analytics-worker": "analytics-worker",
    "gateway": "crm-gateway",
}


def jwt_secret() -> str:
    from crm_common.settings import DEVELOPMENT_JWT_SECRET

    return os.environ.get("JWT_SECRET") or DEVELOPMENT_JWT_SECRET


def make_token(role: str, user_id: str | None = None, team: str | None = "team-1") -> str:
    from crm_common.identity import mint_token

    return mint_token(
        jwt_secret(), user_id=user_id or f"{role}-1", roles=[role], name=f"Demo {role}", team=team
    )


def queue_exists(amqp_url: str, queue: str) -> bool:
    import aio_pika

    async def exists() -> bool:
        connection = await aio_pika.connect(amqp_url)
        try:
            channel = await connection.channel()
            await channel.declare_queue(queue, passive=True)
            return True
        except Exception:
            return False
        finally:
            await connection.close()

    return asyncio.run(exists())


@dataclass
class Suite:
    """The running suite: URLs, ports, environment, and the processes it can stop or restart."""

    mongodb_url: str
    amqp_url: str
    ports: dict[str, int]
    log_dir: Path
    #: ``CRM_INSTANCE`` of every process: the prefix of its queue names.
    instance: str = "crm"
    database_suffix: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    #: The extra replicas of a subgraph, beside ``ports[name]``: name -> {key: port}.
    replica_ports: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}/graphql"

    def subgraph_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/graphql"

    def subgraph_urls(self, name: str) -> list[str]:
        """The URLs of every replica of a subgraph, the first one's first."""
        ports = [self.ports[name], *self.replica_ports.get(name, {}).values()]
        return [f"http://127.0.0.1:{port}/graphql" for port in ports]

    def database(self, subgraph: str) -> str:
        return f"{subgraph}{self.database_suffix}"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "MONGODB_URL": self.mongodb_url,
            "AMQP_URL": self.amqp_url,
            "CRM_INSTANCE": self.instance,
            "JWT_SECRET": jwt_secret(),
            "GATEWAY_URL": self.gateway_url,
            "PYTHONUNBUFFERED": "1",
            # A local installation (demo, tests, benchmarks) delivers webhooks to receivers on
            # this machine; a deployment allows no internal address unless it says so.
            "ANALYTICS_WEBHOOK_ALLOWED_HOSTS": os.environ.get(
                "ANALYTICS_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1,localhost,::1"
            ),
        }
        for name, port in self.ports.items():
            env[f"{name.upper()}_PORT"] = str(port)
            env[f"{name.upper()}_HOST"] = "127.0.0.1"
        for name in SUBGRAPHS:
            env[f"{name.upper()}_DATABASE"] = self.database(name)
        # The gateway's schema registry: a test session's is as throw-away as its databases.
        env["GATEWAY_REGISTRY_DATABASE"] = f"registry{self.database_suffix}"
        # Every replica of a subgraph: the gateway spreads its calls over them.
        env["GATEWAY_SUBGRAPH_URLS"] = json.dumps(
            {n: " ".join(self.subgraph_urls(n)) for n in SUBGRAPHS}
        )
        env.update(self.extra_env)
        return env

    def process(
        self, name: str, env: dict[str, str] | None = None, port: int | None = None
    ) -> ManagedProcess:
        ready_url = None
        if name in self.ports:
            port = port or self.ports[name]
            path = "/health" if name == "gateway" else "/health/ready"
            ready_url = f"http://127.0.0.1:{port}{path}"
            env = {**(env or {}), f"{name.upper()}_PORT": str(port)}
        ready = None
        if name == "analytics-worker":
            from crm_common.topology import ANALYTICS_EVENTS

            queue = ANALYTICS_EVENTS.name(self.instance)
            ready = lambda: queue_exists(self.amqp_url, queue)  # noqa: E731
        return ManagedProcess(
            name,
            [str(BIN / CONSOLE_SCRIPTS[name])],
            {**self.env(), **(env or {})},
            self.log_dir / f"{name}.log",
            ready_url=ready_url,
            ready=ready,
            cwd=ROOT,
        )

    def start(self, name: str, env: dict[str, str] | None = None, timeout: float = 60) -> None:
        self.processes[name] = self.process(name, env).start(timeout)

    def start_replica(self, name: str, timeout: float = 60) -> str:
        """Start one more copy of ``name`` (on a port of its own if it serves HTTP); returns
        its key in ``processes`` (``name#2``, ``name#3``...). The gateway reaches a subgraph's
        new replica once it is (re)started: ``restart("gateway", fresh_env=True)``."""
        copies = [k for k in self.processes if k == name or k.startswith(f"{name}#")]
        key = f"{name}#{len(copies) + 1}"
        port = None
        if name in self.ports:
            port = free_port()
            self.replica_ports.setdefault(name, {})[key] = port
        self.processes[key] = self.process(name, port=port).start(timeout)
        return key

    def restart(self, name: str, timeout: float = 60, fresh_env: bool = False) -> None:
        """Start a process again with the environment it had (after it crashed), or with
        today's (``fresh_env``: e.g. the gateway after replicas were added)."""
        old = self.processes[name]
        if old.running:
            old.stop()
        env = self.process(name.split("#")[0]).env if fresh_env else old.env
        self.processes[name] = ManagedProcess(
            old.name,
            old.command,
            env,
            old.log_path,
            ready_url=old.ready_url,
            ready=old._ready,
            cwd=old.cwd,
        ).start(timeout)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.stop()

    def kill(self, name: str) -> None:
        """SIGKILL: the crash a test wants to survive (no shutdown hooks run)."""
        self.processes.pop(name).kill()
        # A killed extra replica is no replica any more (a restarted gateway does not call it).
        self.replica_ports.get(name.split("#")[0], {}).pop(name, None)

    def start_all(self) -> None:
        for name in START_ORDER:
            say(f"starting {name}")
            self.start(name)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)

    def drop_databases(self) -> None:
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]] = MongoClient(self.mongodb_url)
        with client:
            for name in (*SUBGRAPHS, "registry"):
                client.drop_database(self.database(name))


@contextlib.contextmanager
def running_suite(
    *,
    mongodb_url: str,
    amqp_url: str,
    log_dir: Path,
    instance: str,
    ports: dict[str, int] | None = None,
    throwaway_databases: bool = True,
) -> Iterator[Suite]:
    """Start the suite's processes on existing infrastructure, and stop them on exit.

    With ``throwaway_databases`` (tests, benchmarks) the databases get a unique suffix and are
    dropped at the end; ports default to free ones."""
    suffix = f"_test_{uuid.uuid4().hex[:6]}" if throwaway_databases else ""
    suite = Suite(
        mongodb_url,
        amqp_url,
        ports or {name: free_port() for name in DEFAULT_PORTS},
        log_dir,
        instance=instance,
        database_suffix=suffix,
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        suite.start_all()
        yield suite
    finally:
        suite.stop_all()
        if throwaway_databases:
            suite.drop_databases()


@contextlib.contextmanager
def throwaway_infrastructure(log_dir: Path) -> Iterator[tuple[str, str, str]]:
    """``(mongodb_url, amqp_url, instance)``: a private, throw-away virtual host and a fresh
    stand-in (or the reused MongoDB), for a benchmark or a script; all removed on exit."""
    instance = f"run-{uuid.uuid4().hex[:8]}"
    broker = private_vhost(
        ensure_rabbitmq(os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL), f"crm-{instance}"
    )
    try:
        database = ensure_mongodb(
            os.environ.get("MONGODB_URL") or DEFAULT_MONGODB_URL, None, log_dir
        )
        try:
            yield database.url, broker.url, instance
        finally:
            database.stop()
    finally:
        broker.stop()


@contextlib.contextmanager
def throwaway_suite(log_dir: Path) -> Iterator[Suite]:
    """The whole suite on throw-away infrastructure (benchmarks)."""
    with (
        throwaway_infrastructure(log_dir) as (mongodb_url, amqp_url, instance),
        running_suite(
            mongodb_url=mongodb_url, amqp_url=amqp_url, log_dir=log_dir, instance=instance
        ) as suite,
    ):
        yield suite


__all__ = ["ProcessFailed"]
