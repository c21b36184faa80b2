"""The sandbox workspace's people and records: users, messages, views, files, calls.

Frozen snapshots, so a test can hold one while the server keeps changing the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "tierbot-sandbox"
APP_ID = "A0TIERBOT"
BOT_ID = "B0TIERBOT"
BOT_USER_ID = "U0TIERBOT"
BOT_TOKEN = "xoxb-sandbox-bot-token"
APP_TOKEN = "xapp-1-A0TIERBOT-sandbox-app-token"
SIGNING_SECRET = "sandbox-signing-secret"
DRI_USER_ID = "U0DRI"
ONCALL_USER_ID = "U0ONCALL"
RESPONDER_USER_ID = "U0RESPOND"
ONCALL_CHANNEL_ID = "C0ONCALL"
GENERAL_CHANNEL_ID = "C0GENERAL"
ALERTS_CHANNEL_ID = "C0ALERTS"  # where probe alerts go (settings.slack_alert_channel)
DRI_CHANNEL_ID = "C0ROUTING"  # where rollback approvals go (settings.rollouts.dri_channel)


@dataclass(frozen=True)
class SandboxUser:
    id: str
    name: str
    real_name: str
    title: str
    is_bot: bool = False

    def to_slack(self) -> dict[str, Any]:
        """The user object as users.info returns it."""
        profile = {
            "real_name": self.real_name,
            "display_name": self.name,
            "title": self.title,
            "email": None if self.is_bot else f"{self.name}@{TEAM_DOMAIN}.example",
        }
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "is_admin": False,
            "tz": "Etc/UTC",
            "tz_offset": 0,
            "profile": profile,
        }


SANDBOX_USERS: tuple[SandboxUser, ...] = (
    SandboxUser(DRI_USER_ID, "dana.ortiz", "Dana Ortiz", "Routing DRI"),
    SandboxUser(ONCALL_USER_ID, "omar.haddad", "Omar Haddad", "On-call engineer"),
    SandboxUser(RESPONDER_USER_ID, "riley.chen", "Riley Chen", "Responder"),
    SandboxUser(BOT_USER_ID, "tierbot", "tierbot", "", is_bot=True),
)


@dataclass(frozen=True)
class RecordedCall:
    """One request to the stand-in, as it arrived and as it was answered."""

    method: str  # a Web API method, or "files.upload" / "response_url" for the side doors
    args: dict[str, Any]
    token: str | None
    at: float
    status: int
    response: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass(frozen=True)
class SandboxMessage:
    """A message as it stands now; `edits` counts chat.update and replace_original calls."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str = BOT_USER_ID
    thread_ts: str | None = None
    ephemeral_to: str | None = None
    edits: int = 0
    deleted: bool = False

    def to_slack(self) -> dict[str, Any]:
        """The message object as Slack embeds it in API answers and interactive payloads."""
        message: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.user == BOT_USER_ID:
            message.update(user=BOT_USER_ID, bot_id=BOT_ID, app_id=APP_ID)
        else:
            message["user"] = self.user
        if self.blocks:
            message["blocks"] = self.blocks
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        return message


@dataclass(frozen=True)
class SandboxView:
    """A modal the bot opened (views.open) and may have updated (views.update)."""

    id: str
    view: dict[str, Any]
    hash: str
    trigger_id: str
    user: str
    updates: int = 0

    @property
    def callback_id(self) -> str:
        return str(self.view.get("callback_id", ""))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.view.get("blocks", []))

    def to_slack(self) -> dict[str, Any]:
        return {
            **self.view,
            "id": self.id,
            "team_id": TEAM_ID,
            "hash": self.hash,
            "root_view_id": self.id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "private_metadata": self.view.get("private_metadata", ""),
            "callback_id": self.callback_id,
            "state": {"values": {}},
        }


@dataclass(frozen=True)
class SandboxResponse:
    """A post to a response_url the driver handed out with a command or an action."""

    url: str
    body: dict[str, Any]
    at: float

    @property
    def response_type(self) -> str:
        return str(self.body.get("response_type", "ephemeral"))

    @property
    def replace_original(self) -> bool:
        return bool(self.body.get("replace_original", False))

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.body.get("blocks", []))


@dataclass(frozen=True)
class UploadedFile:
    id: str
    filename: str
    title: str
    content: bytes | None = None  # None until the upload POST arrives
    channel: str | None = None  # set by files.completeUploadExternal
    initial_comment: str | None = None
    thread_ts: str | None = None

    @property
    def shared(self) -> bool:
        return self.channel is not None


@dataclass
class ResponseHook:
    """What a response_url is bound to; Slack allows 5 posts per URL."""

    channel: str
    user: str
    message_ts: str | None
    uses: int = 0
