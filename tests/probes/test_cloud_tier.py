"""Cloud probes over real HTTP on loopback against the stand-in, one test per injected fault."""

from __future__ import annotations

import asyncio
import json

import httpx

from bot.probes.cloud_tier import probe_endpoints
from bot.probes.results import ProbeResult
from bot.probes.settings import CloudEndpoint
from bot.sandbox.cloud import CloudStandIn, refused_url
from bot.timeutil import utcnow
from tests.probes.conftest import API_KEY, endpoint


def _run(*endpoints: CloudEndpoint) -> list[ProbeResult]:
    return asyncio.run(probe_endpoints(list(endpoints), now=utcnow()))


def _one(ep: CloudEndpoint) -> ProbeResult:
    [result] = _run(ep)
    return result


def test_healthy_openai_endpoint_passes(cloud: tuple[CloudStandIn, str]) -> None:
    stand_in, url = cloud
    result = _one(endpoint(url))
    assert result.ok, result.summary()
    assert result.target == "cloud/eu-west-1/primary"
    assert set(result.checks) == {
        "models_status",
        "model_listed",
        "chat_status",
        "chat_latency_ms",
        "chat_content",
    }
    assert ("GET", "/v1/models") in stand_in.requests
    assert ("POST", "/v1/chat/completions") in stand_in.requests


def test_healthy_oip_endpoint_passes(cloud: tuple[CloudStandIn, str]) -> None:
    stand_in, url = cloud
    result = _one(endpoint(url, protocol="oip"))
    assert result.ok, result.summary()
    assert set(result.checks) == {"live", "ready", "model_ready", "latency_ms"}
    assert ("GET", "/v2/models/assistant-large-2026-11/ready") in stand_in.requests


def test_server_errors_fail_both_protocols(cloud: tuple[CloudStandIn, str]) -> None:
    stand_in, url = cloud
    stand_in.faults("down").status = 503
    openai, oip = _run(endpoint(url, "down"), endpoint(url, "down", protocol="oip"))
    assert not openai.ok and openai.checks["chat_status"].value == 503.0
    assert "model_listed" not in openai.checks
    assert not oip.ok and oip.checks["ready"].detail == "HTTP 503"


def test_slowness_beyond_the_budget_fails_latency_only(cloud: tuple[CloudStandIn, str]) -> None:
    stand_in, url = cloud
    stand_in.faults("slow").delay_seconds = 0.2
    result = _one(endpoint(url, "slow", latency_budget_ms=100))
    assert result.failed_checks == ["chat_latency_ms"]
    latency = result.checks["chat_latency_ms"]
    assert latency.value is not None and latency.value >= 200 and latency.limit == 100


def test_slowness_beyond_the_timeout_is_reported_once_without_retry(
    cloud: tuple[CloudStandIn, str],
) -> None:
    stand_in, url = cloud
    stand_in.faults("stuck").delay_seconds = 1.0
    result = _one(endpoint(url, "stuck", protocol="oip", timeout_seconds=0.2))
    assert not result.ok
    assert result.checks["live"].detail == "timed out after 0.2 s"
    calls = [path for _, path in stand_in.requests if path == "/stuck/v2/health/live"]
    assert len(calls) == 1  # no silent retry


def test_wrong_content_fails_the_content_check(cloud: tuple[CloudStandIn, str]) -> None:
    stand_in, url = cloud
    stand_in.faults("confused").wrong_content = True
    result = _one(endpoint(url, "confused"))
    assert result.failed_checks == ["chat_content"]
    assert "I cannot help" in result.checks["chat_content"].detail


def test_wrong_model_id_fails_listing_and_readiness(cloud: tuple[CloudStandIn, str]) -> None:
    stand_in, url = cloud
    stand_in.faults("swapped").wrong_model_id = True
    openai, oip = _run(endpoint(url, "swapped"), endpoint(url, "swapped", protocol="oip"))
    assert "model_listed" in openai.failed_checks
    assert "assistant-large-2026-11-wrong" in openai.checks["model_listed"].detail
    assert openai.checks["chat_status"].value == 404.0
    assert oip.failed_checks == ["model_ready"]


def test_connection_refused_fails_every_request(cloud: tuple[CloudStandIn, str]) -> None:
    result = _one(endpoint(refused_url(), protocol="oip"))
    assert not result.ok
    assert result.checks["live"].detail.startswith("ConnectError")
    openai = _one(endpoint(refused_url()))
    assert openai.failed_checks == ["models_status", "chat_status"]


def test_api_key_is_sent_and_never_in_a_result(cloud: tuple[CloudStandIn, str]) -> None:
    _, url = cloud
    good = _one(endpoint(url))
    wrong_key = _one(endpoint(url, api_key="sk-wrong"))
    assert good.ok
    assert wrong_key.checks["models_status"].value == 401.0
    for result in (good, wrong_key):
        assert API_KEY not in json.dumps(result.to_dict())
        assert "sk-wrong" not in json.dumps(result.to_dict())


def test_faults_can_be_set_over_http(cloud: tuple[CloudStandIn, str]) -> None:
    _, url = cloud
    response = httpx.put(f"{url}/_faults/remote", json={"status": 502})
    assert response.status_code == 200
    assert _one(endpoint(url, "remote", protocol="oip")).checks["live"].value == 502.0
    assert httpx.put(f"{url}/_faults/remote", json={"nonsense": 1}).status_code == 400
    assert httpx.delete(f"{url}/_faults").status_code == 200
    assert _one(endpoint(url, "remote", protocol="oip")).ok
