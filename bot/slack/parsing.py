"""`/tier` text: which subcommand with what arguments, or a `UsageError` saying what was wrong.

Pure and cheap, so the ack can refuse a bad command at once with an ephemeral usage message.
"""

from __future__ import annotations

from functools import cache

from bot.slack.errors import UsageError
from bot.slack.features import subcommands
from bot.slack.subcommands import ParsedCommand, Subcommand

COMMAND = "/tier"
HELP_USAGE = "`/tier help`: this list"
HELP_WORDS = ("help", "-h", "--help", "?")


@cache
def _known() -> dict[str, Subcommand]:
    return subcommands()


def usage_lines() -> list[str]:
    lines = [line for sub in _known().values() for line in sub.usage]
    return [*lines, HELP_USAGE]


def usage_text() -> str:
    return "\n".join(f"• {line}" for line in usage_lines())


def parse(text: str) -> ParsedCommand:
    """Parse the text after `/tier`; raises UsageError naming the problem."""
    words = text.split()
    if not words or words[0].lower() in HELP_WORDS:
        if len(words) > 1:
            raise UsageError(
                f"`help` takes no arguments (got `{' '.join(words[1:])}`).", usage_text()
            )
        return ParsedCommand("help")
    name, args = words[0].lower(), words[1:]
    sub = _known().get(name)
    if sub is None:
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise UsageError(f"I don't know `/tier {shown}`.", f"Try one of:\n{usage_text()}")
    return ParsedCommand(name, sub.parse(args))


def subcommand(name: str) -> Subcommand | None:
    return _known().get(name)
