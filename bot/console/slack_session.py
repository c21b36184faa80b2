"""The bot as a person meets it, on this machine: the real bolt app over HTTP, the sandbox Slack.

`SlackSession` starts the Slack sandbox, serves tierbot's ASGI app (the same `create_app` as
`tierbot serve`) on a loopback port, and sends signed `/tier` commands and button clicks with the
sandbox driver. Each returns an `Exchange`: the ack and everything the bot posted because of it.
The demo and `tierbot console` are both built on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from bot.app import create_app
from bot.sandbox.server import serve_in_thread
from bot.sandbox.slack_api import SlackSandbox
from bot.sandbox.slack_driver import Reply, SlackHttpDriver
from bot.sandbox.slack_models import (
    ONCALL_CHANNEL_ID,
    ONCALL_USER_ID,
    SIGNING_SECRET,
    RecordedCall,
    SandboxMessage,
    UploadedFile,
)
from bot.settings import Settings
from bot.slack.app import build_slack_app, make_web_client
from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError
from bot.slack.parsing import COMMAND, parse, subcommand
from bot.slack.wiring import slack_deps
from bot.store import Store
from bot.timeutil import utcnow

ANSWER_TIMEOUT = 60.0


@dataclass
class Exchange:
    """One thing the person did and what came back."""

    said: str
    ack: Reply
    ack_ms: float
    ephemeral: list[dict[str, Any]] = field(default_factory=list)  # only the person saw these
    messages: list[SandboxMessage] = field(default_factory=list)  # posted, in any channel
    files: list[UploadedFile] = field(default_factory=list)
    channel_names: dict[str, str] = field(default_factory=dict)


def _finished_when(text: str) -> str | None:
    """The call that means the answer is complete, or None when the ack is the answer."""
    try:
        command = parse(text)
    except UsageError:
        return None
    sub = subcommand(command.name)
    if sub is None or sub.run is None or (sub.immediate and sub.immediate(command.args)):
        return None
    return sub.done_when


class SlackSession:
    """A running bot and sandbox; use `SlackSession.start(...)` as a context manager."""

    def __init__(
        self,
        slack: SlackSandbox,
        driver: SlackHttpDriver,
        user: str,
        channel: str,
        deps: SlackDeps,
    ):
        self.slack, self.driver, self.user, self.channel = slack, driver, user, channel
        self.deps = deps

    @classmethod
    @contextmanager
    def start(
        cls,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        user: str = ONCALL_USER_ID,
        channel: str = ONCALL_CHANNEL_ID,
    ) -> Iterator[SlackSession]:
        with ExitStack() as stack:
            slack = stack.enter_context(SlackSandbox().running())
            wired = settings.model_copy(
                update={
                    "slack_api_url": slack.api_url,
                    "slack_bot_token": SecretStr(slack.bot_token),
                    "slack_signing_secret": SecretStr(SIGNING_SECRET),
                }
            )
            client = make_web_client(wired)
            deps = slack_deps(wired, store, client, clock=clock)
            bolt = build_slack_app(wired, client, deps)
            asgi = create_app(
                wired, store, run_scheduler=False, slack_app=bolt, metrics=deps.metrics
            )
            base_url = stack.enter_context(serve_in_thread(asgi))
            driver = stack.enter_context(
                SlackHttpDriver(slack, f"{base_url}/slack/events", SIGNING_SECRET, timeout=30)
            )
            yield cls(slack, driver, user, channel, deps)

    def command(self, text: str) -> Exchange:
        """Type `/tier text` and wait for the whole answer."""
        done = _finished_when(text)
        return self._exchange(
            f"{COMMAND} {text}".strip(),
            lambda: self.driver.slash_command(COMMAND, text, user=self.user, channel=self.channel),
            done,
        )

    def click(
        self,
        message: SandboxMessage,
        action_id: str,
        label: str,
        *,
        user: str | None = None,
        until: Callable[[], object] | None = None,
    ) -> Exchange:
        """Press a button on a message the bot posted, and wait for the answer it brings.

        `until` waits for something else than the next post (a chain of posts, an edit).
        """
        done = "files.completeUploadExternal" if action_id == "tier_failed" else "chat.postMessage"
        who = user or self.user
        return self._exchange(
            f"[{self._name(who)} pressed {label}]",
            lambda: self.driver.click(message, action_id, user=who),
            None if until is not None else done,
            until=until,
        )

    def _name(self, user: str) -> str:
        known = self.slack.users.get(user)
        return known.real_name if known is not None else user

    def _exchange(
        self,
        said: str,
        send: Callable[[], Reply],
        done: str | None,
        *,
        until: Callable[[], object] | None = None,
    ) -> Exchange:
        seen_messages = {(m.channel, m.ts) for m in self.slack.messages()}
        seen_files = {f.id for f in self.slack.files()}
        seen_responses = len(self.slack.responses())
        baseline = {m: len(self.slack.calls(m)) for m in (done or "", "response_url")}
        started = time.perf_counter()
        reply = send()
        ack_ms = (time.perf_counter() - started) * 1000
        if done is not None:
            self.slack.wait_for(
                lambda: self._arrived(done, baseline),
                timeout=ANSWER_TIMEOUT,
                what=f"the answer to {said}",
            )
        if until is not None:
            self.wait_until(until, what=f"the answer to {said}")
        exchange = Exchange(
            said=said,
            ack=reply,
            ack_ms=ack_ms,
            channel_names={c: str(v.get("name", c)) for c, v in self.slack.channels.items()},
        )
        body = reply.json() if reply.body.startswith("{") else None
        if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            exchange.ephemeral.append(body)
        exchange.ephemeral += [r.body for r in self.slack.responses()[seen_responses:]]
        exchange.messages = self.new_messages(seen_messages)
        exchange.files = [f for f in self.slack.files() if f.id not in seen_files and f.shared]
        return exchange

    def wait_until(self, done: Callable[[], object], *, what: str) -> None:
        """Wait for `done()`: woken by every Slack call, and polled (it may read the store)."""
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within {ANSWER_TIMEOUT} s")
            try:
                self.slack.wait_for(lambda: done() or None, timeout=min(0.25, left), what=what)
            except TimeoutError:
                continue

    def posted(self) -> set[tuple[str, str]]:
        """What is in Slack now (channel, ts): pass it to `new_messages` later."""
        return {(m.channel, m.ts) for m in self.slack.messages()}

    def new_messages(self, seen: set[tuple[str, str]]) -> list[SandboxMessage]:
        """Messages posted since `seen`, in every channel (replies in threads included)."""
        return [
            m for m in self.slack.messages(include_ephemeral=False) if (m.channel, m.ts) not in seen
        ]

    def _arrived(self, done: str, baseline: dict[str, int]) -> RecordedCall | None:
        for method in (done, "response_url"):
            calls = self.slack.calls(method)
            if len(calls) > baseline[method]:
                return calls[-1]
        return None
