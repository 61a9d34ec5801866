"""RabbitMQ: reuse the broker at ``AMQP_URL``; start (or install) a local one only for the
default local URL; give each installation a virtual host of its own.

A broker this module did not start is never stopped, and a virtual host is only deleted when
its owner asked for a throw-away one (a test session), never a demo's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from urllib.parse import quote, urlsplit, urlunsplit

from crmstack.output import LaunchError, redact, say

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
START_TIMEOUT = 120.0


def amqp_problem(url: str, timeout: float = 5.0) -> str | None:
    """Why the broker at ``url`` does not answer, or ``None`` when it does."""
    import aio_pika

    async def probe() -> None:
        connection = await aio_pika.connect(url, timeout=timeout)
        await connection.close()

    # aio-pika logs every failed attempt at length; a probe says why in one line itself.
    quiet = [logging.getLogger(name) for name in ("aio_pika", "aiormq")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        asyncio.run(asyncio.wait_for(probe(), timeout + 1))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip().rstrip(":")[:200]
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    return None


def is_default_local(url: str) -> bool:
    """The one URL for which a local broker may be started: localhost on the standard port."""
    parts = urlsplit(url)
    return (parts.hostname or "127.0.0.1") in LOCAL_HOSTS and (parts.port or 5672) == 5672


def vhost_of(url: str) -> str:
    path = urlsplit(url).path
    return "/" if path in ("", "/") else path[1:].replace("%2F", "/").replace("%2f", "/")


def with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, ""))


@dataclass
class Broker:
    url: str
    started_here: bool = False
    #: A throw-away virtual host (a test session's) that ``stop`` deletes.
    throwaway_vhost: str | None = None

    def stop(self) -> None:
        if self.throwaway_vhost:
            delete_vhost(self.url, self.throwaway_vhost)
        if self.started_here:
            say("stopping the RabbitMQ broker this command started")
            subprocess.run(["rabbitmqctl", "-q", "stop"], check=False, capture_output=True)


def _install_rabbitmq() -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise LaunchError(
            "RabbitMQ does not answer at the default local URL and is not installed: install"
            " rabbitmq-server, or set AMQP_URL to a broker"
        )
    say("RabbitMQ: not installed; installing the Debian package rabbitmq-server with apt")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "rabbitmq-server"],
        check=True,
        env=env,
        capture_output=True,
    )


def ensure_rabbitmq(url: str) -> Broker:
    problem = amqp_problem(url)
    if problem is None:
        say(f"RabbitMQ: reusing the broker answering at {redact(url)}")
        return Broker(url)
    if not is_default_local(url):
        raise LaunchError(
            f"RabbitMQ at {redact(url)} does not answer ({problem}); start that broker or fix"
            " AMQP_URL (a local broker is only started for the default URL)"
        )
    if not shutil.which("rabbitmq-server"):
        _install_rabbitmq()
    say(
        "RabbitMQ: no broker answers at the default local URL; starting the local one with"
        f" `rabbitmq-server -detached` (waiting up to {START_TIMEOUT:.0f} s)"
    )
    subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True)
    deadline = time.monotonic() + START_TIMEOUT
    while (problem := amqp_problem(url, timeout=3)) is not None:
        if time.monotonic() > deadline:
            raise LaunchError(f"RabbitMQ was started but does not answer: {problem}")
        time.sleep(1)
    return Broker(url, started_here=True)


# --- virtual hosts ---------------------------------------------------------------------


def _management_request(url: str, method: str, path: str, body: object | None = None) -> None:
    """One call of the management plugin's HTTP API (port 15672, the URL's credentials)."""
    parts = urlsplit(url)
    credentials = f"{parts.username or 'guest'}:{parts.password or 'guest'}".encode()
    request = urllib.request.Request(
        f"http://{parts.hostname}:15672/api/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def _rabbitmqctl(*args: str) -> bool:
    if not shutil.which("rabbitmqctl"):
        return False
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True).returncode == 0


def create_vhost(url: str, vhost: str) -> None:
    """Create ``vhost`` (when missing) and give the URL's user every permission on it."""
    user = urlsplit(url).username or "guest"
    host = urlsplit(url).hostname or "127.0.0.1"
    if host in LOCAL_HOSTS and shutil.which("rabbitmqctl"):
        listed = subprocess.run(
            ["rabbitmqctl", "-q", "list_vhosts", "name"], capture_output=True, text=True
        )
        known = listed.returncode == 0 and vhost in listed.stdout.split()
        if (known or _rabbitmqctl("add_vhost", vhost)) and _rabbitmqctl(
            "set_permissions", "-p", vhost, user, ".*", ".*", ".*"
        ):
            return
    try:
        _management_request(url, "PUT", f"vhosts/{quote(vhost, safe='')}")
        _management_request(
            url,
            "PUT",
            f"permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
    except (urllib.error.URLError, OSError) as exc:
        raise LaunchError(
            f"cannot create the RabbitMQ virtual host {vhost!r} (neither rabbitmqctl nor the"
            f" management API at {host}:15672 works: {exc}); create it, or put a vhost of"
            " your own in AMQP_URL"
        ) from exc


def delete_vhost(url: str, vhost: str) -> None:
    host = urlsplit(url).hostname or "127.0.0.1"
    if host in LOCAL_HOSTS and _rabbitmqctl("delete_vhost", vhost):
        return
    try:
        _management_request(url, "DELETE", f"vhosts/{quote(vhost, safe='')}")
    except (urllib.error.URLError, OSError):
        say(f"RabbitMQ: could not delete the virtual host {vhost!r}")


def private_vhost(broker: Broker, vhost: str, *, throwaway: bool = True) -> Broker:
    """The broker seen through a virtual host of its own, created when missing.

    An ``AMQP_URL`` that already names a virtual host is the user's choice and is kept."""
    if vhost_of(broker.url) != "/":
        say(f"RabbitMQ: using the virtual host {vhost_of(broker.url)!r} named in AMQP_URL")
        return broker
    create_vhost(broker.url, vhost)
    return replace(
        broker, url=with_vhost(broker.url, vhost), throwaway_vhost=vhost if throwaway else None
    )
