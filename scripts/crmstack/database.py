"""MongoDB: reuse the server at ``MONGODB_URL``, else start the SecantusDB stand-in (a
development dependency) on a free port, with the data directory the caller names."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmstack.output import LaunchError, redact, say
from crmstack.ports import free_port
from crmstack.processes import stop_process

DEFAULT_MONGODB_URL = "mongodb://127.0.0.1:27017/"
STAND_IN = Path(sys.executable).parent / "secantusd-py"


def mongo_answers(url: str, timeout_ms: int = 1500) -> bool:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=timeout_ms)
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
    data_dir: Path | None = None
    temporary: bool = False
    port: int = 0
    log_path: Path | None = None
    restarts: int = field(default=0)

    @property
    def stand_in(self) -> bool:
        return self.process is not None

    def crashed(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def restart(self) -> None:
        """Start the stand-in again on the same port and data (after a crash)."""
        assert self.data_dir is not None
        assert self.log_path is not None
        self.restarts += 1
        self.process = _start_stand_in(self.port, self.data_dir, self.log_path)

    def stop(self) -> None:
        if self.process is not None:
            say("stopping the SecantusDB stand-in")
            stop_process(self.process)
        if self.temporary and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _start_stand_in(port: int, data_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    process = subprocess.Popen(
        [
            str(STAND_IN),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(data_dir),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    # retryWrites=false: the stand-in's single-write speed falls as retryable writes pile up.
    url = stand_in_url(port)
    deadline = time.monotonic() + 60
    while not mongo_answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise LaunchError(f"the SecantusDB stand-in did not start; see {log_path}")
        time.sleep(0.3)
    return process


def stand_in_url(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?retryWrites=false"


def ensure_mongodb(url: str | None, data_dir: Path | None, log_dir: Path) -> Database:
    if url and mongo_answers(url):
        say(f"MongoDB: reusing the server answering at {redact(url)}")
        return Database(url)
    if not STAND_IN.exists():
        raise LaunchError(
            f"no MongoDB answers at {redact(url or DEFAULT_MONGODB_URL)} and the SecantusDB"
            f" stand-in is missing ({STAND_IN}); run `make setup` or set MONGODB_URL"
        )
    temporary = data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="crm-secantus-")) if data_dir is None else data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    say(f"MongoDB: none answers; starting the SecantusDB stand-in on 127.0.0.1:{port}")
    log_path = log_dir / "secantusdb.log"
    process = _start_stand_in(port, data_dir, log_path)
    return Database(stand_in_url(port), process, data_dir, temporary, port, log_path)
