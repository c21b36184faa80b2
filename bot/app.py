"""Composition root: the ASGI app with the ingest API, health endpoints and the scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot import __version__
from bot.scheduling import build_scheduler
from bot.settings import Settings
from bot.store import Store
from bot.telemetry.api import ingest_routes


def create_app(settings: Settings, store: Store, *, run_scheduler: bool = True) -> Starlette:
    """Build the ASGI app around an open store."""

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(_: Request) -> JSONResponse:
        try:
            store.ping()
        except Exception as exc:  # any failure to reach the store means not ready
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, 503)
        return JSONResponse({"status": "ready"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        scheduler = build_scheduler(store, settings) if run_scheduler else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *ingest_routes(store, settings),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
