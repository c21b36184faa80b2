"""`/tier help`: every subcommand the features offer, one line each."""

from __future__ import annotations

from bot.slack.parsing import usage_lines, usage_text
from bot.slack.views.common import Message, section


def help_message() -> Message:
    text = f"*`/tier` answers on-call questions about the edge and cloud tiers:*\n{usage_text()}"
    names = [line.split("`")[1] for line in usage_lines()]
    return Message(
        text="/tier: " + ", ".join(n.removeprefix("/tier ") for n in names), blocks=[section(text)]
    )
