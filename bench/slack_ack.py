"""Slack ack benchmark: how fast tierbot acknowledges a signed `/tier status`, against a bare app.

    .venv/bin/python bench/slack_ack.py [--requests N] [--warmup W] [--no-rss]

Both apps run in this process on loopback ports, against the same Slack sandbox, and get the
same signed slash command from `SlackHttpDriver` (a keep-alive httpx client), alternately, so
they share the machine's conditions:

- tierbot: the ASGI app `tierbot serve` runs (`create_app` + `build_slack_app`: request
  counting, signature verification, retry drop, event dedupe, the `/tier` parser, the ack),
  over a SQLite store holding 3 hours of simulated traffic. Every command also starts the real
  lazy answer (which-tier over the last 30 min, the latest probes, chat.postMessage to the
  sandbox) on bolt's thread pool, competing for the GIL as in production.
- bare: a bolt App whose only listener acks `/tier`, served by bolt's own Starlette adapter,
  with bolt's defaults; and the same with `process_before_response=True` (as tierbot), since
  bolt's default runs the ack listener on its thread pool and polls for the ack every 10 ms.

The round trip is measured from the request being sent to the response being read. The goal
(issue 4): p99 under 50 ms and within 1.5x of the bare app's p99.

Then `tierbot serve` is started as a subprocess (pointed at the sandbox through
TIERBOT_SLACK_API_URL) and its resident memory is read from /proc once /readyz answers, and
again after it has drawn one which-tier chart (matplotlib is imported on first use).
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from slack_bolt import Ack, App
from slack_bolt.adapter.starlette import SlackRequestHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.app import create_app
from bot.sandbox.scenarios import SCENARIOS
from bot.sandbox.server import serve_in_thread
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_driver import SlackHttpDriver
from bot.sandbox.slack_models import SIGNING_SECRET
from bot.settings import Settings
from bot.slack.app import build_slack_app, make_web_client
from bot.slack.deps import SlackDeps
from bot.store import Store, open_store
from bot.telemetry.ingest import ingest_cohort_assignments, ingest_events, records_from_values
from bot.timeutil import utcnow

SCENARIO = "int8_oom_lowram"


def load_store(directory: Path) -> tuple[Store, Settings]:
    settings = Settings(database_url=f"sqlite:///{directory / 'bench.db'}")
    store = open_store(settings)
    end = utcnow().replace(second=0, microsecond=0)
    sim = SCENARIOS[SCENARIO](seed=1, end=end, rate_per_minute=60, baseline=timedelta(hours=3))
    ingest_cohort_assignments(store.engine, records_from_values(sim.assignments()), source="b")
    ingest_events(store.engine, records_from_values(sim.events()), source="bench")
    return store, settings


def bare_app(slack: SlackSandbox, *, process_before_response: bool = False) -> Starlette:
    app = App(
        signing_secret=SIGNING_SECRET,
        client=slack.web_client(),
        process_before_response=process_before_response,
    )

    @app.command("/tier")
    def ack_only(ack: Ack) -> None:
        ack()

    handler = SlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def tierbot_app(slack: SlackSandbox, store: Store, settings: Settings) -> Starlette:
    wired = settings.model_copy(
        update={
            "slack_api_url": slack.api_url,
            "slack_bot_token": SecretStr(slack.bot_token),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
        }
    )
    deps = SlackDeps(settings=wired, store=store)
    bolt = build_slack_app(wired, make_web_client(wired), deps)
    return create_app(wired, store, run_scheduler=False, slack_app=bolt, metrics=deps.metrics)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    drivers: dict[str, SlackHttpDriver], requests: int, warmup: int
) -> dict[str, list[float]]:
    """Alternate the apps request by request; milliseconds per round trip."""
    timings: dict[str, list[float]] = {name: [] for name in drivers}
    for i in range(warmup + requests):
        for name, driver in drivers.items():
            started = time.perf_counter()
            reply = driver.slash_command("/tier", "status")
            elapsed = (time.perf_counter() - started) * 1000
            if reply.status != 200:
                raise SystemExit(f"{name} answered {reply.status}: {reply.body[:200]}")
            if i >= warmup:
                timings[name].append(elapsed)
    return timings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@contextmanager
def served_subprocess(
    slack: SlackSandbox, db_url: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {
        **os.environ,
        "TIERBOT_DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "TIERBOT_SLACK_API_URL": slack.api_url,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    tierbot = Path(sys.executable).with_name("tierbot")
    process = subprocess.Popen(
        [str(tierbot), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/readyz", trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("tierbot serve did not become ready")
            time.sleep(0.1)
        yield process, base_url
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--no-rss", action="store_true", help="Skip the `tierbot serve` memory.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, SlackSandbox().running() as slack:
        store, settings = load_store(Path(tmp))
        with (
            serve_in_thread(tierbot_app(slack, store, settings)) as tierbot_url,
            serve_in_thread(bare_app(slack)) as bare_url,
            serve_in_thread(bare_app(slack, process_before_response=True)) as bare_pbr_url,
            SlackHttpDriver(slack, f"{tierbot_url}/slack/events", SIGNING_SECRET) as tierbot,
            SlackHttpDriver(slack, f"{bare_url}/slack/events", SIGNING_SECRET) as bare,
            SlackHttpDriver(slack, f"{bare_pbr_url}/slack/events", SIGNING_SECRET) as bare_pbr,
        ):
            drivers = {"tierbot": tierbot, "bare bolt": bare, "bare, pbr": bare_pbr}
            timings = measure(drivers, args.requests, args.warmup)
            answered_during = len(slack.calls("chat.postMessage"))
            drain_started = time.monotonic()
            slack.wait_for_call(  # let the lazy answers finish before the servers stop
                "chat.postMessage", count=args.requests + args.warmup, timeout=600
            )
            drained = time.monotonic() - drain_started
        print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
        print(
            f"{args.requests} signed `/tier status` round trips each, back to back "
            f"(after {args.warmup} warm-up)"
        )
        print(f"{'app':<12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for name, values in timings.items():
            print(
                f"{name:<12} {statistics.median(values):8.2f} {percentile(values, 0.99):8.2f} "
                f"{max(values):8.2f}"
            )
        p99 = percentile(timings["tierbot"], 0.99)
        ratios = {n: p99 / percentile(timings[n], 0.99) for n in ("bare bolt", "bare, pbr")}
        print(", ".join(f"tierbot p99 / {n} p99 = {r:.2f}x" for n, r in ratios.items()))
        met = p99 < 50 and max(ratios.values()) <= 1.5
        print(f"goal (p99 < 50 ms, within 1.5x of both bare apps): {'met' if met else 'NOT met'}")
        print(
            f"tierbot's lazy answers: {answered_during} posted during the run, the other "
            f"{args.requests + args.warmup - answered_during} within {drained:.0f} s after it"
        )
        store.close()

        if not args.no_rss:
            with served_subprocess(slack, settings.database_url) as (process, base_url):
                time.sleep(1.0)
                started = rss_mb(process.pid)
                with SlackHttpDriver(slack, f"{base_url}/slack/events", SIGNING_SECRET) as driver:
                    before = len(slack.calls("files.completeUploadExternal"))
                    driver.slash_command("/tier", "failed")
                    slack.wait_for_call(
                        "files.completeUploadExternal", count=before + 1, timeout=60
                    )
                charted = rss_mb(process.pid)
            print(
                f"`tierbot serve` resident memory: {started:.0f} MB after start, "
                f"{charted:.0f} MB after drawing one chart (goal after start: < 150 MB)"
            )


if __name__ == "__main__":
    main()
