"""Drive a bolt app as Slack does: signed HTTP requests, or envelopes over Socket Mode.

Both drivers offer the same actions (a slash command, a click on a rendered button, a modal
submission, an event), so one end-to-end test can run over either transport. Each action gets a
fresh trigger_id and a response_url on the sandbox, as from Slack, and returns a `Reply`: what
the app answered over HTTP, or what it put in its ack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

from bot.sandbox import slack_payloads as payloads
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_models import (
    ONCALL_CHANNEL_ID,
    ONCALL_USER_ID,
    SandboxMessage,
    SandboxUser,
    SandboxView,
)
from bot.sandbox.slack_payloads import Selection

Kind = Literal["command", "interactive", "event"]


@dataclass(frozen=True)
class Delivery:
    """How a request arrives: first or retried, and (HTTP only) signed right or forged."""

    retry_num: int | None = None  # X-Slack-Retry-Num / Socket Mode retry_attempt
    retry_reason: str | None = None  # e.g. "http_timeout", "timeout"
    signature: Literal["valid", "wrong", "missing"] = "valid"  # missing: no signing headers
    age_seconds: float = 0.0  # backdate X-Slack-Request-Timestamp (bolt refuses > 5 min)


@dataclass(frozen=True)
class Reply:
    """The app's answer: HTTP status and body, or (Socket Mode) 200 and the ack's payload."""

    status: int
    body: str
    envelope_id: str | None = None

    def json(self) -> Any:
        """The body decoded; None when the app answered with an empty body."""
        return json.loads(self.body) if self.body else None


class SlackDriver(ABC):
    """The actions a Slack user takes, delivered to the app by a subclass's transport."""

    def __init__(self, slack: SlackSandbox) -> None:
        self.slack = slack

    def _user(self, user_id: str) -> SandboxUser:
        return self.slack.users[user_id]

    def _channel_name(self, channel_id: str) -> str:
        return str(self.slack.channels.get(channel_id, {}).get("name", channel_id))

    def slash_command(
        self,
        command: str,
        text: str = "",
        *,
        user: str = ONCALL_USER_ID,
        channel: str = ONCALL_CHANNEL_ID,
        delivery: Delivery = Delivery(),
    ) -> Reply:
        """`/command text` typed by `user` in `channel`."""
        form = payloads.slash_command(
            command=command,
            text=text,
            user=self._user(user),
            channel_id=channel,
            channel_name=self._channel_name(channel),
            response_url=self.slack.issue_response_url(channel=channel, user=user),
            trigger_id=self.slack.issue_trigger_id(user),
        )
        return self._deliver("command", form, delivery)

    def click(
        self,
        message: SandboxMessage,
        action_id: str,
        *,
        user: str = ONCALL_USER_ID,
        selected: Selection = None,
        delivery: Delivery = Delivery(),
        as_shown: bool = False,
    ) -> Reply:
        """`user` clicks (or picks `selected` in) the element `action_id` of a posted message.

        The message as it stands after edits, or with `as_shown` as it is given: a client that
        still shows an old version (a second click on a button already used).
        """
        payload = self.click_payload(
            message, action_id, user=user, selected=selected, as_shown=as_shown
        )
        return self._deliver("interactive", payload, delivery)

    def send_interactive(self, payload: dict[str, Any], delivery: Delivery = Delivery()) -> Reply:
        """Deliver an interactive payload as built (the same click sent twice, or elsewhere)."""
        return self._deliver("interactive", payload, delivery)

    def click_payload(
        self,
        message: SandboxMessage,
        action_id: str,
        *,
        user: str = ONCALL_USER_ID,
        selected: Selection = None,
        as_shown: bool = False,
    ) -> dict[str, Any]:
        """The block_actions payload Slack would send for this click (see `click`)."""
        current = message if as_shown else self.slack.message(message.channel, message.ts)
        block_id, element = payloads.find_element(current.blocks, action_id)
        return payloads.block_actions(
            user=self._user(user),
            element=element,
            block_id=block_id,
            selected=selected,
            response_url=self.slack.issue_response_url(
                channel=current.channel, user=user, message_ts=current.ts
            ),
            trigger_id=self.slack.issue_trigger_id(user),
            message=current,
            channel_name=self._channel_name(current.channel),
        )

    def click_in_view(
        self,
        view: SandboxView,
        action_id: str,
        *,
        user: str | None = None,
        selected: Selection = None,
        inputs: Mapping[str, Selection] | None = None,
        delivery: Delivery = Delivery(),
    ) -> Reply:
        """A click (or pick) inside an open modal, by the user it was opened for."""
        current = self.slack.view(view.id)
        who = user or current.user
        block_id, element = payloads.find_element(current.blocks, action_id)
        payload = payloads.block_actions(
            user=self._user(who),
            element=element,
            block_id=block_id,
            selected=selected,
            response_url=None,
            trigger_id=self.slack.issue_trigger_id(who),
            view=current,
            inputs=inputs,
        )
        return self._deliver("interactive", payload, delivery)

    def submit_view(
        self,
        view: SandboxView,
        inputs: Mapping[str, Selection] | None = None,
        *,
        user: str | None = None,
        delivery: Delivery = Delivery(),
    ) -> Reply:
        """Submit a modal with `inputs` by action_id (a value; a list for multi-selects)."""
        current = self.slack.view(view.id)
        who = user or current.user
        payload = payloads.view_submission(
            user=self._user(who),
            view=current,
            inputs=inputs or {},
            trigger_id=self.slack.issue_trigger_id(who),
        )
        return self._deliver("interactive", payload, delivery)

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        delivery: Delivery = Delivery(),
    ) -> Reply:
        """An Events API delivery; pass the same `event_id` again to redeliver it."""
        body = payloads.event_callback(
            event, event_id=event_id or f"Ev{uuid.uuid4().hex[:10].upper()}"
        )
        return self._deliver("event", body, delivery)

    def mention(
        self, text: str, *, user: str = ONCALL_USER_ID, channel: str = ONCALL_CHANNEL_ID
    ) -> Reply:
        """An `app_mention` event: `user` wrote `text` (which should include `<@U0TIERBOT>`)."""
        ts = self.slack.new_ts()
        event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel}
        return self.event(event)

    @abstractmethod
    def _deliver(self, kind: Kind, payload: dict[str, Any], delivery: Delivery) -> Reply:
        """Send one request the way this transport does and return the app's answer."""


