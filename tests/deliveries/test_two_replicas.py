"""The same signed Slack delivery reaching two replicas on one database is handled once.

Each replica is tierbot's ASGI app with its own bolt app, store (engine) and metrics, as two
`tierbot serve` processes would have; they share the database and the Slack sandbox. Whether a
delivery was handled or dropped is settled before the HTTP answer, so the counters tell it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from bot.app import create_app
from bot.sandbox import slack_payloads as payloads
from bot.sandbox.server import serve_in_thread
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_driver import SlackHttpDriver
from bot.sandbox.slack_models import (
    BOT_USER_ID,
    ONCALL_CHANNEL_ID,
    ONCALL_USER_ID,
    SIGNING_SECRET,
)
from bot.settings import Settings
from bot.slack.app import build_slack_app, make_web_client
from bot.slack.deps import SlackDeps
from bot.slack.views.status import FAILED_ACTION
from bot.slack.wiring import slack_deps
from bot.store import open_store

FORM = "application/x-www-form-urlencoded"


@dataclass
class Replica:
    deps: SlackDeps
    driver: SlackHttpDriver

    def sample(self, name: str, **labels: str) -> float:
        return self.deps.metrics.registry.get_sample_value(name, labels) or 0.0

    def dropped(self, reason: str) -> float:
        return self.sample("tierbot_slack_dropped_total", reason=reason)

    def mentions(self) -> float:
        return self.sample("tierbot_slack_commands_total", subcommand="mention")


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox().running() as sandbox:
        yield sandbox


@pytest.fixture
def replicas(database_url: str, slack: SlackSandbox) -> Iterator[list[Replica]]:
    settings = Settings(
        database_url=database_url,
        slack_api_url=slack.api_url,
        slack_bot_token=SecretStr(slack.bot_token),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
    )
    open_store(settings).close()  # the migration Job's part: the schema, once
    with ExitStack() as stack:
        started = []
        for _ in range(2):
            store = open_store(settings, migrate=False)
            stack.callback(store.close)
            client = make_web_client(settings)
            deps = slack_deps(settings, store, client)
            bolt = build_slack_app(settings, client, deps)
            asgi = create_app(settings, store, run_scheduler=False, slack_app=bolt,
                              metrics=deps.metrics)  # fmt: skip
            base_url = stack.enter_context(serve_in_thread(asgi))
            driver = stack.enter_context(
                SlackHttpDriver(slack, f"{base_url}/slack/events", SIGNING_SECRET)
            )
            started.append(Replica(deps, driver))
        yield started


def _posted_in_thread(slack: SlackSandbox, thread_ts: str) -> int:
    return len([c for c in slack.calls("chat.postMessage") if c.args.get("thread_ts") == thread_ts])


def test_an_event_sent_to_both_replicas_is_answered_once(
    slack: SlackSandbox, replicas: list[Replica]
) -> None:
    ts = slack.new_ts()
    event = {"type": "app_mention", "user": ONCALL_USER_ID, "text": f"<@{BOT_USER_ID}> help",
             "ts": ts, "channel": ONCALL_CHANNEL_ID}  # fmt: skip
    body = json.dumps(payloads.event_callback(event, event_id="EvTwoReplicas1"))

    replies = [replica.driver.post(body, "application/json") for replica in replicas]

    assert [r.status for r in replies] == [200, 200]
    assert sum(r.mentions() for r in replicas) == 1
    assert sum(r.dropped("duplicate_event") for r in replicas) == 1
    slack.wait_for_call("chat.postMessage", where=lambda c: c.args.get("thread_ts") == ts)
    assert _posted_in_thread(slack, ts) == 1


def test_a_new_event_is_still_answered_by_the_replica_that_dropped_the_last(
    slack: SlackSandbox, replicas: list[Replica]
) -> None:
    for n, replica in enumerate(replicas + replicas):
        ts = slack.new_ts()
        event = {"type": "app_mention", "user": ONCALL_USER_ID, "text": "hi", "ts": ts,
                 "channel": ONCALL_CHANNEL_ID}  # fmt: skip
        body = json.dumps(payloads.event_callback(event, event_id=f"EvDistinct{n}"))
        replica.driver.post(body, "application/json")
    assert [r.mentions() for r in replicas] == [2, 2]
    assert sum(r.dropped("duplicate_event") for r in replicas) == 0
    slack.wait_for_call("chat.postMessage", where=lambda c: "thread_ts" in c.args, count=4)


def _click_payload(slack: SlackSandbox, action_ts: str) -> dict[str, Any]:
    """A click on a "Which tier failed?" button of a message the bot posted."""
    posted = slack.web_client().chat_postMessage(
        channel=ONCALL_CHANNEL_ID,
        text="tiers",
        blocks=[{"type": "actions", "block_id": "b1", "elements": [
            {"type": "button", "action_id": FAILED_ACTION, "value": "15m",
             "text": {"type": "plain_text", "text": "Which tier failed?"}}]}],
    )  # fmt: skip
    message = slack.message(ONCALL_CHANNEL_ID, str(posted["ts"]))
    block_id, element = payloads.find_element(message.blocks, FAILED_ACTION)
    payload = payloads.block_actions(
        user=slack.users[ONCALL_USER_ID],
        element=element,
        block_id=block_id,
        selected=None,
        response_url=slack.issue_response_url(channel=ONCALL_CHANNEL_ID, user=ONCALL_USER_ID),
        trigger_id=slack.issue_trigger_id(ONCALL_USER_ID),
        message=message,
    )
    payload["actions"][0]["action_ts"] = action_ts
    return payload


def test_a_click_sent_to_both_replicas_is_handled_once_but_a_second_click_is_not_lost(
    slack: SlackSandbox, replicas: list[Replica]
) -> None:
    form = urlencode({"payload": json.dumps(_click_payload(slack, "1764244800.000001"))})

    replies = [replica.driver.post(form, FORM) for replica in replicas]

    assert [r.status for r in replies] == [200, 200]
    assert sum(r.dropped("duplicate_action") for r in replicas) == 1

    second = urlencode({"payload": json.dumps(_click_payload(slack, "1764244801.000002"))})
    assert replicas[1].driver.post(second, FORM).status == 200
    assert sum(r.dropped("duplicate_action") for r in replicas) == 1  # a new click goes through
    # each handled click ends with its chart uploaded in the answer's thread
    slack.wait_for_call("files.completeUploadExternal", count=2, timeout=20)
    answers = [c for c in slack.calls("chat.postMessage") if c.args.get("text") != "tiers"]
    assert len(answers) == 2
