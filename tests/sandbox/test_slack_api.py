"""The Slack stand-in, exercised with slack_sdk's real WebClient as the bot will use it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_models import (
    APP_TOKEN,
    BOT_USER_ID,
    DRI_USER_ID,
    ONCALL_CHANNEL_ID,
    ONCALL_USER_ID,
    RESPONDER_USER_ID,
)


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox().running() as sandbox:
        yield sandbox


@pytest.fixture
def client(slack: SlackSandbox) -> WebClient:
    return slack.web_client()


def button(action_id: str, value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": action_id},
        "value": value,
    }


def test_post_message_is_recorded_and_answered_like_slack(
    slack: SlackSandbox, client: WebClient
) -> None:
    blocks = [{"type": "actions", "elements": [button("approve"), button("deny")]}]
    answer = client.chat_postMessage(channel="#tierbot-oncall", text="Rollback?", blocks=blocks)

    assert answer["ok"] and answer["channel"] == ONCALL_CHANNEL_ID
    assert answer["message"]["blocks"] == blocks and answer["message"]["user"] == BOT_USER_ID
    [call] = slack.calls("chat.postMessage")
    assert call.token == slack.bot_token and call.args["blocks"] == blocks
    [message] = slack.messages(ONCALL_CHANNEL_ID)
    assert (message.ts, message.text) == (answer["ts"], "Rollback?")


def test_update_edits_the_recorded_message(slack: SlackSandbox, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="Rollback requested")
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="Rollback approved")

    message = slack.message(ONCALL_CHANNEL_ID, posted["ts"])
    assert (message.text, message.edits) == ("Rollback approved", 1)
    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel=ONCALL_CHANNEL_ID, ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"


def test_ephemeral_messages_are_for_one_member(slack: SlackSandbox, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel=ONCALL_CHANNEL_ID, user=DRI_USER_ID, text="only you")

    [message] = slack.messages(ONCALL_CHANNEL_ID)
    assert (message.ts, message.ephemeral_to) == (answer["message_ts"], DRI_USER_ID)
    assert slack.messages(ONCALL_CHANNEL_ID, include_ephemeral=False) == []
    with pytest.raises(SlackApiError, match="user_not_in_channel"):
        client.chat_postEphemeral(channel=ONCALL_CHANNEL_ID, user=RESPONDER_USER_ID, text="x")


def test_form_encoded_calls_and_tokens_are_checked(slack: SlackSandbox) -> None:
    url = f"{slack.api_url}chat.postMessage"
    form = {"channel": ONCALL_CHANNEL_ID, "text": "hi", "blocks": json.dumps([{"type": "divider"}])}
    with httpx.Client(trust_env=False) as http:
        unauthenticated = http.post(url, data=form).json()
        wrong = http.post(url, data={**form, "token": "xoxb-wrong"}).json()
        app_token = http.post(url, data=form, headers={"Authorization": f"Bearer {APP_TOKEN}"})
        good = http.post(url, data={**form, "token": slack.bot_token}).json()

    assert unauthenticated == {"ok": False, "error": "not_authed"}
    assert wrong == {"ok": False, "error": "invalid_auth"}
    assert app_token.json()["error"] == "not_allowed_token_type"
    assert good["ok"] and good["message"]["blocks"] == [{"type": "divider"}]
    assert [c.response["ok"] for c in slack.calls()] == [False, False, False, True]


def test_files_upload_v2_end_to_end(slack: SlackSandbox, client: WebClient) -> None:
    answer = client.files_upload_v2(
        channel=ONCALL_CHANNEL_ID,
        content=b"minute,errors\n1,0\n2,31\n",
        filename="edge-errors.csv",
        title="Edge errors",
        initial_comment="The edge tier since the rollout",
    )

    assert answer["file"]["title"] == "Edge errors"
    [file] = slack.files()
    assert file.content == b"minute,errors\n1,0\n2,31\n"
    assert (file.title, file.channel) == ("Edge errors", ONCALL_CHANNEL_ID)
    assert file.initial_comment == "The edge tier since the rollout"
    methods = [c.method for c in slack.calls()]
    assert methods == ["files.getUploadURLExternal", "upload_url", "files.completeUploadExternal"]


def test_completing_an_upload_whose_bytes_never_came_fails(client: WebClient) -> None:
    started = client.files_getUploadURLExternal(filename="a.txt", length=3)
    with pytest.raises(SlackApiError, match="file_not_found"):
        client.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "a"}])


def test_rate_limit_is_retried_by_the_sdk_handler_and_the_message_arrives(
    slack: SlackSandbox,
) -> None:
    slack.inject_rate_limit("chat.postMessage", retry_after=0)
    client = slack.web_client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])

    answer = client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="after a 429")

    limited, delivered = slack.calls("chat.postMessage")
    assert (limited.status, limited.headers["retry-after"]) == (429, "0")
    assert limited.response == {"ok": False, "error": "ratelimited"}
    assert delivered.ok and answer["ts"] == slack.messages(ONCALL_CHANNEL_ID)[0].ts


def test_rate_limit_without_retry_handler_surfaces(slack: SlackSandbox, client: WebClient) -> None:
    slack.inject_rate_limit("chat.postMessage", retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as limited:
            client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="x")
        assert limited.value.response.status_code == 429
        assert limited.value.response.headers["retry-after"] == "7"
    assert client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="x")["ok"]


def test_injected_errors_surface_as_slack_api_errors(
    slack: SlackSandbox, client: WebClient
) -> None:
    slack.inject_error("users.info", error="ratelimited_by_policy")
    with pytest.raises(SlackApiError) as failed:
        client.users_info(user=DRI_USER_ID)
    assert failed.value.response["error"] == "ratelimited_by_policy"

    user = client.users_info(user=DRI_USER_ID)["user"]
    assert (user["id"], user["profile"]["title"]) == (DRI_USER_ID, "Routing DRI")
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.users_info(user="U0NOBODY")


def test_more_than_fifty_blocks_is_invalid_blocks(slack: SlackSandbox, client: WebClient) -> None:
    blocks = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as rejected:
        client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="t", blocks=blocks)

    assert rejected.value.response["error"] == "invalid_blocks"
    assert rejected.value.response["errors"] == [
        "no more than 50 items allowed [json-pointer:/blocks]"
    ]
    assert slack.messages() == [] and not slack.calls("chat.postMessage")[0].ok
    assert client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="t", blocks=blocks[:50])["ok"]


def test_duplicate_action_ids_are_invalid_blocks(client: WebClient) -> None:
    blocks = [
        {"type": "actions", "elements": [button("approve")]},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "x"},
            "accessory": button("approve"),
        },
    ]
    with pytest.raises(SlackApiError) as rejected:
        client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="t", blocks=blocks)
    assert rejected.value.response["errors"] == [
        "duplicate action_id 'approve' [json-pointer:/blocks/1/accessory/action_id]"
    ]


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ({"type": "sectoin"}, "unsupported block type 'sectoin' [json-pointer:/blocks/0/type]"),
        ({"type": "section"}, "must provide text or fields [json-pointer:/blocks/0]"),
        (
            {"type": "header", "text": {"type": "mrkdwn", "text": "*x*"}},
            "must be one of ['plain_text'] [json-pointer:/blocks/0/text/type]",
        ),
        (
            {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ),
        ({"type": "actions", "elements": []}, "must provide a non-empty array"),
        ("divider", "must provide an object [json-pointer:/blocks/0]"),
    ],
)
def test_obvious_block_mistakes_are_caught(client: WebClient, block: Any, error: str) -> None:
    with pytest.raises(SlackApiError) as rejected:
        client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="t", blocks=[block])
    assert rejected.value.response["error"] == "invalid_blocks"
    assert rejected.value.response["errors"][0].startswith(error)


def test_message_text_limits(client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="msg_too_long"):
        client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="x" * 40_001)
    with pytest.raises(SlackApiError, match="no_text"), pytest.warns(UserWarning, match="text"):
        client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_postMessage(channel="#no-such-channel", text="x")


def test_create_a_channel_and_invite_the_dri(slack: SlackSandbox, client: WebClient) -> None:
    channel = client.conversations_create(name="inc-42-edge-int8")["channel"]
    client.conversations_invite(channel=channel["id"], users=[DRI_USER_ID, ONCALL_USER_ID])

    assert slack.members[channel["id"]] == {BOT_USER_ID, DRI_USER_ID, ONCALL_USER_ID}
    assert client.chat_postMessage(channel="#inc-42-edge-int8", text="war room")["ok"]
    with pytest.raises(SlackApiError, match="name_taken"):
        client.conversations_create(name="inc-42-edge-int8")
    with pytest.raises(SlackApiError, match="already_in_channel"):
        client.conversations_invite(channel=channel["id"], users=DRI_USER_ID)
    with pytest.raises(SlackApiError, match="invalid_name_specials"):
        client.conversations_create(name="Incident 42")


def test_views_need_a_fresh_trigger_id(slack: SlackSandbox, client: WebClient) -> None:
    view = {
        "type": "modal",
        "callback_id": "rollback",
        "title": {"type": "plain_text", "text": "Roll back"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Loading..."}}],
    }
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):
        client.views_open(trigger_id="123.456.abc", view=view)

    opened = client.views_open(trigger_id=slack.issue_trigger_id(ONCALL_USER_ID), view=view)["view"]
    loaded = {**view, "blocks": [{"type": "divider"}]}
    client.views_update(view_id=opened["id"], hash=opened["hash"], view=loaded)

    [stored] = slack.views()
    assert (stored.user, stored.updates, stored.blocks) == (
        ONCALL_USER_ID,
        1,
        [{"type": "divider"}],
    )
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=loaded)


def test_expired_trigger_ids_are_refused(slack: SlackSandbox, client: WebClient) -> None:
    slack.trigger_ttl_seconds = 0.0
    view = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []}
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        client.views_open(trigger_id=slack.issue_trigger_id(ONCALL_USER_ID), view=view)


def test_invalid_views_are_invalid_arguments(slack: SlackSandbox, client: WebClient) -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "A title that is far too long"},
        "blocks": [{"type": "input", "label": {"type": "plain_text", "text": "Why"},
                    "element": {"type": "plain_text_input", "action_id": "reason"}}],
    }  # fmt: skip
    with pytest.raises(SlackApiError) as rejected:
        client.views_open(trigger_id=slack.issue_trigger_id(ONCALL_USER_ID), view=view)
    assert rejected.value.response["error"] == "invalid_arguments"
    assert rejected.value.response["errors"] == [
        "must be less than 25 characters [json-pointer:/view/title/text]",
        "must provide submit when the view has input blocks [json-pointer:/view/submit]",
    ]


def test_wait_for_call_times_out_naming_what_it_saw(slack: SlackSandbox, client: WebClient) -> None:
    client.auth_test()
    with pytest.raises(TimeoutError, match=r"chat.update call #1 .*auth.test"):
        slack.wait_for_call("chat.update", timeout=0.05)
    assert slack.wait_for_call("auth.test").response["user_id"] == BOT_USER_ID


def test_response_urls_post_edit_delete_and_wear_out(
    slack: SlackSandbox, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel=ONCALL_CHANNEL_ID, text="Approve?")
    url = slack.issue_response_url(
        channel=ONCALL_CHANNEL_ID, user=DRI_USER_ID, message_ts=posted["ts"]
    )
    hook = WebhookClient(url)

    assert hook.send(text="seen by all", response_type="in_channel").status_code == 200
    assert hook.send(text="just you").status_code == 200
    assert hook.send(text="Approved", replace_original=True).status_code == 200
    texts = [(m.text, m.ephemeral_to) for m in slack.messages(ONCALL_CHANNEL_ID)]
    assert texts == [("Approved", None), ("seen by all", None), ("just you", DRI_USER_ID)]

    assert hook.send_dict({"delete_original": True}).status_code == 200
    assert [m.text for m in slack.messages(ONCALL_CHANNEL_ID)] == ["seen by all", "just you"]
    assert hook.send(text="a fifth post").status_code == 200
    worn_out = hook.send(text="a sixth post")
    assert (worn_out.status_code, json.loads(worn_out.body)["error"]) == (404, "used_url")
    assert len(slack.responses()) == 5 and len(slack.calls("response_url")) == 6


def test_response_url_faults_and_unknown_urls(slack: SlackSandbox) -> None:
    url = slack.issue_response_url(channel=ONCALL_CHANNEL_ID, user=DRI_USER_ID)
    slack.inject_rate_limit("response_url", retry_after=3)

    limited = WebhookClient(url).send(text="x")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert WebhookClient(url).send(text="x").status_code == 200
    assert WebhookClient(f"{slack.base_url}/hooks/nope").send(text="x").status_code == 404


def test_unknown_methods_are_refused(client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("chat.postMesage", json={"channel": ONCALL_CHANNEL_ID, "text": "x"})
