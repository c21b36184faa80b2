"""Slack over Socket Mode: the server `tierbot serve --socket-mode` runs connects at start-up.

The connection is opened by the ASGI app's lifespan with the app token, through
apps.connections.open on the sandbox; envelopes then arrive over the WebSocket.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.app import create_app
from bot.sandbox.server import serve_in_thread
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_blocks import check_blocks
from bot.sandbox.slack_driver import Delivery, SlackSocketModeDriver
from bot.sandbox.slack_models import DRI_USER_ID, ONCALL_CHANNEL_ID
from bot.store import Store
from tests.e2e.conftest import Bot, Expect, make_bot


@pytest.fixture(scope="module")
def socket_bot(loaded_store: Store, slack: SlackSandbox) -> Iterator[Bot]:
    bot, bolt = make_bot(loaded_store, slack)
    asgi = create_app(
        bot.settings,
        loaded_store,
        run_scheduler=False,
        slack_app=bolt,
        slack_transport="socket",
        metrics=bot.deps.metrics,
    )
    with serve_in_thread(asgi):
        slack.socket_mode.wait_for_connection()
        yield bot
        slack.socket_mode.close_all()  # spares the SDK client's blocking read at shutdown


@pytest.fixture
def driver(slack: SlackSandbox, socket_bot: Bot) -> SlackSocketModeDriver:
    return SlackSocketModeDriver(slack, ack_timeout=5)


def test_the_server_connects_with_the_app_token(slack: SlackSandbox, socket_bot: Bot) -> None:
    opened = slack.calls("apps.connections.open")
    assert opened and all(c.token == slack.app_token for c in opened)
    assert slack.socket_mode.connected >= 1


def test_a_command_is_acked_and_answered_in_the_channel(
    slack: SlackSandbox, driver: SlackSocketModeDriver
) -> None:
    expect = Expect.next(
        slack, "chat.postMessage", lambda c: c.ok and str(c.args["text"]).startswith("tiers:")
    )

    reply = driver.slash_command("/tier", "status")

    assert reply.body == ""  # an empty ack: the answer follows in the channel
    posted = expect.wait()
    assert posted.args["channel"] == ONCALL_CHANNEL_ID
    assert check_blocks(posted.args["blocks"]) == []


def test_a_bad_command_is_refused_in_the_ack_payload(driver: SlackSocketModeDriver) -> None:
    payload = driver.slash_command("/tier", "failed yesterday").json()
    assert payload["response_type"] == "ephemeral"
    assert payload["text"].startswith("`yesterday` is not a window")


def test_a_retried_event_is_acked_and_dropped(
    slack: SlackSandbox, driver: SlackSocketModeDriver, socket_bot: Bot
) -> None:
    registry = socket_bot.deps.metrics.registry

    def dropped() -> float:
        value = registry.get_sample_value("tierbot_slack_dropped_total", {"reason": "retry"})
        return value or 0.0

    before, mentions = dropped(), Expect.next(slack, "chat.postMessage")
    event = {"type": "app_mention", "user": DRI_USER_ID, "text": "<@U0TIERBOT> hi",
             "ts": slack.new_ts(), "channel": ONCALL_CHANNEL_ID}  # fmt: skip

    first = driver.event(event, event_id="EvSOCKET01")
    retried = driver.event(
        event, event_id="EvSOCKET01", delivery=Delivery(retry_num=1, retry_reason="timeout")
    )

    assert first.envelope_id and retried.envelope_id  # both acked
    assert mentions.wait().args["thread_ts"] == event["ts"]
    assert dropped() == before + 1
