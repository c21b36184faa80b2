"""`/tier`: parse and ack at once; the work runs in a lazy listener and posts in the channel.

Help, usage errors and the not-yet-enabled entry points are answered in the ack itself
(ephemeral, nothing to compute); status, failed and cohort ack empty and post when done.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.slack import answers
from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError, guarded
from bot.slack.parsing import COMMAND, TierCommand, parse
from bot.slack.views.common import Message, ephemeral
from bot.slack.views.help import help_message, not_enabled_message


def immediate_answer(command: TierCommand) -> Message | None:
    """What the ack itself says, or None when the answer needs the store."""
    if command.subcommand == "help":
        return help_message()
    if command.subcommand == "not_enabled":
        return not_enabled_message(command.feature or "")
    return None


def register(app: App, deps: SlackDeps) -> None:
    def ack_tier(ack: Ack, command: dict[str, Any]) -> None:
        try:
            parsed = parse(str(command.get("text") or ""))
        except UsageError as exc:
            deps.metrics.slack_commands.labels(subcommand="usage").inc()
            ack(response_type="ephemeral", **ephemeral(str(exc)).to_dict())
            return
        deps.metrics.slack_commands.labels(subcommand=parsed.subcommand).inc()
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
        channel = str(command["channel_id"])
        if parsed.subcommand == "status":
            answers.post_status(deps, client, channel)
        elif parsed.subcommand == "failed":
            answers.post_which_tier(deps, client, channel, parsed.window)
        elif parsed.subcommand == "cohort" and parsed.cohort is not None:
            answers.post_cohort(deps, client, channel, parsed.cohort)

    app.command(COMMAND)(ack=ack_tier, lazy=[answer_tier])
