"""What Slack sends an app: slash command forms, interactive payloads and event callbacks.

Shapes follow Slack's documented payloads field for field, so bolt parses them along its real
paths. Actions and view submissions are built from the blocks the bot actually rendered: clicking
an `action_id` the message does not have is a test error, not a payload.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from bot.sandbox.slack_models import (
    APP_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    SandboxMessage,
    SandboxUser,
    SandboxView,
)

VERIFICATION_TOKEN = "sandbox-verification-token"  # deprecated by Slack, still sent

Selection = str | list[str] | None


def _team() -> dict[str, Any]:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def _user(user: SandboxUser) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID}


def slash_command(
    *,
    command: str,
    text: str,
    user: SandboxUser,
    channel_id: str,
    channel_name: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The form fields of a slash command (the Socket Mode payload is the same dict)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def iter_elements(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(block_id, element) for every interactive element, in the order a reader sees them."""
    for index, block in enumerate(blocks):
        block_id = str(block.get("block_id") or f"sandbox-block-{index}")
        candidates = [block.get("accessory"), block.get("element"), *block.get("elements", [])]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id"):
                yield block_id, element


def find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]]:
    for block_id, element in iter_elements(blocks):
        if element["action_id"] == action_id:
            return block_id, element
    present = [element["action_id"] for _, element in iter_elements(blocks)]
    raise LookupError(f"no element with action_id {action_id!r}; present: {present}")


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    groups = element.get("option_groups") or []
    return list(element.get("options") or []) + [o for g in groups for o in g.get("options", [])]


def element_state(element: dict[str, Any], selected: Selection) -> dict[str, Any]:
    """An element's value as Slack reports it in `actions` and in `view.state.values`."""
    kind = str(element["type"])
    state: dict[str, Any] = {"type": kind}
    values = [selected] if isinstance(selected, str) else list(selected or [])

    def pick(value: str) -> dict[str, Any]:
        for option in _options(element):
            if option.get("value") == value:
                return option
        raise LookupError(f"{element['action_id']!r} has no option with value {value!r}")

    if kind == "button":
        state.update(text=element.get("text"), value=element.get("value"))
        if "style" in element:
            state["style"] = element["style"]
    elif kind in ("static_select", "external_select", "radio_buttons", "overflow"):
        initial = element.get("initial_option")
        state["selected_option"] = pick(values[0]) if values else initial
    elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        state["selected_options"] = [pick(v) for v in values] or element.get("initial_options", [])
    elif kind in ("users_select", "conversations_select", "channels_select"):
        key = {
            "users_select": "selected_user",
            "conversations_select": "selected_conversation",
            "channels_select": "selected_channel",
        }[kind]
        state[key] = values[0] if values else element.get(f"initial_{key.split('_')[1]}")
    elif kind.startswith("multi_"):
        noun = kind.removeprefix("multi_").removesuffix("_select")
        state[f"selected_{noun}"] = values or element.get(f"initial_{noun}", [])
    elif kind == "datepicker":
        state["selected_date"] = values[0] if values else element.get("initial_date")
    elif kind == "timepicker":
        state["selected_time"] = values[0] if values else element.get("initial_time")
    else:  # the text inputs: plain_text_input, number_input, email_text_input, url_text_input
        state["value"] = values[0] if values else element.get("initial_value")
    return state


def view_state(blocks: list[dict[str, Any]], inputs: Mapping[str, Selection]) -> dict[str, Any]:
    """`state.values` of a view: every input element, with `inputs` (by action_id) filled in."""
    known = {element["action_id"] for _, element in iter_elements(blocks)}
    unknown = set(inputs) - known
    if unknown:
        raise LookupError(f"the view has no inputs {sorted(unknown)}; it has {sorted(known)}")
    values: dict[str, dict[str, Any]] = {}
    for block_id, element in iter_elements(blocks):
        if element["type"] == "button":
            continue
        action_id = element["action_id"]
        values.setdefault(block_id, {})[action_id] = element_state(element, inputs.get(action_id))
    return {"values": values}


def block_actions(
    *,
    user: SandboxUser,
    element: dict[str, Any],
    block_id: str,
    selected: Selection,
    response_url: str | None,
    trigger_id: str,
    message: SandboxMessage | None = None,
    view: SandboxView | None = None,
    channel_name: str = "",
    inputs: Mapping[str, Selection] | None = None,
) -> dict[str, Any]:
    """A `block_actions` payload for a click in a message or in a modal."""
    action = {
        **element_state(element, selected),
        "action_id": element["action_id"],
        "block_id": block_id,
        "action_ts": f"{time.time():.6f}",
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "team": _team(),
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }
    if message is not None:
        payload["container"] = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": message.ephemeral_to is not None,
        }
        payload["channel"] = {"id": message.channel, "name": channel_name}
        payload["message"] = message.to_slack()
        payload["state"] = view_state(message.blocks, inputs or {})
        payload["response_url"] = response_url
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.id}
        payload["view"] = {**view.to_slack(), "state": view_state(view.blocks, inputs or {})}
    return payload


def view_submission(
    *, user: SandboxUser, view: SandboxView, inputs: Mapping[str, Selection], trigger_id: str
) -> dict[str, Any]:
    """A `view_submission` payload: the modal as the bot last set it, with the user's inputs."""
    return {
        "type": "view_submission",
        "team": _team(),
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": {**view.to_slack(), "state": view_state(view.blocks, inputs)},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_callback(event: dict[str, Any], *, event_id: str) -> dict[str, Any]:
    """An Events API delivery wrapping `event` (e.g. an app_mention)."""
    now = time.time()
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": {"event_ts": f"{now:.6f}", **event},
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-sandbox-{event_id}",
    }
