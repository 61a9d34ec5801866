"""Runs the whole suite on one machine without Docker: ``make demo`` and the test session.

It finds or starts what the suite needs and says what it did:
- RabbitMQ: reuses the broker answering at ``AMQP_URL`` (or 127.0.0.1:5672); else starts the
  local ``rabbitmq-server``; else, as root on Debian, installs it with apt and starts it.
- MongoDB: reuses the server answering at ``MONGODB_URL``; else starts the SecantusDB stand-in
  (a development dependency of the workspace) on a free port.
Then it starts the three subgraphs, the analytics worker and the gateway, waits until each is
ready, and stops everything it started (processes, SecantusDB, a broker it started) on exit.

Usage: ``python scripts/devstack.py demo`` | ``python scripts/devstack.py token --role manager``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_MONGODB_URL = "mongodb://127.0.0.1:27017/"
DEFAULT_PORTS = {"gateway": 4000, "customers": 4001, "pipeline": 4002, "analytics": 4003}
SUBGRAPHS = ("customers", "pipeline", "analytics")


def say(message: str) -> None:
    print(f"[devstack] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def jwt_secret() -> str:
    from crm_common.settings import DEVELOPMENT_JWT_SECRET

    return os.environ.get("JWT_SECRET") or DEVELOPMENT_JWT_SECRET


def make_token(role: str, user_id: str | None = None, team: str | None = "team-1") -> str:
    from crm_common.identity import mint_token

    return mint_token(
        jwt_secret(),
        user_id=user_id or f"{role}-1",
        roles=[role],
        name=f"Demo {role}",
        team=team,
    )


# --- RabbitMQ ------------------------------------------------------------------------------


def amqp_answers(url: str, timeout: float = 5.0) -> bool:
    import aio_pika

    async def probe() -> None:
        connection = await aio_pika.connect(url, timeout=timeout)
        await connection.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), timeout + 1))
    except Exception:
        return False
    return True


def _wait_for_amqp(url: str, deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if amqp_answers(url, timeout=3):
            return True
        time.sleep(1)
    return False


@dataclass
class Broker:
    url: str
    started_here: bool = False
    vhost: str | None = None

    def stop(self) -> None:
        if self.vhost and shutil.which("rabbitmqctl"):
            subprocess.run(
                ["rabbitmqctl", "-q", "delete_vhost", self.vhost], check=False, capture_output=True
            )
        if self.started_here:
            say("stopping the RabbitMQ broker this run started")
            subprocess.run(["rabbitmqctl", "-q", "stop"], check=False, capture_output=True)


def ensure_rabbitmq(url: str) -> Broker:
    if amqp_answers(url):
        say(f"RabbitMQ: reusing the broker answering at {redact(url)}")
        return Broker(url)
    host = urlsplit(url).hostname or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"RabbitMQ at {redact(url)} does not answer, and it is not local")
    if not shutil.which("rabbitmq-server"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            say("RabbitMQ: not installed; installing the Debian package rabbitmq-server with apt")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "rabbitmq-server"], check=True, env=env
            )
        else:
            raise SystemExit(
                "RabbitMQ does not answer and is not installed; install rabbitmq-server or set"
                " AMQP_URL to a broker"
            )
    say("RabbitMQ: no broker answers; starting the local one with `rabbitmq-server -detached`")
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    if not _wait_for_amqp(url, 120):
        raise SystemExit("RabbitMQ was started but did not answer within 120 s")
    return Broker(url, started_here=True)


def isolated_vhost(broker: Broker) -> Broker:
    """A private virtual host for a test session, so tests never share queues with a demo."""
    if not shutil.which("rabbitmqctl"):
        return broker
    vhost = f"crm-test-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], capture_output=True)
    if done.returncode != 0:
        say("RabbitMQ: cannot create a private vhost; tests share the default one")
        return broker
    user = urlsplit(broker.url).username or "guest"
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    parts = urlsplit(broker.url)
    url = f"{parts.scheme}://{parts.netloc}/{vhost}"
    return Broker(url, started_here=broker.started_here, vhost=vhost)


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


# --- MongoDB -------------------------------------------------------------------------------


def mongo_answers(url: str) -> bool:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=1500)
    try:
        client.admin.command("ping")
    except Exception:
        return False
    finally:
        client.close()
    return True


@dataclass
class Database:
    url: str
    process: subprocess.Popen[bytes] | None = None
    temporary_dir: str | None = None

    def stop(self) -> None:
        if self.process is not None:
            say("stopping the SecantusDB stand-in")
            stop_process(self.process)
        if self.temporary_dir:
            shutil.rmtree(self.temporary_dir, ignore_errors=True)


def ensure_mongodb(url: str | None, data_dir: Path | None, log_dir: Path) -> Database:
    if url and mongo_answers(url):
        say(f"MongoDB: reusing the server answering at {redact(url)}")
        return Database(url)
    server = BIN / "secantusd-py"
    if not server.exists():
        raise SystemExit(f"no MongoDB answers and the SecantusDB stand-in is missing ({server})")
    temporary = None
    if data_dir is None:
        temporary = tempfile.mkdtemp(prefix="crm-secantus-")
        data_dir = Path(temporary)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    say(f"MongoDB: none answers; starting the SecantusDB stand-in on 127.0.0.1:{port}")
    log = (log_dir / "secantusdb.log").open("ab")
    process = subprocess.Popen(
        [str(server), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # retryWrites=false: the stand-in's single-write speed falls as retryable writes pile up.
    db_url = f"mongodb://127.0.0.1:{port}/?retryWrites=false"
    deadline = time.monotonic() + 60
    while not mongo_answers(db_url):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"SecantusDB did not start; see {log_dir / 'secantusdb.log'}")
        time.sleep(0.3)
    return Database(db_url, process, temporary)


# --- the suite's own processes -----------------------------------------------------------


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class ProcessSpec:
    name: str
    command: list[str]
    ready_url: str | None  # polled until it answers 200; None for workers


@dataclass
class Suite:
    """The running suite: URLs, ports, environment, and the processes it can stop or restart."""

    mongodb_url: str
    amqp_url: str
    ports: dict[str, int]
    log_dir: Path
    database_suffix: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}/graphql"

    def subgraph_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/graphql"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "MONGODB_URL": self.mongodb_url,
            "AMQP_URL": self.amqp_url,
            "JWT_SECRET": jwt_secret(),
            "GATEWAY_URL": self.gateway_url,
            "PYTHONUNBUFFERED": "1",
        }
        for name, port in self.ports.items():
            env[f"{name.upper()}_PORT"] = str(port)
            env[f"{name.upper()}_HOST"] = "127.0.0.1"
        for name in SUBGRAPHS:
            env[f"{name.upper()}_DATABASE"] = f"{name}{self.database_suffix}"
        # The gateway's schema registry: a test session's is as throw-away as its databases.
        env["GATEWAY_REGISTRY_DATABASE"] = f"registry{self.database_suffix}"
        env["GATEWAY_SUBGRAPH_URLS"] = json.dumps({n: self.subgraph_url(n) for n in SUBGRAPHS})
        env.update(self.extra_env)
        return env

    def spec(self, name: str) -> ProcessSpec:
        base = {
            "customers": "customers-api",
            "pipeline": "pipeline-api",
            "analytics": "analytics-api",
            "analytics-worker": "analytics-worker",
            "gateway": "crm-gateway",
        }[name]
        ready = None
        if name in self.ports:
            path = "/health" if name == "gateway" else "/health/ready"
            ready = f"http://127.0.0.1:{self.ports[name]}{path}"
        return ProcessSpec(name, [str(BIN / base)], ready)

    def start(self, name: str, env: dict[str, str] | None = None, timeout: float = 60) -> None:
        spec = self.spec(name)
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            spec.command,
            env={**self.env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
        self.processes[name] = process
        deadline = time.monotonic() + timeout
        while spec.ready_url and not http_ok(spec.ready_url):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}); see {log.name}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after {timeout} s; see {log.name}")
            time.sleep(0.2)
        if name == "analytics-worker":
            self._wait_for_queue("analytics.events", process, timeout)

    def _wait_for_queue(self, queue: str, process: subprocess.Popen[bytes], timeout: float) -> None:
        """Events published before a consumer's queue exists are dropped by the exchange."""
        import aio_pika

        async def exists() -> bool:
            connection = await aio_pika.connect(self.amqp_url)
            try:
                channel = await connection.channel()
                await channel.declare_queue(queue, passive=True)
                return True
            except Exception:
                return False
            finally:
                await connection.close()

        deadline = time.monotonic() + timeout
        while not asyncio.run(exists()):
            if process.poll() is not None:
                raise RuntimeError(f"worker exited ({process.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"queue {queue} not declared after {timeout} s")
            time.sleep(0.3)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            stop_process(process)

    def kill(self, name: str) -> None:
        """SIGKILL: the crash a test wants to survive (no shutdown hooks run)."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def start_all(self) -> None:
        # Subgraphs first (the gateway checks them), the worker before any event is produced.
        for name in ("analytics-worker", *SUBGRAPHS, "gateway"):
            say(f"starting {name}")
            self.start(name)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)
        if self.database_suffix:
            # Test databases on a reused server are throw-away: leave nothing behind.
            from pymongo import MongoClient

            client: MongoClient[dict[str, Any]] = MongoClient(self.mongodb_url)
            with client:
                for name in (*SUBGRAPHS, "registry"):
                    client.drop_database(f"{name}{self.database_suffix}")


@contextlib.contextmanager
def running_suite(
    *, for_tests: bool, log_dir: Path, data_dir: Path | None = None
) -> Iterator[Suite]:
    """Find or start the infrastructure, start the suite, and stop all of it on exit."""
    log_dir.mkdir(parents=True, exist_ok=True)
    broker = ensure_rabbitmq(os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL)
    stack: list[Any] = [broker]
    try:
        if for_tests:
            broker = isolated_vhost(broker)
            stack[0] = broker
        database = ensure_mongodb(
            os.environ.get("MONGODB_URL") or DEFAULT_MONGODB_URL, data_dir, log_dir
        )
        stack.append(database)
        ports = (
            {name: free_port() for name in DEFAULT_PORTS}
            if for_tests
            else {
                name: int(os.environ.get(f"{name.upper()}_PORT") or port)
                for name, port in DEFAULT_PORTS.items()
            }
        )
        suffix = f"_test_{uuid.uuid4().hex[:6]}" if for_tests and not database.process else ""
        suite = Suite(database.url, broker.url, ports, log_dir, database_suffix=suffix)
        stack.append(suite)
        suite.start_all()
        yield suite
    finally:
        for part in reversed(stack):
            part.stop_all() if isinstance(part, Suite) else part.stop()


# --- demo ------------------------------------------------------------------------------------


def graphql(url: str, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a development JWT for a role")
    token.add_argument("--role", default="manager", choices=["rep", "manager", "admin", "service"])
    token.add_argument("--user", default=None)
    sub.add_parser("demo", help="run the suite with demo data until Ctrl-C")
    args = parser.parse_args()
    if args.command == "token":
        print(make_token(args.role, args.user))
        return
    run_demo()


def _interrupt(signum: int, frame: object) -> None:
    # Stop once: a second signal (Ctrl-C reaches us directly and again through `uv run`)
    # must not interrupt the clean-up that stops the processes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def run_demo() -> None:
    from demo_data import seed

    # SIGTERM takes the same clean path as Ctrl-C; SIGINT is set explicitly because a shell
    # that starts us in the background leaves it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    started = time.monotonic()
    run_dir = Path(os.environ.get("CRM_DEMO_DIR") or ROOT / ".run")
    with running_suite(
        for_tests=False, log_dir=run_dir / "logs", data_dir=run_dir / "mongo-data"
    ) as suite:
        # Where `crm-graph` finds the schema registry of this demo (the gateway's MongoDB).
        (run_dir / "mongodb-url").write_text(suite.mongodb_url)
        admin = make_token("admin", "admin-1")
        summary = seed(suite.gateway_url, admin, make_token)
        manager = make_token("manager", "manager-1")
        up = time.monotonic() - started
        example = (
            "{ customers(first: 5) { totalCount edges { node { name lifecycle"
            " opportunities { title amount { amount currency } stage { name } status } } } } }"
        )
        print(
            f"\nCRM suite is up in {up:.0f} s. {summary}\n\n"
            f"Gateway: {suite.gateway_url}\n"
            f"Logs:    {suite.log_dir}\n\nExample:\n"
            f"curl -s {suite.gateway_url} -H 'Content-Type: application/json' \\\n"
            f"  -H 'Authorization: Bearer {manager}' \\\n"
            f"  -d '{json.dumps({'query': example})}'\n\n"
            f"Token (manager):\n{manager}\n\nCtrl-C stops everything this command started.",
            flush=True,
        )
        try:
            while all(p.poll() is None for p in suite.processes.values()):
                time.sleep(1)
            say("a process exited; stopping the suite")
        except KeyboardInterrupt:
            say("stopping")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    with contextlib.suppress(KeyboardInterrupt):
        main()
