"""`make demo`'s launcher, run for real: a failed seed is completed by the next run, the demo
lives in a RabbitMQ virtual host of its own, a crashed process is restarted, a second demo on
taken ports is refused by name, a broker that does not answer is named in one line, and
SIGTERM stops every process it started, leaving none behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from crmstack.ports import free_port
from devstack import DEFAULT_PORTS, make_token

ROOT = Path(__file__).resolve().parent.parent
DEVSTACK = [sys.executable, str(ROOT / "scripts" / "devstack.py")]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def demo_env(run_dir: Path, ports: dict[str, int], **extra: str) -> dict[str, str]:
    env = {**os.environ, "CRM_DEMO_DIR": str(run_dir), **extra}
    # The demo finds its own infrastructure, as on a fresh machine (not the test session's).
    for name in ("MONGODB_URL", "AMQP_URL", "CRM_INSTANCE"):
        env.pop(name, None)
    env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    return env


def query(port: int, text: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": text}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {make_token('admin')}",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body: dict[str, object] = json.loads(response.read())
    return body


def read_until(process: subprocess.Popen[str], marker: str, within: float = 150) -> str:
    assert process.stdout is not None
    output = []
    deadline = time.monotonic() + within
    for line in process.stdout:
        output.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    return "".join(output)


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    # The demo keeps its vhost between runs; `reset` removes it from the shared broker.
    subprocess.run([*DEVSTACK, "reset"], env=demo_env(tmp_path, {}), check=True, timeout=60)


def test_a_failed_seed_is_completed_crashes_are_restarted_and_sigterm_leaves_nothing(
    run_dir: Path,
) -> None:
    ports = {name: free_port() for name in DEFAULT_PORTS}
    # A first run whose seed fails half-way (the test hook stops it after four deal steps).
    failed = subprocess.run(
        [*DEVSTACK, "demo"],
        env=demo_env(run_dir, ports, CRM_DEMO_SEED_FAIL_AFTER="4"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert failed.returncode == 1, failed.stderr
    assert "could not be seeded" in failed.stderr

    demo = subprocess.Popen(
        [*DEVSTACK, "demo"],
        env=demo_env(run_dir, ports),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    started: set[int] = set()
    try:
        text = read_until(demo, "Ctrl-C stops everything")
        assert "CRM suite is up" in text, text
        assert "Seeded 6 customers and 9 deals" in text, "the second run completes the seed"
        assert f"http://127.0.0.1:{ports['gateway']}/graphql" in text
        assert "virtual host 'crm-demo-" in text, "the demo has a virtual host of its own"
        assert "MongoDB:   mongodb://" in text
        assert "analytics-rebuild" in text
        started = descendants(demo.pid)
        assert len(started) >= 6, "SecantusDB, three subgraphs, the worker and the gateway"

        body = query(
            ports["gateway"],
            "{ customers(first: 20) { totalCount }"
            " opportunities(first: 20) { totalCount edges { node { title stage { name } } } } }",
        )
        data = body["data"]
        assert isinstance(data, dict)
        assert data["customers"]["totalCount"] == 6
        assert data["opportunities"]["totalCount"] == 9
        stages = {
            e["node"]["title"]: e["node"]["stage"]["name"] for e in data["opportunities"]["edges"]
        }
        assert stages["Borealis: onboarding package"] == "Won"
        assert stages["Cygnus: clinic rollout"] == "Negotiation"

        # A second demo on the same ports is refused at once, naming the port and its holder.
        second = subprocess.run(
            [*DEVSTACK, "demo"],
            env=demo_env(run_dir.parent / f"{run_dir.name}-second", ports),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert f"port {ports['gateway']} (gateway) is taken by pid" in second.stderr

        # A crashed process is restarted (with back-off) and the demo keeps serving.
        pipeline = next(
            pid
            for pid in descendants(demo.pid)
            if b"pipeline-api" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        os.kill(pipeline, signal.SIGKILL)
        restarted = read_until(demo, "pipeline is back", within=60)
        assert "pipeline exited (-9); restarting it" in restarted
        assert query(ports["gateway"], "{ pipelines { id } }")["data"]
        started |= descendants(demo.pid)
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(60)
    assert demo.returncode == 0
    time.sleep(0.5)
    assert not [pid for pid in started if alive(pid)], "processes left behind"


def test_a_broker_that_does_not_answer_is_named_in_one_line(tmp_path: Path) -> None:
    ports = {name: free_port() for name in DEFAULT_PORTS}
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    done = subprocess.run(
        [*DEVSTACK, "demo"],
        env={**demo_env(tmp_path, ports), "AMQP_URL": dead},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "waiting up to" not in done.stderr, "no waiting for a broker it will not start"
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, done.stderr
    assert "does not answer" in errors[0]
    assert "rabbitmq-server" not in done.stderr, "no local broker started for another URL"
    assert "stopping the RabbitMQ broker" not in done.stderr
