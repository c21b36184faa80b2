"""Composition root: the ASGI app with Slack, the ingest API, health, metrics and the scheduler.

Slack reaches the bot over HTTP (`POST /slack/events`) or, with `slack_transport="socket"`,
over a Socket Mode connection opened when the server starts; the HTTP routes serve either way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Literal

from slack_bolt import App
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import __version__
from bot.migrate import schema_lag
from bot.notifiers import Notifiers
from bot.probes.service import ProbeRunner
from bot.rollouts.api import rollout_routes
from bot.scheduling import build_scheduler
from bot.settings import Settings
from bot.slack.metrics import CONTENT_TYPE, ServerMetrics
from bot.store import Store
from bot.telemetry.api import ingest_routes

log = logging.getLogger(__name__)

SlackTransport = Literal["http", "socket", "off"]


class CountRequests:
    """ASGI middleware: count requests per known route and status for `/metrics`."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, routes: set[str]) -> None:
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in self.routes else "other"
        status = 500

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            self.metrics.http_requests.labels(route=route, status=str(status)).inc()


def _probe_metrics(store: Store) -> str:
    """The probes' own exposition (latest result and alert per target)."""
    from bot.probes.alerts import alerts
    from bot.probes.metrics import render_metrics
    from bot.probes.store import latest_results

    with store.sessions() as session:
        return render_metrics(latest_results(session=session), alerts(session=session))


def create_app(
    settings: Settings,
    store: Store,
    *,
    run_scheduler: bool = True,
    slack_app: App | None = None,
    slack_transport: SlackTransport = "http",
    metrics: ServerMetrics | None = None,
    notifiers: Notifiers | None = None,
    probe_runner: ProbeRunner | None = None,
) -> Starlette:
    """Build the ASGI app around an open store (and a bolt app, when Slack is configured)."""
    metrics = metrics or ServerMetrics()

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    schema_ok = False  # once the schema is at head it stays there for this process

    async def readyz(_: Request) -> JSONResponse:
        nonlocal schema_ok
        try:
            await run_in_threadpool(store.ping)
            lag = None if schema_ok else await run_in_threadpool(schema_lag, store.engine)
        except Exception as exc:  # any failure to reach the store means not ready
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, 503)
        if lag is not None:
            return JSONResponse({"status": "unavailable", "error": lag}, 503)
        schema_ok = True
        return JSONResponse({"status": "ready"})

    async def prometheus(_: Request) -> PlainTextResponse:
        text = metrics.render()
        try:
            text += await run_in_threadpool(_probe_metrics, store)
        except Exception:  # the store is down: still export the server's own metrics
            log.warning("probe metrics unavailable", exc_info=True)
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        scheduler = (
            build_scheduler(store, settings, notifiers, probe_runner=probe_runner)
            if run_scheduler
            else None
        )
        socket = None
        if slack_app is not None and slack_transport == "socket":
            from bot.slack.http import socket_mode_handler

            socket = socket_mode_handler(slack_app, settings)
            await run_in_threadpool(socket.connect)
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if socket is not None:
                socket.client.auto_reconnect_enabled = False
                await run_in_threadpool(socket.close)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        *ingest_routes(store, settings),
        *rollout_routes(store, settings),
    ]
    if slack_app is not None and slack_transport == "http":
        from bot.slack.http import slack_routes

        routes += slack_routes(slack_app)
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(CountRequests, metrics=metrics, routes={r.path for r in routes})
    return app


def create_server_app(settings: Settings, store: Store, *, socket_mode: bool = False) -> Starlette:
    """What `tierbot serve` runs: Slack when its tokens are set, over HTTP or Socket Mode."""
    from bot.errors import TierbotError

    metrics = ServerMetrics()
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        if socket_mode:
            raise TierbotError("Socket Mode needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
        log.warning("SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET unset: serving without Slack")
        return create_app(settings, store, slack_transport="off", metrics=metrics)
    if socket_mode and settings.slack_app_token is None:
        raise TierbotError("Socket Mode needs SLACK_APP_TOKEN (an xapp- app-level token)")
    from bot.slack.app import build_slack_app, make_web_client
    from bot.slack.wiring import slack_deps

    client = make_web_client(settings)
    deps = slack_deps(settings, store, client, metrics=metrics)
    slack_app = build_slack_app(settings, client, deps)
    transport: SlackTransport = "socket" if socket_mode else "http"
    return create_app(
        settings,
        store,
        slack_app=slack_app,
        slack_transport=transport,
        metrics=metrics,
        notifiers=deps.notifiers,
        probe_runner=deps.probe_runner,
    )
