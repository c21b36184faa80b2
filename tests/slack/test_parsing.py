"""`/tier` arguments: every input gives a command or a usage error that says what was wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.errors import UsageError
from bot.slack.features import subcommands
from bot.slack.parsing import parse
from bot.slack.subcommands import ParsedCommand


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ParsedCommand("help")),
        ("  HELP ", ParsedCommand("help")),
        ("status", ParsedCommand("status")),
        ("failed", ParsedCommand("failed", timedelta(minutes=30))),
        ("failed 15m", ParsedCommand("failed", timedelta(minutes=15))),
        ("Failed 2h", ParsedCommand("failed", timedelta(hours=2))),
        ("cohort eu-android-stable", ParsedCommand("cohort", "eu-android-stable")),
    ],
)
def test_commands_parse(text: str, expected: ParsedCommand) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("frobnicate", "I don't know `/tier frobnicate`."),
        ("failed soon", "`soon` is not a window; use e.g. `15m`, `2h` or `1d`."),
        ("failed 30s", "The window must be between 1m and 7d (got `30s`)."),
        ("failed 8d", "The window must be between 1m and 7d (got `8d`)."),
        ("failed 15m 1h", "`failed` takes at most one window (got `15m 1h`)."),
        ("cohort", "`cohort` needs a cohort name."),
        ("cohort a b", "`cohort` takes one name (got `a b`)."),
        ("status edge", "`status` takes no arguments (got `edge`)."),
        ("help me", "`help` takes no arguments (got `me`)."),
    ],
)
def test_mistakes_are_named_with_the_usage(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse(text)
    assert raised.value.problem == problem
    assert "/tier" in raised.value.usage


@given(st.text(max_size=300))
def test_any_text_gives_a_command_or_a_usage_error(text: str) -> None:
    try:
        command = parse(text)
    except UsageError as exc:
        assert len(str(exc)) < 3000  # fits one section block
    else:
        assert command.name == "help" or command.name in subcommands()
