"""`/tier` arguments: what the person asked for, or a `UsageError` saying what was wrong.

Pure and cheap, so the ack can refuse a bad command at once with an ephemeral usage message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.slack.errors import UsageError
from bot.timeutil import parse_duration

Subcommand = Literal["help", "status", "failed", "cohort", "not_enabled"]

DEFAULT_WINDOW = timedelta(minutes=30)
MAX_WINDOW = timedelta(days=7)
COMMAND = "/tier"

USAGE: dict[str, str] = {
    "status": "`/tier status`: the tiers at a glance (latest probes, the last 30 min)",
    "failed": "`/tier failed [window]`: which tier failed, e.g. `/tier failed 15m` (default 30m)",
    "cohort": "`/tier cohort NAME`: which build a cohort runs, since when, and its history",
    "help": "`/tier help`: this list",
}
COMING = ("probe", "playbook", "rollback", "incident")


def usage_text() -> str:
    return "\n".join(f"• {line}" for line in USAGE.values())


def _usage(subcommand: str) -> str:
    return f"Usage: {USAGE[subcommand]}"


@dataclass(frozen=True)
class TierCommand:
    subcommand: Subcommand
    window: timedelta = DEFAULT_WINDOW
    cohort: str | None = None
    feature: str | None = None  # the not-yet-enabled entry point that was asked for


def parse(text: str) -> TierCommand:
    """Parse the text after `/tier`; raises UsageError naming the problem."""
    words = text.split()
    if not words or words[0].lower() in ("help", "-h", "--help", "?"):
        if len(words) > 1:
            raise UsageError(
                f"`help` takes no arguments (got `{' '.join(words[1:])}`).", usage_text()
            )
        return TierCommand("help")
    name, args = words[0].lower(), words[1:]
    if name == "status":
        if args:
            raise UsageError(f"`status` takes no arguments (got `{' '.join(args)}`).", _usage(name))
        return TierCommand("status")
    if name == "failed":
        if len(args) > 1:
            raise UsageError(
                f"`failed` takes at most one window (got `{' '.join(args)}`).", _usage(name)
            )
        return TierCommand("failed", window=parse_window(args[0]) if args else DEFAULT_WINDOW)
    if name == "cohort":
        if len(args) != 1:
            problem = (
                "`cohort` needs a cohort name."
                if not args
                else (f"`cohort` takes one name (got `{' '.join(args)}`).")
            )
            raise UsageError(problem, _usage(name))
        return TierCommand("cohort", cohort=args[0][:200])
    if name in COMING:
        return TierCommand("not_enabled", feature=name)
    shown = name if len(name) <= 40 else name[:40] + "…"
    raise UsageError(f"I don't know `/tier {shown}`.", f"Try one of:\n{usage_text()}")


def parse_window(text: str) -> timedelta:
    try:
        window = parse_duration(text)
    except ValueError:
        raise UsageError(
            f"`{text[:40]}` is not a window; use e.g. `15m`, `2h` or `1d`.", _usage("failed")
        ) from None
    if window < timedelta(minutes=1) or window > MAX_WINDOW:
        raise UsageError(
            f"The window must be between 1m and 7d (got `{text[:40]}`).", _usage("failed")
        )
    return window
