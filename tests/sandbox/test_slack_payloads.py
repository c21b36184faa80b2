"""Interactive payloads are built from the blocks the bot rendered, as Slack builds them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox import slack_payloads as payloads
from bot.sandbox.slack_models import ONCALL_CHANNEL_ID, SANDBOX_USERS, SandboxMessage, SandboxView


def option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value.title()}, "value": value}


COHORT_SELECT = {
    "type": "static_select",
    "action_id": "cohort",
    "options": [option("beta"), option("ga")],
    "initial_option": option("ga"),
}
BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Pick"}, "accessory": COHORT_SELECT},
    {
        "type": "input",
        "block_id": "why",
        "label": {"type": "plain_text", "text": "Why"},
        "element": {"type": "plain_text_input", "action_id": "reason", "initial_value": "-"},
    },
    {
        "type": "actions",
        "block_id": "act",
        "elements": [
            {"type": "button", "action_id": "go", "value": "7",
             "text": {"type": "plain_text", "text": "Go"}},
            {"type": "multi_users_select", "action_id": "who"},
        ],
    },
]  # fmt: skip
USER = SANDBOX_USERS[0]


def test_a_select_reports_the_chosen_option_or_its_initial_one() -> None:
    assert payloads.element_state(COHORT_SELECT, "beta")["selected_option"] == option("beta")
    assert payloads.element_state(COHORT_SELECT, None)["selected_option"] == option("ga")
    with pytest.raises(LookupError, match="no option with value 'canary'"):
        payloads.element_state(COHORT_SELECT, "canary")


def test_view_state_covers_every_input_but_buttons() -> None:
    state = payloads.view_state(BLOCKS, {"reason": "int8 regression", "who": ["U0DRI", "U0ONCALL"]})

    assert state["values"] == {
        "sandbox-block-0": {"cohort": {"type": "static_select", "selected_option": option("ga")}},
        "why": {"reason": {"type": "plain_text_input", "value": "int8 regression"}},
        "act": {"who": {"type": "multi_users_select", "selected_users": ["U0DRI", "U0ONCALL"]}},
    }
    with pytest.raises(LookupError, match="no inputs \\['reasn'\\]"):
        payloads.view_state(BLOCKS, {"reasn": "typo"})


def test_block_actions_from_a_message_carry_its_container_and_state() -> None:
    message = SandboxMessage(
        channel=ONCALL_CHANNEL_ID, ts="1700000000.000100", text="t", blocks=BLOCKS
    )
    block_id, element = payloads.find_element(BLOCKS, "go")

    payload = payloads.block_actions(
        user=USER,
        element=element,
        block_id=block_id,
        selected=None,
        response_url="http://127.0.0.1:1/hooks/x",
        trigger_id="1.2.3",
        message=message,
    )

    [action] = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"]) == ("go", "act", "7")
    assert payload["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": ONCALL_CHANNEL_ID,
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == message.ts and payload["user"]["id"] == USER.id
    assert payload["state"]["values"]["why"]["reason"]["value"] == "-"


def test_view_submission_carries_the_view_as_last_set() -> None:
    view = SandboxView(id="V1", view={"type": "modal", "callback_id": "cb", "blocks": BLOCKS},
                       hash="h1", trigger_id="t", user=USER.id)  # fmt: skip

    payload = payloads.view_submission(
        user=USER, view=view, inputs={"reason": "x"}, trigger_id="t2"
    )

    assert payload["type"] == "view_submission"
    assert (payload["view"]["id"], payload["view"]["callback_id"], payload["view"]["hash"]) == (
        "V1",
        "cb",
        "h1",
    )
    assert payload["view"]["state"]["values"]["why"]["reason"]["value"] == "x"
