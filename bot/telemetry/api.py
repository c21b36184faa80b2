"""HTTP push: `POST /api/v1/router-events`, `/api/v1/cohort-assignments`, `/api/v1/router-rollups`.

Bodies are NDJSON or a JSON array, gzip accepted (Content-Encoding or by content), behind the
bearer token in settings. The answer is the ingest summary as JSON: 200 when every record was
stored or was a duplicate, 422 when some were rejected (the good ones are stored all the same,
so a client may safely resend the whole batch), 400 when the body could not be read at all.
"""

from __future__ import annotations

import hmac
import io
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.settings import Settings
from bot.store import Store
from bot.telemetry.readers import InputError, decode_body, iter_records
from bot.telemetry.rollup_contract import DEFAULT_SOURCE
from bot.telemetry.rollup_ingest import ingest_rollups
from bot.telemetry.service import RecordKind, ingest


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse(
        {"error": message}, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="tierbot"'}
    )


def _check_token(request: Request, settings: Settings) -> JSONResponse | None:
    if settings.ingest_token is None:
        return JSONResponse(
            {"error": "the ingest API is disabled: set TIERBOT_INGEST_TOKEN to enable it"},
            status_code=503,
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _unauthorized("missing bearer token (Authorization: Bearer <token>)")
    expected = settings.ingest_token.get_secret_value().encode()
    if not hmac.compare_digest(token.strip().encode(), expected):
        return _unauthorized("wrong bearer token")
    return None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InputError(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def ingest_routes(store: Store, settings: Settings) -> list[Route]:
    """The push endpoints, bound to a store and settings."""

    def endpoint(kind: RecordKind) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def handle(request: Request) -> JSONResponse:
            def run(data: bytes, origin: str) -> dict[str, object]:
                records = iter_records(io.BytesIO(data))
                summary = ingest(
                    store.engine,
                    kind,
                    records,
                    source=origin,
                    batch_size=settings.ingest_batch_size,
                )
                return summary.to_dict()

            return await _ingest_request(request, settings, run)

        return handle

    return [
        Route("/api/v1/router-events", endpoint("router_events"), methods=["POST"]),
        Route("/api/v1/cohort-assignments", endpoint("cohort_assignments"), methods=["POST"]),
        Route("/api/v1/router-rollups", _rollups_endpoint(store, settings), methods=["POST"]),
    ]


def _rollups_endpoint(
    store: Store, settings: Settings
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """`POST /api/v1/router-rollups[?source=NAME]`: pre-aggregated minutes (docs/data.md).

    `source` names the collector for records without a `source` field: a resend by the same
    collector of a minute x slice replaces what it sent before.
    """

    async def handle(request: Request) -> JSONResponse:
        collector = request.query_params.get("source") or DEFAULT_SOURCE
        if len(collector) > 64:
            return JSONResponse({"error": "source must be at most 64 characters"}, status_code=400)

        def run(data: bytes, origin: str) -> dict[str, object]:
            records = iter_records(io.BytesIO(data))
            summary = ingest_rollups(
                store.engine, records, source=origin, collector=collector,
                batch_size=settings.ingest_batch_size,
            )  # fmt: skip
            return summary.to_dict()

        return await _ingest_request(request, settings, run)

    return handle


async def _ingest_request(
    request: Request, settings: Settings, run: Callable[[bytes, str], dict[str, object]]
) -> JSONResponse:
    """What every push endpoint does: the token, the body (gzip, size limit), then `run`.

    200 when every record was stored or a duplicate, 422 with the rejections otherwise; 400 for
    a body that is not NDJSON or JSON, 413 for one over `ingest_max_body_bytes`.
    """
    refusal = _check_token(request, settings)
    if refusal is not None:
        return refusal
    limit = settings.ingest_max_body_bytes
    try:
        body = await _read_body(request, limit)
        data = decode_body(body, request.headers.get("content-encoding"), limit)
        origin = f"http:{request.client.host if request.client else 'unknown'}"
        result = await run_in_threadpool(run, data, origin)
    except InputError as exc:
        status = 413 if "larger than" in str(exc) else 400
        return JSONResponse({"error": str(exc)}, status_code=status)
    return JSONResponse(result, status_code=422 if result["rejected"] else 200)
