"""`make demo`'s launcher, run for real: it comes up with seeded data, answers through the
gateway, and on SIGTERM stops every process it started, leaving none behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from devstack import DEFAULT_PORTS, free_port, make_token

ROOT = Path(__file__).resolve().parent.parent


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


def test_demo_comes_up_seeded_and_sigterm_leaves_no_process_behind(tmp_path: Path) -> None:
    ports = {name: free_port() for name in DEFAULT_PORTS}
    env = {**os.environ, "CRM_DEMO_DIR": str(tmp_path)}
    env.pop("MONGODB_URL", None)
    env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "devstack.py"), "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    started: set[int] = set()
    try:
        assert demo.stdout is not None
        output = []
        deadline = time.monotonic() + 120
        for line in demo.stdout:
            output.append(line)
            if "Ctrl-C stops everything" in line or time.monotonic() > deadline:
                break
        text = "".join(output)
        assert "CRM suite is up" in text, text
        assert "Seeded 6 customers and 9 deals" in text
        assert f"http://127.0.0.1:{ports['gateway']}/graphql" in text
        started = descendants(demo.pid)
        assert len(started) >= 6, "SecantusDB, three subgraphs, the worker and the gateway"

        request = urllib.request.Request(
            f"http://127.0.0.1:{ports['gateway']}/graphql",
            data=json.dumps({"query": "{ customers(first: 10) { totalCount } }"}).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {make_token('admin')}",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["data"]["customers"]["totalCount"] == 6
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(60)
    assert demo.returncode == 0
    time.sleep(0.5)
    assert not [pid for pid in started if alive(pid)], "processes left behind"
