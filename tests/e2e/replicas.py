"""Two `tierbot serve` processes on one database, both wired to the sandbox Slack.

Real processes (the command a deployment runs), real ports on loopback; the test drives them
the way Slack and a load balancer would: any delivery may reach either replica, or both.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_driver import SlackHttpDriver
from bot.sandbox.slack_models import SIGNING_SECRET

READY_TIMEOUT = 60.0
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll something outside the sandbox (the database) until it answers, or fail naming it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"no {what} within {timeout} s")


@dataclass
class Replica:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    driver: SlackHttpDriver

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_ready(replica: Replica) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(f"{replica.name} exited early:\n{replica.log()}")
        try:
            if httpx.get(f"{replica.base_url}/readyz", timeout=2, trust_env=False).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{replica.name} not ready after {READY_TIMEOUT}s:\n{replica.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def two_replicas(
    database_url: str,
    slack: SlackSandbox,
    work_dir: Path,
    extra_env: Mapping[str, str] = {},
) -> Iterator[tuple[Replica, Replica]]:
    """Migrate once (as the deployment's Job does), then start two servers and wait for both."""
    env = {
        **os.environ,
        "TIERBOT_DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "TIERBOT_SLACK_API_URL": slack.api_url,
        "NO_PROXY": "127.0.0.1,localhost",
        **extra_env,
    }
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    with ExitStack() as stack:
        replicas = []
        for name in ("replica-a", "replica-b"):
            port = free_port()
            log_path = work_dir / f"{name}.log"
            log_file = stack.enter_context(log_path.open("wb"))
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=work_dir,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, process)
            base_url = f"http://127.0.0.1:{port}"
            driver = stack.enter_context(
                SlackHttpDriver(slack, f"{base_url}/slack/events", SIGNING_SECRET, timeout=30)
            )
            replicas.append(Replica(name, base_url, process, log_path, driver))
        for replica in replicas:
            _wait_ready(replica)
        yield replicas[0], replicas[1]
