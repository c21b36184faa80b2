"""The Web API methods tierbot calls, answered as Slack answers them, against `SlackState`.

Each method takes the request's arguments (already decoded from form, query or JSON) and returns
Slack's success body, or raises `MethodError` with Slack's error name, which the server turns into
`{"ok": false, "error": ...}`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.sandbox.slack_blocks import MAX_MESSAGE_TEXT, check_blocks, check_view
from bot.sandbox.slack_models import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    SandboxMessage,
    SandboxView,
    UploadedFile,
)
from bot.sandbox.slack_state import SlackState

CHANNEL_NAME = re.compile(r"^[a-z0-9_-]+$")


class MethodError(Exception):
    """An `ok: false` answer; `extra` carries fields such as `errors` or `response_metadata`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass(frozen=True)
class ApiRequest:
    args: dict[str, Any]
    token: str
    base_url: str

    def require(self, name: str, error: str = "invalid_arguments") -> Any:
        value = self.args.get(name)
        if value in (None, ""):
            raise MethodError(error, response_metadata={"messages": [f"missing {name}"]})
        return value

    def json_arg(self, name: str) -> Any:
        """A structured argument: JSON in a form body, a real list or dict in a JSON body."""
        value = self.args.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise MethodError(f"invalid_{name}", errors=[f"{name} is not JSON"]) from exc
        return value


Method = Callable[[SlackState, ApiRequest], dict[str, Any]]


def _invalid(error: str, errors: list[str]) -> MethodError:
    return MethodError(
        error, errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
    )


def _channel(state: SlackState, request: ApiRequest) -> str:
    channel_id = state.resolve_channel(str(request.require("channel", "channel_not_found")))
    if channel_id is None:
        raise MethodError("channel_not_found")
    return channel_id


def _content(
    request: ApiRequest, *, required: bool
) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The text and blocks of a message, checked against Slack's limits."""
    text = request.args.get("text")
    blocks = request.json_arg("blocks")
    if required and not text and not blocks and not request.args.get("attachments"):
        raise MethodError("no_text")
    if text is not None and len(str(text)) > MAX_MESSAGE_TEXT:
        raise MethodError("msg_too_long")
    if blocks is not None:
        errors = check_blocks(blocks)
        if errors:
            raise _invalid("invalid_blocks", errors)
    return (None if text is None else str(text)), blocks


