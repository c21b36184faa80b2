"""What a `/tier` subcommand is: its usage, its parser, and the work it does.

Every feature module (status and which-tier, probes, playbooks, incidents, rollbacks, build
health) declares its subcommands with this shape and lists them in `bot.slack.features`; the
`/tier` listener, `/tier help` and the console all read that one list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.slack.deps import SlackDeps
from bot.slack.views.common import Message


@dataclass(frozen=True)
class Invocation:
    """Who asked, where, and how to answer: what a subcommand's work needs from Slack."""

    client: WebClient
    respond: Respond
    channel: str
    user: str
    trigger_id: str | None = None


Parser = Callable[[Sequence[str]], Any]
"""Turns the words after the subcommand's name into its arguments; raises UsageError."""

Worker = Callable[[SlackDeps, Invocation, Any], None]
"""Does the slow work in a lazy listener (store, services, posting)."""


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: tuple[str, ...]  # help lines, each "`/tier name ARGS`: what it answers"
    parse: Parser
    run: Worker | None = None
    immediate: Callable[[Any], Message | None] | None = None  # answered in the ack itself
    done_when: str | None = "chat.postMessage"  # the Web API call that completes the answer


@dataclass(frozen=True)
class ParsedCommand:
    """A `/tier` command understood: which subcommand, with what arguments."""

    name: str
    args: Any = None


def no_arguments(name: str, usage: str) -> Parser:
    """A parser for a subcommand that takes nothing."""
    from bot.slack.errors import UsageError

    def parse(args: Sequence[str]) -> None:
        if args:
            raise UsageError(f"`{name}` takes no arguments (got `{' '.join(args)}`).", usage)

    return parse
