"""One bolt App, configured once: the WebClient, signature checks, middlewares, features.

`process_before_response=True`: the ack listener runs in the request's own thread and the
response goes out as soon as it returns; the slow work is always in lazy listeners on the
listener pool. With False, bolt would run the ack listener on that same pool (behind any queued
lazy work: a burst of `/tier failed` could push an ack past Slack's 3 s) and poll for the ack
every 10 ms. So the ack listeners only parse: they never call Slack or the store.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.errors import TierbotError
from bot.settings import Settings
from bot.slack import commands, errors, events, features, middleware
from bot.slack.deps import SlackDeps
from bot.slack.middleware import DeliveryLedger

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3
LISTENER_THREADS = 8


def make_web_client(settings: Settings, *, token: str | None = None) -> WebClient:
    """The bot's WebClient: base_url from settings (the sandbox's, in tests), 429s retried."""
    if token is None:
        if settings.slack_bot_token is None:
            raise TierbotError("SLACK_BOT_TOKEN is not set: the Slack app needs the bot token")
        token = settings.slack_bot_token.get_secret_value()
    client = WebClient(token=token, base_url=settings.slack_api_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return client


def build_slack_app(
    settings: Settings,
    client: WebClient,
    deps: SlackDeps,
    *,
    deliveries: DeliveryLedger | None = None,
) -> App:
    """The bolt App with every feature registered; bolt's request verification stays on.

    Deliveries are deduped in the store every replica shares (`deps.store`) unless
    `deliveries` says otherwise.
    """
    if settings.slack_signing_secret is None:
        raise TierbotError("SLACK_SIGNING_SECRET is not set: Slack requests cannot be verified")
    app = App(
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=client,
        process_before_response=True,
        request_verification_enabled=True,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="tierbot-slack"),
    )
    middleware.register(
        app,
        deliveries or DeliveryLedger(deps.store),
        on_drop=lambda reason: deps.metrics.slack_dropped.labels(reason=reason).inc(),
    )
    errors.register(app)
    commands.register(app, deps)
    features.register_all(app, deps)
    events.register(app, deps)
    return app