def auth_test(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    return {
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": "tierbot sandbox",
        "user": "tierbot",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "is_enterprise_install": False,
    }


def chat_post_message(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    channel = _channel(state, request)
    if channel in state.members and BOT_USER_ID not in state.members[channel]:
        raise MethodError("not_in_channel")
    text, blocks = _content(request, required=True)
    message = SandboxMessage(
        channel=channel,
        ts=state.new_ts(),
        text=text or "",
        blocks=blocks or [],
        thread_ts=request.args.get("thread_ts") or None,
    )
    state.put_message(message)
    return {"channel": channel, "ts": message.ts, "message": message.to_slack()}


def chat_post_ephemeral(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    channel = _channel(state, request)
    user = str(request.require("user", "user_not_found"))
    if user not in state.users:
        raise MethodError("user_not_found")
    if channel in state.members and user not in state.members[channel]:
        raise MethodError("user_not_in_channel")
    text, blocks = _content(request, required=True)
    message = SandboxMessage(
        channel=channel, ts=state.new_ts(), text=text or "", blocks=blocks or [], ephemeral_to=user
    )
    state.put_message(message)
    return {"message_ts": message.ts}


def chat_update(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    channel = _channel(state, request)
    ts = str(request.require("ts", "message_not_found"))
    text, blocks = _content(request, required=True)
    try:
        current = state.message(channel, ts)
    except KeyError:
        raise MethodError("message_not_found") from None
    if current.user != BOT_USER_ID or current.ephemeral_to is not None:
        raise MethodError("cant_update_message")
    changes: dict[str, Any] = {}
    if text is not None:
        changes["text"] = text
    if blocks is not None:
        changes["blocks"] = blocks
    edited = state.edit_message(channel, ts, **changes)
    if edited is None:
        raise MethodError("message_not_found")
    return {"channel": channel, "ts": ts, "text": edited.text, "message": edited.to_slack()}


def chat_delete(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    channel = _channel(state, request)
    ts = str(request.require("ts", "message_not_found"))
    if state.edit_message(channel, ts, deleted=True) is None:
        raise MethodError("message_not_found")
    return {"channel": channel, "ts": ts}


def _view_arg(request: ApiRequest) -> dict[str, Any]:
    view = request.json_arg("view")
    errors = check_view(view)
    if errors:
        raise _invalid("invalid_arguments", errors)
    assert isinstance(view, dict)
    return view


def _view_hash(view: dict[str, Any]) -> str:
    digest = hashlib.sha1(json.dumps(view, sort_keys=True).encode(), usedforsecurity=False)
    return f"{int(time.time())}.{digest.hexdigest()[:8]}"


def views_open(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    trigger_id = str(request.require("trigger_id", "invalid_trigger_id"))
    issued = state.trigger(trigger_id)
    if issued is None:
        raise MethodError("invalid_trigger_id")
    issued_at, user = issued
    ttl = state.trigger_ttl_seconds
    if ttl is not None and time.monotonic() - issued_at > ttl:
        raise MethodError("expired_trigger_id")
    view = _view_arg(request)
    opened = SandboxView(
        id=state.new_id("V"), view=view, hash=_view_hash(view), trigger_id=trigger_id, user=user
    )
    state.put_view(opened)
    return {"view": opened.to_slack()}


def views_update(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    view_id = request.args.get("view_id")
    external_id = request.args.get("external_id")
    found = [
        v
        for v in state.views()
        if v.id == view_id or (external_id and v.view.get("external_id") == external_id)
    ]
    if not found:
        raise MethodError("not_found")
    current = found[0]
    expected_hash = request.args.get("hash")
    if expected_hash and expected_hash != current.hash:
        raise MethodError("hash_conflict")
    view = _view_arg(request)
    updated = SandboxView(
        id=current.id,
        view=view,
        hash=_view_hash(view),
        trigger_id=current.trigger_id,
        user=current.user,
        updates=current.updates + 1,
    )
    state.put_view(updated)
    return {"view": updated.to_slack()}


def users_info(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    user = state.users.get(str(request.require("user", "user_not_found")))
    if user is None:
        raise MethodError("user_not_found")
    return {"user": user.to_slack()}


def conversations_create(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    name = str(request.args.get("name") or "")
    if not name:
        raise MethodError("invalid_name_required")
    if len(name) > 80:
        raise MethodError("invalid_name_maxlength")
    if not CHANNEL_NAME.match(name):
        raise MethodError("invalid_name_specials")
    if any(info["name"] == name for info in state.channels.values()):
        raise MethodError("name_taken")
    channel = state.add_channel(state.new_id("C"), name, members={BOT_USER_ID})
    channel["is_private"] = str(request.args.get("is_private", "")).lower() in ("1", "true")
    return {"channel": channel}


def conversations_invite(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    channel = _channel(state, request)
    if channel not in state.members:
        raise MethodError("channel_not_found")
    users = [u.strip() for u in str(request.require("users", "no_user")).split(",") if u.strip()]
    for user in users:
        if user not in state.users:
            raise MethodError("user_not_found")
        if user == BOT_USER_ID:
            raise MethodError("cant_invite_self")
        if user in state.members[channel]:
            raise MethodError("already_in_channel", errors=[{"user": user, "ok": False}])
    state.members[channel].update(users)
    return {"channel": state.channels[channel]}


SANDBOX_USERGROUPS: dict[str, tuple[str, ...]] = {"S0DRIS": ("U0DRI",)}  # the routing DRIs


def conversations_open(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    """A DM with one user (group DMs are not modelled): its id is `D` + the user id's tail."""
    users = [u.strip() for u in str(request.require("users", "users_list_not_supplied")).split(",")]
    if len(users) != 1 or users[0] not in state.users:
        raise MethodError("user_not_found")
    channel = state.resolve_channel(users[0])
    return {"channel": {"id": channel, "is_im": True, "user": users[0]}}


def usergroups_users_list(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    group = str(request.require("usergroup", "no_such_subteam"))
    if group not in SANDBOX_USERGROUPS:
        raise MethodError("no_such_subteam")
    return {"users": list(SANDBOX_USERGROUPS[group])}


def files_get_upload_url_external(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    filename = str(request.require("filename"))
    length = int(request.require("length"))
    if length <= 0:
        raise MethodError("invalid_arguments")
    file = UploadedFile(id=state.new_id("F"), filename=filename, title=filename)
    state.put_file(file)
    return {"upload_url": f"{request.base_url}/upload/{file.id}", "file_id": file.id}


def files_complete_upload_external(state: SlackState, request: ApiRequest) -> dict[str, Any]:
    items = request.json_arg("files")
    if not isinstance(items, list) or not items:
        raise MethodError("invalid_arguments")
    channel = None
    if request.args.get("channel_id") or request.args.get("channels"):
        raw = request.args.get("channel_id") or str(request.args["channels"]).split(",")[0]
        channel = state.resolve_channel(str(raw))
        if channel is None:
            raise MethodError("channel_not_found")
    uploaded = {file.id: file for file in state.files()}
    pending = [(uploaded.get(str(item.get("id"))), item) for item in items]
    answers = []
    if any(file is None or file.content is None for file, _ in pending):
        raise MethodError("file_not_found")  # unknown, or its bytes never arrived
    for file, item in pending:
        assert file is not None
        done = replace(
            file,
            title=str(item.get("title") or file.filename),
            channel=channel,
            initial_comment=request.args.get("initial_comment") or None,
            thread_ts=request.args.get("thread_ts") or None,
        )
        state.put_file(done)
        size = len(done.content or b"")
        answers.append({"id": done.id, "name": done.filename, "title": done.title, "size": size})
    return {"files": answers}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "views.open": views_open,
    "views.update": views_update,
    "users.info": users_info,
    "conversations.create": conversations_create,
    "conversations.invite": conversations_invite,
    "conversations.open": conversations_open,
    "usergroups.users.list": usergroups_users_list,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
}
