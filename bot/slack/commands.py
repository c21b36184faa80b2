"""`/tier`: parse and ack at once; the work runs in a lazy listener.

Help and usage errors are answered in the ack itself (ephemeral, nothing to compute), as is
anything a subcommand can say without the store (`Subcommand.immediate`); the rest acks empty
and the subcommand's worker posts when done.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError, guarded
from bot.slack.parsing import COMMAND, parse, subcommand
from bot.slack.subcommands import Invocation, ParsedCommand
from bot.slack.views.common import Message, ephemeral
from bot.slack.views.help import help_message


def immediate_answer(command: ParsedCommand) -> Message | None:
    """What the ack itself says, or None when the answer needs the store."""
    if command.name == "help":
        return help_message()
    sub = subcommand(command.name)
    if sub is not None and sub.immediate is not None:
        return sub.immediate(command.args)
    return None


def register(app: App, deps: SlackDeps) -> None:
    def ack_tier(ack: Ack, command: dict[str, Any]) -> None:
        try:
            parsed = parse(str(command.get("text") or ""))
        except UsageError as exc:
            deps.metrics.slack_commands.labels(subcommand="usage").inc()
            ack(response_type="ephemeral", **ephemeral(str(exc)).to_dict())
            return
        deps.metrics.slack_commands.labels(subcommand=parsed.name).inc()
        message = immediate_answer(parsed)
        if message is not None:
            ack(response_type="ephemeral", **message.to_dict())
        else:
            ack()

    @guarded
    def answer_tier(command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        try:
            parsed = parse(str(command.get("text") or ""))
        except UsageError:
            return  # the ack already said what was wrong
        sub = subcommand(parsed.name)
        if sub is None or sub.run is None or immediate_answer(parsed) is not None:
            return
        asked = Invocation(
            client=client,
            respond=respond,
            channel=str(command["channel_id"]),
            user=str(command["user_id"]),
            trigger_id=command.get("trigger_id"),
        )
        sub.run(deps, asked, parsed.args)

    app.command(COMMAND)(ack=ack_tier, lazy=[answer_tier])
