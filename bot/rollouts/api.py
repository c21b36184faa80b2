"""`GET /api/v1/cohorts/{cohort}/config`: what the builtin backend's clients poll.

The answer is the cohort's assignment in force per tier: the build, its rollout percentage,
config hash and quantization, and (while a staged rollout is below 100%) the build the rest of
the cohort stays on. Clients send `If-None-Match` with the last ETag and get 304 until it moves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.rollouts.service import UnknownCohort, cohort_history, current
from bot.settings import Settings
from bot.store import Store
from bot.timeutil import to_rfc3339, utcnow


def cohort_config(store: Store, cohort: str, now: datetime) -> dict[str, Any]:
    """The document the endpoint serves; raises UnknownCohort."""
    with store.sessions() as session:
        history = cohort_history(session=session, cohort=cohort)
    tiers: dict[str, Any] = {}
    for tier, assignment in sorted(current(history, now).items()):
        staged = assignment.rollout_percent < 100
        tiers[tier] = {
            "model_id": assignment.model_id,
            "rollout_percent": assignment.rollout_percent,
            "config_hash": assignment.config_hash,
            "quantization": assignment.quantization,
            "effective_at": to_rfc3339(assignment.effective_at),
            "others_model_id": assignment.previous_model_id if staged else None,
        }
    return {"cohort": cohort, "tiers": tiers}


def rollout_routes(
    store: Store, settings: Settings, *, clock: Callable[[], datetime] = utcnow
) -> list[Route]:
    async def config(request: Request) -> Response:
        cohort = request.path_params["cohort"]
        try:
            document = await run_in_threadpool(cohort_config, store, cohort, clock())
        except UnknownCohort as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        body = orjson.dumps(document)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    return [Route("/api/v1/cohorts/{cohort}/config", config, methods=["GET"])]