class SlackHttpDriver(SlackDriver):
    """Posts to the app's `/slack/events` with Slack's v0 request signature."""

    def __init__(
        self, slack: SlackSandbox, events_url: str, signing_secret: str, *, timeout: float = 10.0
    ) -> None:
        super().__init__(slack)
        self.events_url = events_url
        self._secret = signing_secret.encode()
        self._http = httpx.Client(timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SlackHttpDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url_verification(self, challenge: str = "sandbox-challenge") -> Reply:
        """The handshake Slack sends when an Events API request URL is saved."""
        body = {
            "token": payloads.VERIFICATION_TOKEN,
            "challenge": challenge,
            "type": "url_verification",
        }
        return self.post(json.dumps(body), "application/json")

    def post(self, body: str, content_type: str, delivery: Delivery = Delivery()) -> Reply:
        """Sign and send any body: the door for malformed requests."""
        headers = {"Content-Type": content_type}
        if delivery.signature != "missing":
            timestamp = str(int(time.time() - delivery.age_seconds))
            secret = self._secret if delivery.signature == "valid" else b"not-the-secret"
            digest = hmac.new(secret, f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
            headers["X-Slack-Request-Timestamp"] = timestamp
            headers["X-Slack-Signature"] = f"v0={digest.hexdigest()}"
        if delivery.retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(delivery.retry_num)
        if delivery.retry_reason is not None:
            headers["X-Slack-Retry-Reason"] = delivery.retry_reason
        response = self._http.post(self.events_url, content=body.encode(), headers=headers)
        return Reply(status=response.status_code, body=response.text)

    def _deliver(self, kind: Kind, payload: dict[str, Any], delivery: Delivery) -> Reply:
        if kind == "command":
            return self.post(urlencode(payload), "application/x-www-form-urlencoded", delivery)
        if kind == "interactive":
            form = urlencode({"payload": json.dumps(payload)})
            return self.post(form, "application/x-www-form-urlencoded", delivery)
        return self.post(json.dumps(payload), "application/json", delivery)


class SlackSocketModeDriver(SlackDriver):
    """Pushes envelopes through the sandbox's Socket Mode server and waits for the app's ack."""

    ENVELOPE_TYPES: Mapping[Kind, str] = {
        "command": "slash_commands",
        "interactive": "interactive",
        "event": "events_api",
    }

    def __init__(self, slack: SlackSandbox, *, ack_timeout: float = 5.0) -> None:
        super().__init__(slack)
        self.ack_timeout = ack_timeout

    def _deliver(self, kind: Kind, payload: dict[str, Any], delivery: Delivery) -> Reply:
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "type": self.ENVELOPE_TYPES[kind],
            "payload": payload,
            "accepts_response_payload": kind == "command"
            or payload.get("type") in ("view_submission", "block_suggestion"),
        }
        if kind == "event":  # Slack sends both on events, "0" and "" on a first delivery
            envelope["retry_attempt"] = delivery.retry_num or 0
            envelope["retry_reason"] = delivery.retry_reason or ""
        else:
            if delivery.retry_num is not None:
                envelope["retry_attempt"] = delivery.retry_num
            if delivery.retry_reason is not None:
                envelope["retry_reason"] = delivery.retry_reason
        ack = self.slack.socket_mode.deliver(envelope, timeout=self.ack_timeout)
        body = json.dumps(ack.payload) if ack.payload else ""
        return Reply(status=200, body=body, envelope_id=ack.envelope_id)
