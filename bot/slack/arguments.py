"""Argument parsers `/tier` subcommands share: windows, names."""

from __future__ import annotations

from datetime import timedelta

from bot.slack.errors import UsageError
from bot.timeutil import parse_duration

DEFAULT_WINDOW = timedelta(minutes=30)
MAX_WINDOW = timedelta(days=7)
MAX_NAME = 200


def parse_window(text: str, usage: str = "") -> timedelta:
    """A window such as `15m`, `2h` or `1d`, between 1 minute and 7 days."""
    try:
        window = parse_duration(text)
    except ValueError:
        raise UsageError(
            f"`{text[:40]}` is not a window; use e.g. `15m`, `2h` or `1d`.", usage
        ) from None
    if window < timedelta(minutes=1) or window > MAX_WINDOW:
        raise UsageError(f"The window must be between 1m and 7d (got `{text[:40]}`).", usage)
    return window


def one_name(name: str, what: str, args: list[str] | tuple[str, ...], usage: str) -> str:
    """Exactly one name argument (a cohort, a build), clipped to a sane length."""
    if len(args) != 1:
        problem = (
            f"`{name}` needs a {what} name."
            if not args
            else f"`{name}` takes one name (got `{' '.join(args)}`)."
        )
        raise UsageError(problem, usage)
    return args[0][:MAX_NAME]
