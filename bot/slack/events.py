"""Events: a mention of the bot is answered with what `/tier` can do, in its thread."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Say

from bot.slack.deps import SlackDeps
from bot.slack.views.help import help_message


def register(app: App, deps: SlackDeps) -> None:
    def ack_mention(ack: Ack) -> None:
        deps.metrics.slack_commands.labels(subcommand="mention").inc()
        ack()

    def answer_mention(event: dict[str, Any], say: Say) -> None:
        say(thread_ts=event.get("thread_ts") or event.get("ts"), **help_message().to_dict())

    app.event("app_mention")(ack=ack_mention, lazy=[answer_mention])
