"""`tierbot serve` wiring: Slack only with its tokens, Socket Mode only with an app token."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from bot.app import create_server_app
from bot.errors import TierbotError
from bot.sandbox.server import serve_in_thread
from bot.settings import Settings
from bot.slack.app import make_web_client
from bot.store import Store


def test_without_slack_tokens_the_server_runs_without_slack(
    settings: Settings, store: Store
) -> None:
    with (
        serve_in_thread(create_server_app(settings, store)) as url,
        httpx.Client(base_url=url, trust_env=False) as http,
    ):
        assert http.post("/slack/events", content=b"{}").status_code == 404
        assert http.get("/readyz").json() == {"status": "ready"}
        metrics = http.get("/metrics").text
    assert 'tierbot_http_requests_total{route="other",status="404"} 1.0' in metrics


def test_socket_mode_needs_an_app_token(settings: Settings, store: Store) -> None:
    wired = settings.model_copy(
        update={"slack_bot_token": SecretStr("xoxb-1"), "slack_signing_secret": SecretStr("s")}
    )
    with pytest.raises(TierbotError, match="SLACK_APP_TOKEN"):
        create_server_app(wired, store, socket_mode=True)


def test_the_web_client_retries_rate_limits_against_the_configured_url() -> None:
    settings = Settings(slack_api_url="http://127.0.0.1:9/api/", slack_bot_token="xoxb-1")
    client = make_web_client(settings)
    assert client.base_url == "http://127.0.0.1:9/api/"
    assert any(type(h).__name__ == "RateLimitErrorRetryHandler" for h in client.retry_handlers)
