"""Runs the whole suite on one machine without Docker: ``make demo``, ``make reset``,
``make token``. The machinery (infrastructure, processes) is ``crmstack``, shared with the test
session and the benchmarks.

``demo`` finds or starts what the suite needs and says what it did:
- RabbitMQ: reuses the broker answering at ``AMQP_URL``; only for the default local URL does it
  start the local ``rabbitmq-server`` (or install it, as root on Debian). The demo gets a
  virtual host of its own (``crm-<CRM_INSTANCE>``, created when missing and kept between runs),
  and every queue name carries ``CRM_INSTANCE``: two demos on one broker never meet.
- MongoDB: reuses the server answering at ``MONGODB_URL``; else starts the SecantusDB stand-in
  on a free port, with its data in ``<run dir>/mongo-data`` (kept between runs).
Then it starts the three subgraphs, the analytics worker and the gateway, completes the demo
data (idempotent: what a failed run left half-done is finished), and watches the processes: one
that crashes is restarted with back-off; the demo stops on Ctrl-C (or SIGTERM), or when a
process keeps crashing.

Usage: ``python scripts/devstack.py demo|reset`` | ``python scripts/devstack.py token --role R``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crmstack.broker import (
    DEFAULT_AMQP_URL,
    amqp_problem,
    delete_vhost,
    ensure_rabbitmq,
    private_vhost,
    vhost_of,
)
from crmstack.database import DEFAULT_MONGODB_URL, Database, ensure_mongodb
from crmstack.output import LaunchError, redact, say
from crmstack.ports import free_port, port_holder, port_taken
from crmstack.processes import ProcessFailed
from crmstack.suite import (
    DEFAULT_PORTS,
    ROOT,
    Suite,
    jwt_secret,
    make_token,
    running_suite,
    throwaway_infrastructure,
    throwaway_suite,
)

__all__ = [
    "DEFAULT_AMQP_URL",
    "DEFAULT_MONGODB_URL",
    "DEFAULT_PORTS",
    "Suite",
    "ensure_mongodb",
    "ensure_rabbitmq",
    "free_port",
    "graphql",
    "jwt_secret",
    "make_token",
    "private_vhost",
    "running_suite",
    "throwaway_infrastructure",
    "throwaway_suite",
]

#: A process that crashes this often within CRASH_WINDOW seconds is given up on.
CRASH_LIMIT = 5
CRASH_WINDOW = 300.0
MAX_BACKOFF = 30.0


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


# --- the demo's identity: run dir, instance, vhost, ports ----------------------------------


@dataclass(frozen=True)
class DemoPlace:
    run_dir: Path
    instance: str

    @classmethod
    def from_environment(cls) -> DemoPlace:
        run_dir = Path(os.environ.get("CRM_DEMO_DIR") or ROOT / ".run").resolve()
        # Two checkouts (or two run dirs of one checkout) are two installations by default.
        digest = hashlib.sha256(str(run_dir).encode()).hexdigest()[:8]
        return cls(run_dir, os.environ.get("CRM_INSTANCE") or f"demo-{digest}")

    @property
    def vhost(self) -> str:
        return f"crm-{self.instance}"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "mongo-data"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "demo.pid"


def demo_ports() -> dict[str, int]:
    return {
        name: int(os.environ.get(f"{name.upper()}_PORT") or port)
        for name, port in DEFAULT_PORTS.items()
    }


def refuse_taken_ports(ports: dict[str, int]) -> None:
    for name, port in ports.items():
        if port_taken(port):
            raise LaunchError(
                f"port {port} ({name}) is taken by {port_holder(port)}; stop it or set"
                f" {name.upper()}_PORT to a free port"
            )


# --- supervision -----------------------------------------------------------------------


@dataclass
class CrashRecord:
    times: list[float] = field(default_factory=list)

    def record(self, now: float) -> int:
        self.times = [t for t in self.times if now - t < CRASH_WINDOW] + [now]
        return len(self.times)

    def backoff(self) -> float:
        return float(min(MAX_BACKOFF, 2 ** (len(self.times) - 1)))


class GaveUp(Exception):
    pass


#: What CRM_REPLICAS multiplies: every process but the gateway (one address for the demo).
REPLICATED = ("customers", "pipeline", "analytics", "analytics-worker")


def replicas_wanted() -> int:
    raw = os.environ.get("CRM_REPLICAS", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 8:
        raise LaunchError(f"CRM_REPLICAS={raw!r}: give a number from 1 to 8")
    return int(raw)


def start_replicas(suite: Suite, replicas: int) -> None:
    """``CRM_REPLICAS=N make demo``: N copies of each subgraph and of the worker, on ports of
    their own; the gateway is restarted to spread its calls over them."""
    if replicas <= 1:
        return
    for name in REPLICATED:
        for _ in range(replicas - 1):
            key = suite.start_replica(name)
            say(f"started {key}")
    suite.restart("gateway", fresh_env=True)
    say(f"the gateway calls {replicas} replicas of each subgraph")


def supervise(suite: Suite, database: Database) -> None:
    """Restart what crashes, with back-off; return only on Ctrl-C (KeyboardInterrupt)."""
    crashes: dict[str, CrashRecord] = {}

    def crashed(name: str, detail: str) -> float:
        count = crashes.setdefault(name, CrashRecord()).record(time.monotonic())
        if count >= CRASH_LIMIT:
            raise GaveUp(
                f"{name} crashed {count} times within {CRASH_WINDOW:.0f} s ({detail});"
                f" giving up, see {suite.log_dir}"
            )
        delay = crashes[name].backoff()
        say(f"{name} {detail}; restarting it in {delay:.0f} s (crash {count} of {CRASH_LIMIT})")
        return delay

    while True:
        time.sleep(1)
        if database.crashed():
            assert database.process is not None
            time.sleep(crashed("the SecantusDB stand-in", f"exited ({database.process.poll()})"))
            database.restart()
            say("the SecantusDB stand-in is back")
        for name in list(suite.processes):  # replicas too (``name#2``...)
            process = suite.processes.get(name)
            if process is None or process.running:
                continue
            time.sleep(crashed(name, f"exited ({process.returncode})"))
            try:
                suite.restart(name)
                say(f"{name} is back")
            except ProcessFailed as exc:
                say(str(exc))


# --- commands --------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    # Stop once: a second signal (Ctrl-C reaches us directly and again through `uv run`)
    # must not interrupt the clean-up that stops the processes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextlib.contextmanager
def pid_file(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(os.getpid()))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def banner(suite: Suite, place: DemoPlace, summary: str, seconds: float) -> str:
    manager = make_token("manager", "manager-1")
    example = (
        "{ customers(first: 5) { totalCount edges { node { name lifecycle"
        " opportunities { title amount { amount currency } stage { name } status } } } } }"
    )
    tools_env = f"MONGODB_URL='{suite.mongodb_url}' CRM_INSTANCE={suite.instance}"
    return (
        f"\nCRM suite is up in {seconds:.0f} s. {summary}\n\n"
        f"Gateway:   {suite.gateway_url}\n"
        f"MongoDB:   {suite.mongodb_url} (databases customers, pipeline, analytics)\n"
        f"RabbitMQ:  {redact(suite.amqp_url)} (virtual host {vhost_of(suite.amqp_url)!r},"
        f" queues {suite.instance}.*)\n"
        f"Logs:      {suite.log_dir}\n"
        f"Data:      {place.run_dir} (kept between runs; `make reset` starts over)\n\n"
        f"Tools that need the database, e.g. a rebuild of the analytics projections:\n"
        f"  {tools_env} .venv/bin/analytics-rebuild --verify\n\n"
        f"Example:\n"
        f"curl -s {suite.gateway_url} -H 'Content-Type: application/json' \\\n"
        f"  -H 'Authorization: Bearer {manager}' \\\n"
        f"  -d '{json.dumps({'query': example})}'\n\n"
        f"Token (manager):\n{manager}\n\nCtrl-C stops everything this command started."
    )


def run_demo() -> int:
    from demo_data import SeedFailed, seed

    # SIGTERM takes the same clean path as Ctrl-C; SIGINT is set explicitly because a shell
    # that starts us in the background leaves it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    started = time.monotonic()
    place = DemoPlace.from_environment()
    ports = demo_ports()
    refuse_taken_ports(ports)
    broker = ensure_rabbitmq(os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL)
    database: Database | None = None
    try:
        broker = private_vhost(broker, place.vhost, throwaway=False)
        say(f"RabbitMQ: the demo's virtual host is {vhost_of(broker.url)!r}")
        database = ensure_mongodb(
            os.environ.get("MONGODB_URL") or DEFAULT_MONGODB_URL, place.data_dir, place.log_dir
        )
        with (
            pid_file(place.pid_file),
            running_suite(
                mongodb_url=database.url,
                amqp_url=broker.url,
                log_dir=place.log_dir,
                instance=place.instance,
                ports=ports,
                throwaway_databases=False,
            ) as suite,
        ):
            # Where `crm-graph` finds the schema registry of this demo (the gateway's MongoDB).
            (place.run_dir / "mongodb-url").write_text(suite.mongodb_url)
            start_replicas(suite, replicas_wanted())
            summary = seed(suite.gateway_url, make_token("admin", "admin-1"))
            print(banner(suite, place, summary, time.monotonic() - started), flush=True)
            try:
                supervise(suite, database)
            except GaveUp as exc:
                say(str(exc))
                return 1
    except KeyboardInterrupt:
        say("stopping")
    except ProcessFailed as exc:
        say(f"error: {exc}")
        return 1
    except SeedFailed as exc:
        say(f"error: the demo data could not be seeded ({exc}); the next run completes it")
        return 1
    finally:
        if database is not None:
            database.stop()
        broker.stop()
    return 0


def run_reset() -> int:
    """Start over: the demo's stand-in data, logs and RabbitMQ virtual host are removed."""
    place = DemoPlace.from_environment()
    if place.pid_file.exists():
        pid = int(place.pid_file.read_text() or 0)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if pid:
                os.kill(pid, 0)
                raise LaunchError(f"a demo (pid {pid}) is running from {place.run_dir}; stop it")
    for path in (place.data_dir, place.log_dir):
        if path.exists():
            shutil.rmtree(path)
            say(f"removed {path}")
    url = os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL
    if vhost_of(url) != "/":
        say(f"AMQP_URL names the virtual host {vhost_of(url)!r}: it is yours, left as it is")
    elif amqp_problem(url) is None:
        delete_vhost(url, place.vhost)
        say(f"RabbitMQ: deleted the virtual host {place.vhost!r}")
    else:
        say(f"RabbitMQ at {redact(url)} does not answer; its virtual host was not deleted")
    if os.environ.get("MONGODB_URL"):
        say("MONGODB_URL names a server of yours: drop its databases yourself if you mean to")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a development JWT for a role")
    token.add_argument("--role", default="manager", choices=["rep", "manager", "admin", "service"])
    token.add_argument("--user", default=None)
    sub.add_parser("demo", help="run the suite with demo data until Ctrl-C")
    sub.add_parser("reset", help="remove the demo's data so that the next demo starts over")
    args = parser.parse_args()
    if args.command == "token":
        print(make_token(args.role, args.user))
        return 0
    if args.command == "reset":
        return run_reset()
    return run_demo()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
