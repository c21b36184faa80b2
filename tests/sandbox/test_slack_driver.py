"""The signed-request driver against a small real bolt App served over HTTP on loopback.

Bolt's own signature verification, body parsing, ack and lazy-listener paths run; its WebClient
and `respond` talk to the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import Ack, App, BoltRequest, Respond, Say
from slack_bolt.adapter.starlette import SlackRequestHandler
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.sandbox.server import serve_in_thread
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_driver import Delivery, SlackHttpDriver
from bot.sandbox.slack_models import DRI_USER_ID, ONCALL_CHANNEL_ID, ONCALL_USER_ID, SIGNING_SECRET

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "rollback",
    "title": {"type": "plain_text", "text": "Roll back"},
    "submit": {"type": "plain_text", "text": "Request"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason_block",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "reason"},
        },
        {
            "type": "input",
            "block_id": "cohort_block",
            "label": {"type": "plain_text", "text": "Cohort"},
            "element": {
                "type": "static_select",
                "action_id": "cohort",
                "options": [
                    {"text": {"type": "plain_text", "text": c}, "value": c} for c in ("beta", "ga")
                ],
            },
        },
    ],
}
APPROVAL_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Roll *beta* back?"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {"type": "button", "action_id": "approve", "value": "req-7", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}},
        ],
    },
]  # fmt: skip


def build_bolt_app(client: WebClient, seen_retries: list[str | None]) -> App:
    """A tiny app shaped like tierbot's: ack at once, work in lazy listeners."""
    app = App(signing_secret=SIGNING_SECRET, client=client)

    @app.middleware
    def note_retries(req: BoltRequest, resp: Any, next: Any) -> Any:
        seen_retries.append(req.headers.get("x-slack-retry-num", [None])[0])
        return next()

    def ack_now(ack: Ack) -> None:
        ack()

    def status(command: dict[str, Any], say: Say, respond: Respond) -> None:
        say(f"status for {command['text']}")
        respond("only you can see this")

    app.command("/tierbot")(ack=ack_now, lazy=[status])

    @app.command("/approval")
    def approval(ack: Ack, say: Say) -> None:
        ack()
        say(text="Roll beta back?", blocks=APPROVAL_BLOCKS)

    @app.command("/rollback")
    def open_modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        request_id = body["actions"][0]["value"]
        respond(replace_original=True, text=f"{request_id} approved by <@{body['user']['id']}>")

    @app.view("rollback")
    def submitted(ack: Ack, view: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        values = view["state"]["values"]
        reason = values["reason_block"]["reason"]["value"]
        if not reason:
            ack(response_action="errors", errors={"reason_block": "Say why"})
            return
        ack()
        cohort = values["cohort_block"]["cohort"]["selected_option"]["value"]
        client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text=f"rollback of {cohort}: {reason}")

    @app.event("app_mention")
    def mentioned(event: dict[str, Any], say: Say) -> None:
        say(f"hello <@{event['user']}>")

    return app


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox().running() as sandbox:
        yield sandbox


@pytest.fixture
def seen_retries() -> list[str | None]:
    return []


@pytest.fixture
def driver(slack: SlackSandbox, seen_retries: list[str | None]) -> Iterator[SlackHttpDriver]:
    handler = SlackRequestHandler(build_bolt_app(slack.web_client(), seen_retries))

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    asgi = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    with (
        serve_in_thread(asgi) as base_url,
        SlackHttpDriver(slack, f"{base_url}/slack/events", SIGNING_SECRET) as http_driver,
    ):
        yield http_driver


def test_bolt_verifies_its_token_against_the_sandbox(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    [call] = slack.calls("auth.test")
    assert call.ok and call.token == slack.bot_token


def test_signed_slash_command_is_acked_and_say_and_respond_arrive(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    reply = driver.slash_command("/tierbot", "edge")

    assert (reply.status, reply.body) == (200, "")
    said = slack.wait_for_message(ONCALL_CHANNEL_ID, where=lambda m: m.ephemeral_to is None)
    assert said.text == "status for edge"
    response = slack.wait_for_response()
    assert (response.text, response.response_type) == ("only you can see this", "ephemeral")
    ephemeral = slack.wait_for_message(
        ONCALL_CHANNEL_ID, where=lambda m: m.ephemeral_to is not None
    )
    assert ephemeral.ephemeral_to == ONCALL_USER_ID


@pytest.mark.parametrize(
    "delivery",
    [
        Delivery(signature="wrong"),
        Delivery(age_seconds=6 * 60),
        Delivery(signature="missing"),
    ],
    ids=["wrong-signature", "six-minutes-old", "missing-headers"],
)
def test_forged_or_stale_requests_are_refused(
    slack: SlackSandbox, driver: SlackHttpDriver, delivery: Delivery
) -> None:
    reply = driver.slash_command("/tierbot", "edge", delivery=delivery)

    assert reply.status == 401
    assert [c.method for c in slack.calls()] == ["auth.test"]


def test_clicking_a_rendered_button_replaces_the_message(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    driver.slash_command("/approval")
    posted = slack.wait_for_message(ONCALL_CHANNEL_ID)

    reply = driver.click(posted, "approve", user=DRI_USER_ID)

    assert reply.status == 200
    approved = slack.wait_for_message(ONCALL_CHANNEL_ID, where=lambda m: m.edits > 0)
    assert (approved.ts, approved.text) == (posted.ts, f"req-7 approved by <@{DRI_USER_ID}>")
    assert slack.wait_for_response().replace_original
    with pytest.raises(LookupError, match="no element with action_id 'reject'"):
        driver.click(posted, "reject")


def test_modal_opens_and_its_submission_is_validated(
    slack: SlackSandbox, driver: SlackHttpDriver
) -> None:
    driver.slash_command("/rollback", user=DRI_USER_ID)
    view = slack.wait_for_view(where=lambda v: v.callback_id == "rollback")
    assert view.user == DRI_USER_ID

    refused = driver.submit_view(view, {"reason": "", "cohort": "beta"})
    assert refused.json() == {"response_action": "errors", "errors": {"reason_block": "Say why"}}

    accepted = driver.submit_view(view, {"reason": "int8 build drops intents", "cohort": "beta"})
    assert (accepted.status, accepted.body) == (200, "")
    message = slack.wait_for_message(ONCALL_CHANNEL_ID)
    assert message.text == "rollback of beta: int8 build drops intents"


def test_events_and_retried_deliveries_reach_bolt_with_their_headers(
    slack: SlackSandbox, driver: SlackHttpDriver, seen_retries: list[str | None]
) -> None:
    first = driver.mention("<@U0TIERBOT> which tier?", user=DRI_USER_ID)
    retried = driver.event(
        {"type": "app_mention", "user": DRI_USER_ID, "text": "hi", "channel": ONCALL_CHANNEL_ID},
        delivery=Delivery(retry_num=1, retry_reason="http_timeout"),
    )

    assert (first.status, retried.status) == (200, 200)
    assert seen_retries == [None, "1"]
    assert slack.wait_for_message(ONCALL_CHANNEL_ID).text == f"hello <@{DRI_USER_ID}>"


def test_url_verification_is_answered_with_the_challenge(driver: SlackHttpDriver) -> None:
    reply = driver.url_verification("abc123")
    assert reply.status == 200 and reply.json() == {"challenge": "abc123"}
