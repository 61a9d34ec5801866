"""One managed process: started from a command with an environment, logged to a file, waited
for until its readiness URL answers, stopped (its whole process group) or killed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM to the process group, SIGKILL after ``grace`` seconds."""
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


class ProcessFailed(RuntimeError):
    """A managed process exited, or did not become ready, while it was being started."""


class ManagedProcess:
    """``command`` in a process group of its own, with ``env``, output appended to ``log_path``.

    ``ready_url`` (polled until it answers 200) or ``ready`` (any check) tells when it is
    ready; without either, a process is ready once started."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        ready_url: str | None = None,
        ready: Callable[[], bool] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env)
        self.log_path = log_path
        self.ready_url = ready_url
        self._ready = ready
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(
        self, timeout: float | None = 60.0, env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        """Start (again, after an exit); ``env`` adds to the environment for this run only.
        With a ``timeout``, wait until ready."""
        assert not self.running, f"{self.name} is already running"
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- start #{self.starts} of {self.name}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command,
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.cwd,
            )
        if timeout is not None:
            self.wait_ready(timeout)
        return self

    def is_ready(self) -> bool:
        if self.ready_url is not None and not http_ok(self.ready_url):
            return False
        return self._ready is None or self._ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            code = self.returncode
            if code is not None:
                raise ProcessFailed(f"{self.name} exited ({code}); see {self.log_path}")
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{self.name} not ready after {timeout} s; see {self.log_path}")
            time.sleep(0.2)

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int, timeout: float = 20.0) -> int:
        """Send ``signum`` to the process (not its group) and wait for it to exit."""
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL to the whole group: a crash, no shutdown code runs."""
        if self.running:
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, grace: float = 10.0) -> int | None:
        if self.process is None:
            return None
        stop_process(self.process, grace)
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
