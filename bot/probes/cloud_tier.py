"""The cloud-tier probe: one HTTPS check per configured endpoint and region, all concurrently.

OpenAI-compatible endpoints must list the expected model (`GET /v1/models`) and answer a canary
chat completion within the latency budget with the expected content; Open Inference Protocol v2
endpoints must be live, ready and have the model ready. Each request is tried once (a retry
would hide the very flakiness a probe exists to see), TLS is always verified, and the API key
goes only into the Authorization header: it is never logged or put into a result.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import certifi
import httpx

from bot.probes.results import Check, ProbeResult
from bot.probes.settings import CloudEndpoint

_MAX_DETAIL = 120


@dataclass(frozen=True)
class _Reply:
    """A response, or the transport error that stood in for one, with how long it took."""

    latency_ms: float
    response: httpx.Response | None = None
    error: str | None = None

    def status_check(self) -> Check:
        if self.response is None:
            return Check(ok=False, value=None, detail=self.error or "no response")
        code = self.response.status_code
        return Check(ok=code == 200, value=float(code), detail=f"HTTP {code}")

    def json(self) -> Any:
        assert self.response is not None
        try:
            return self.response.json()
        except ValueError:
            return None


@lru_cache(maxsize=8)
def tls_verification(ca_bundle: Path | None) -> ssl.SSLContext:
    """Verification is always on; a private CA may be added to the usual roots, never removed.

    Built once per bundle and process (loading the roots costs ~30 ms a round otherwise).
    """
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


async def _request(
    client: httpx.AsyncClient, method: str, url: str, endpoint: CloudEndpoint, **kwargs: Any
) -> _Reply:
    headers = {"Accept": "application/json"}
    if endpoint.api_key is not None:
        headers["Authorization"] = f"Bearer {endpoint.api_key.get_secret_value()}"
    started = time.perf_counter()
    try:
        response = await client.request(
            method, url, headers=headers, timeout=endpoint.timeout_seconds, **kwargs
        )
    except httpx.TimeoutException:
        elapsed = (time.perf_counter() - started) * 1000
        return _Reply(elapsed, error=f"timed out after {endpoint.timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return _Reply(elapsed, error=f"{type(exc).__name__}: {str(exc)[:_MAX_DETAIL]}")
    return _Reply((time.perf_counter() - started) * 1000, response=response)


async def _probe_openai(client: httpx.AsyncClient, endpoint: CloudEndpoint) -> dict[str, Check]:
    models = await _request(client, "GET", f"{endpoint.base_url}/v1/models", endpoint)
    checks = {"models_status": models.status_check()}
    if checks["models_status"].ok:
        body = models.json()
        listed = [m.get("id") for m in body.get("data", []) if isinstance(m, dict)] if body else []
        checks["model_listed"] = Check(
            ok=endpoint.model in listed,
            detail=f"{endpoint.model} listed"
            if endpoint.model in listed
            else f"{endpoint.model} not in {listed[:5]}"[:_MAX_DETAIL],
        )
    chat = await _request(
        client,
        "POST",
        f"{endpoint.base_url}/v1/chat/completions",
        endpoint,
        json={
            "model": endpoint.model,
            "messages": [{"role": "user", "content": endpoint.canary_prompt}],
            "max_tokens": 16,
            "temperature": 0,
        },
    )
    checks["chat_status"] = chat.status_check()
    checks["chat_latency_ms"] = _latency_check(chat.latency_ms, endpoint)
    if checks["chat_status"].ok:
        content = _chat_content(chat.json())
        expected = endpoint.expected_content.lower()
        checks["chat_content"] = Check(
            ok=content is not None and expected in content.lower(),
            detail=f"reply {content!r}"[:_MAX_DETAIL]
            if content is not None
            else "no choices[0].message.content in the reply",
        )
    return checks


def _chat_content(body: Any) -> str | None:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


async def _probe_oip(client: httpx.AsyncClient, endpoint: CloudEndpoint) -> dict[str, Check]:
    paths = {
        "live": "/v2/health/live",
        "ready": "/v2/health/ready",
        "model_ready": f"/v2/models/{endpoint.model}/ready",
    }
    replies = {
        name: await _request(client, "GET", endpoint.base_url + p, endpoint)
        for name, p in paths.items()
    }
    checks = {name: reply.status_check() for name, reply in replies.items()}
    checks["latency_ms"] = _latency_check(max(r.latency_ms for r in replies.values()), endpoint)
    return checks


def _latency_check(latency_ms: float, endpoint: CloudEndpoint) -> Check:
    return Check(
        ok=latency_ms <= endpoint.latency_budget_ms,
        value=latency_ms,
        limit=endpoint.latency_budget_ms,
        unit=" ms",
    )


async def probe_endpoint(
    endpoint: CloudEndpoint, *, now: datetime, tls: ssl.SSLContext
) -> ProbeResult:
    """Probe one endpoint; every failure is a failed check, nothing is raised for HTTP trouble.

    Each endpoint gets its own client: a pool shared by many endpoints scans every connection
    on every request, which made 50 endpoints CPU-bound.
    """
    started = time.perf_counter()
    async with httpx.AsyncClient(verify=tls, follow_redirects=False) as client:
        if endpoint.protocol == "openai":
            checks = await _probe_openai(client, endpoint)
        else:
            checks = await _probe_oip(client, endpoint)
    duration = (time.perf_counter() - started) * 1000
    return ProbeResult(endpoint.target, "cloud", now, duration, checks=checks)


async def probe_endpoints(
    endpoints: list[CloudEndpoint], *, now: datetime, ca_bundle: Path | None = None
) -> list[ProbeResult]:
    """Probe every endpoint at once: the round takes as long as the slowest endpoint."""
    tls = tls_verification(ca_bundle)
    return list(await asyncio.gather(*(probe_endpoint(e, now=now, tls=tls) for e in endpoints)))
