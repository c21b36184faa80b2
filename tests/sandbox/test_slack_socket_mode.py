"""Socket Mode: bolt's SocketModeHandler connects to the sandbox's WebSocket and acks envelopes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import Ack, App, BoltRequest, Say
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_driver import Delivery, SlackSocketModeDriver
from bot.sandbox.slack_models import DRI_USER_ID, ONCALL_CHANNEL_ID, ONCALL_USER_ID, SIGNING_SECRET
from bot.sandbox.socket_mode import NoAck

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "ask",
    "title": {"type": "plain_text", "text": "Ask"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "q",
            "label": {"type": "plain_text", "text": "Question"},
            "element": {"type": "plain_text_input", "action_id": "question"},
        }
    ],
}


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox().running() as sandbox:
        yield sandbox


@pytest.fixture
def seen_retries() -> list[str | None]:
    return []


@pytest.fixture
def hello() -> threading.Event:
    return threading.Event()


@pytest.fixture
def handler(
    slack: SlackSandbox, seen_retries: list[str | None], hello: threading.Event
) -> Iterator[SocketModeHandler]:
    app = App(signing_secret=SIGNING_SECRET, client=slack.web_client())

    @app.middleware
    def note_retries(req: BoltRequest, resp: Any, next: Any) -> Any:
        seen_retries.append(req.headers.get("x-slack-retry-num", [None])[0])
        return next()

    @app.command("/tierbot")
    def status(ack: Ack, command: dict[str, Any], say: Say) -> None:
        ack(f"looking at {command['text']}")
        say(f"status for {command['text']}")

    @app.command("/ask")
    def ask(ack: Ack, body: dict[str, Any], client: Any) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.view("ask")
    def asked(ack: Ack, view: dict[str, Any]) -> None:
        ack(response_action="errors", errors={"q": "Not now"})

    @app.event("app_mention")
    def mentioned(event: dict[str, Any], say: Say) -> None:
        say(f"hello <@{event['user']}>")

    def on_message(raw: str) -> None:
        if json.loads(raw).get("type") == "hello":
            hello.set()

    socket_handler = SocketModeHandler(app, slack.app_token)
    socket_handler.client.on_message_listeners.append(on_message)
    socket_handler.connect()
    try:
        slack.socket_mode.wait_for_connection()
        yield socket_handler
    finally:
        # Closing from the server side first spares the SDK client's 3 s blocking read.
        socket_handler.client.auto_reconnect_enabled = False
        slack.socket_mode.close_all()
        socket_handler.close()


@pytest.fixture
def driver(slack: SlackSandbox, handler: SocketModeHandler) -> SlackSocketModeDriver:
    return SlackSocketModeDriver(slack)


def test_the_handler_connects_with_the_app_token_and_is_greeted(
    slack: SlackSandbox, handler: SocketModeHandler, hello: threading.Event
) -> None:
    assert hello.wait(timeout=5), "the client never received Slack's hello"
    [opened] = slack.calls("apps.connections.open")
    assert opened.token == slack.app_token
    assert opened.response["url"].startswith(f"ws://127.0.0.1:{slack.base_url.rsplit(':', 1)[1]}/")
    assert slack.socket_mode.connected == 1


def test_slash_command_envelope_is_acked_with_its_payload(
    slack: SlackSandbox, driver: SlackSocketModeDriver
) -> None:
    reply = driver.slash_command("/tierbot", "cloud")

    [envelope] = slack.socket_mode.envelopes()
    assert envelope["type"] == "slash_commands" and reply.envelope_id == envelope["envelope_id"]
    assert reply.json() == {"text": "looking at cloud"}
    assert slack.socket_mode.acks()[0].payload == {"text": "looking at cloud"}
    assert slack.wait_for_message(ONCALL_CHANNEL_ID).text == "status for cloud"


def test_view_submission_errors_come_back_in_the_ack(
    slack: SlackSandbox, driver: SlackSocketModeDriver
) -> None:
    driver.slash_command("/ask", user=ONCALL_USER_ID)
    view = slack.wait_for_view()

    reply = driver.submit_view(view, {"question": "why?"})

    assert reply.json() == {"response_action": "errors", "errors": {"q": "Not now"}}
    assert slack.socket_mode.envelopes()[-1]["accepts_response_payload"] is True


def test_events_carry_retry_attempt_as_bolt_headers(
    slack: SlackSandbox, driver: SlackSocketModeDriver, seen_retries: list[str | None]
) -> None:
    driver.mention("<@U0TIERBOT> hi", user=DRI_USER_ID)
    driver.event(
        {"type": "app_mention", "user": DRI_USER_ID, "text": "hi", "channel": ONCALL_CHANNEL_ID},
        delivery=Delivery(retry_num=2, retry_reason="timeout"),
    )

    assert seen_retries == ["0", "2"]
    first, retried = slack.socket_mode.envelopes()
    assert (first["retry_attempt"], first["retry_reason"]) == (0, "")
    assert (retried["retry_attempt"], retried["retry_reason"]) == (2, "timeout")
    assert slack.wait_for_message(ONCALL_CHANNEL_ID).text == f"hello <@{DRI_USER_ID}>"


def test_an_unhandled_envelope_is_never_acked(driver: SlackSocketModeDriver) -> None:
    driver.ack_timeout = 0.5
    with pytest.raises(NoAck, match="slash_commands"):
        driver.slash_command("/unknown")


def test_the_app_reconnects_when_asked(slack: SlackSandbox, driver: SlackSocketModeDriver) -> None:
    slack.socket_mode.request_reconnect()
    slack.wait_for_call("apps.connections.open", count=2)

    reply = driver.slash_command("/tierbot", "edge")
    assert reply.json() == {"text": "looking at edge"}
    assert slack.socket_mode.acks()[-1].envelope_id == reply.envelope_id


def test_connections_need_an_app_level_token(slack: SlackSandbox) -> None:
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        slack.web_client().apps_connections_open(app_token=slack.bot_token)
