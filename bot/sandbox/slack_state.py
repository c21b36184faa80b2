"""The sandbox Slack workspace: who is in it, what was posted, and every call the bot made.

One lock guards everything, because the server thread writes while a test thread reads and
waits; the `wait_for_*` helpers let a test block until the bot (often a lazy listener on another
thread) has done what it should, instead of sleeping.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

from bot.sandbox.slack_models import (
    ALERTS_CHANNEL_ID,
    BOT_USER_ID,
    DRI_CHANNEL_ID,
    DRI_USER_ID,
    GENERAL_CHANNEL_ID,
    ONCALL_CHANNEL_ID,
    ONCALL_USER_ID,
    SANDBOX_USERS,
    TEAM_ID,
    RecordedCall,
    ResponseHook,
    SandboxMessage,
    SandboxResponse,
    SandboxUser,
    SandboxView,
    UploadedFile,
)

T = TypeVar("T")


class SlackState:
    """The workspace and the call log, safe to read from any thread while the server writes."""

    max_response_url_uses = 5
    trigger_ttl_seconds: float | None = 3.0  # None: trigger_ids never expire

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._calls: list[RecordedCall] = []
        self._messages: dict[tuple[str, str], SandboxMessage] = {}
        self._views: dict[str, SandboxView] = {}
        self._responses: list[SandboxResponse] = []
        self._files: dict[str, UploadedFile] = {}
        self._hooks: dict[str, ResponseHook] = {}
        self._triggers: dict[str, tuple[float, str]] = {}
        self.users: dict[str, SandboxUser] = {user.id: user for user in SANDBOX_USERS}
        self.channels: dict[str, dict[str, Any]] = {}
        self.members: dict[str, set[str]] = {}
        for channel_id, name in (
            (ONCALL_CHANNEL_ID, "tierbot-oncall"),
            (GENERAL_CHANNEL_ID, "general"),
            (ALERTS_CHANNEL_ID, "tierbot-alerts"),
            (DRI_CHANNEL_ID, "routing-dri"),
        ):
            self.add_channel(channel_id, name, members={BOT_USER_ID, DRI_USER_ID, ONCALL_USER_ID})
        self._ids = itertools.count(1)
        self._last_us = 0

    # --- writers (the server thread) -------------------------------------------------------
    def record(self, call: RecordedCall) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def new_id(self, prefix: str) -> str:
        with self._cond:
            return f"{prefix}{next(self._ids):07d}"

    def new_ts(self) -> str:
        """A message ts: unique and increasing, like Slack's."""
        with self._cond:
            self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
            return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def add_channel(self, channel_id: str, name: str, *, members: set[str]) -> dict[str, Any]:
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": True,
            "is_private": False,
            "created": int(time.time()),
            "creator": BOT_USER_ID,
            "is_member": BOT_USER_ID in members,
        }
        with self._cond:
            self.channels[channel_id] = channel
            self.members[channel_id] = set(members)
        return channel

    def resolve_channel(self, channel: str) -> str | None:
        """A channel ID for an ID or #name; a user ID is a DM, as Slack allows."""
        with self._cond:
            if channel in self.channels:
                return channel
            name = channel.removeprefix("#")
            for channel_id, info in self.channels.items():
                if info["name"] == name:
                    return channel_id
            if channel in self.users:
                return "D" + channel[1:]
            if channel.startswith("D"):
                return channel
            return None

    def put_message(self, message: SandboxMessage) -> None:
        with self._cond:
            self._messages[(message.channel, message.ts)] = message
            self._cond.notify_all()

    def edit_message(self, channel: str, ts: str, **changes: Any) -> SandboxMessage | None:
        with self._cond:
            current = self._messages.get((channel, ts))
            if current is None or current.deleted:
                return None
            edited = replace(current, edits=current.edits + 1, **changes)
            self._messages[(channel, ts)] = edited
            self._cond.notify_all()
            return edited

    def put_view(self, view: SandboxView) -> None:
        with self._cond:
            self._views[view.id] = view
            self._cond.notify_all()

    def put_file(self, file: UploadedFile) -> None:
        with self._cond:
            self._files[file.id] = file
            self._cond.notify_all()

    def add_response(self, response: SandboxResponse) -> None:
        with self._cond:
            self._responses.append(response)
            self._cond.notify_all()

    def issue_trigger_id(self, user: str) -> str:
        """A trigger_id as Slack puts in commands and actions, for a modal shown to `user`."""
        with self._cond:
            trigger_id = f"{next(self._ids)}.{TEAM_ID[1:]}.{time.time_ns():x}"
            self._triggers[trigger_id] = (time.monotonic(), user)
        return trigger_id

    def trigger(self, trigger_id: str) -> tuple[float, str] | None:
        """When a trigger_id was issued (monotonic clock) and for whom."""
        with self._cond:
            return self._triggers.get(trigger_id)

    def locked(self) -> threading.Condition:
        """Hold while changing several things at once, so readers never see half of it."""
        return self._cond

    def claim_hook(self, token: str) -> tuple[ResponseHook | None, str | None]:
        """The hook behind a response_url, counting this use; or Slack's error for the URL."""
        with self._cond:
            hook = self._hooks.get(token)
            if hook is None:
                return None, "invalid_url"
            if hook.uses >= self.max_response_url_uses:
                return None, "used_url"
            hook.uses += 1
            return hook, None

    def add_hook(self, token: str, hook: ResponseHook) -> None:
        with self._cond:
            self._hooks[token] = hook

    # --- readers (tests) ---------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every call in arrival order, or those to one method."""
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(
        self, channel: str | None = None, *, include_ephemeral: bool = True
    ) -> list[SandboxMessage]:
        """Messages as they stand now, oldest first; deleted ones are left out."""
        with self._cond:
            found = [
                m
                for m in self._messages.values()
                if (channel is None or m.channel == channel)
                and not m.deleted
                and (include_ephemeral or m.ephemeral_to is None)
            ]
        return sorted(found, key=lambda m: Decimal(m.ts))

    def message(self, channel: str, ts: str) -> SandboxMessage:
        with self._cond:
            return self._messages[(channel, ts)]

    def views(self) -> list[SandboxView]:
        with self._cond:
            return list(self._views.values())

    def view(self, view_id: str) -> SandboxView:
        with self._cond:
            return self._views[view_id]

    def responses(self) -> list[SandboxResponse]:
        """Posts to response_urls, in arrival order."""
        with self._cond:
            return list(self._responses)

    def files(self) -> list[UploadedFile]:
        with self._cond:
            return list(self._files.values())

    def wait_for(self, probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
        """Block until `probe()` returns something, or raise TimeoutError naming `what`."""
        with self._cond:
            found = self._cond.wait_for(probe, timeout)
            if found is None:
                seen = ", ".join(c.method for c in self._calls) or "none"
                raise TimeoutError(f"no {what} within {timeout} s (calls so far: {seen})")
            return found

    def wait_for_call(
        self,
        method: str,
        *,
        where: Callable[[RecordedCall], bool] = lambda call: True,
        count: int = 1,
        timeout: float = 5.0,
    ) -> RecordedCall:
        """The `count`-th call to `method` that satisfies `where`, waiting for it if needed."""

        def probe() -> RecordedCall | None:
            matching = [c for c in self.calls(method) if where(c)]
            return matching[count - 1] if len(matching) >= count else None

        return self.wait_for(probe, timeout=timeout, what=f"{method} call #{count}")

    def wait_for_message(
        self,
        channel: str | None = None,
        *,
        where: Callable[[SandboxMessage], bool] = lambda message: True,
        timeout: float = 5.0,
    ) -> SandboxMessage:
        """The first message (in `channel`) that satisfies `where`, as it stands then."""

        def probe() -> SandboxMessage | None:
            return next((m for m in self.messages(channel) if where(m)), None)

        return self.wait_for(probe, timeout=timeout, what=f"message in {channel or 'any channel'}")

    def wait_for_response(
        self,
        *,
        where: Callable[[SandboxResponse], bool] = lambda response: True,
        timeout: float = 5.0,
    ) -> SandboxResponse:
        def probe() -> SandboxResponse | None:
            return next((r for r in self.responses() if where(r)), None)

        return self.wait_for(probe, timeout=timeout, what="response_url post")

    def wait_for_view(
        self,
        *,
        where: Callable[[SandboxView], bool] = lambda view: True,
        timeout: float = 5.0,
    ) -> SandboxView:
        def probe() -> SandboxView | None:
            return next((v for v in self.views() if where(v)), None)

        return self.wait_for(probe, timeout=timeout, what="view")
