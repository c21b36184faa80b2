"""`/tier incident ...` words: an IncidentArgs or a UsageError, never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.errors import UsageError
from bot.slack.incidents import IncidentArgs, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("start edge is down", IncidentArgs("start", text="edge is down")),
        ("note #3 rolled back", IncidentArgs("note", 3, text="rolled back")),
        ("note 3 rolled back", IncidentArgs("note", None, text="3 rolled back")),
        ("role commander", IncidentArgs("role", role="commander", user="me")),
        ("role #2 routing-dri <@U0DRI|dana>", IncidentArgs("role", 2, role="dri", user="U0DRI")),
        ("role scribe nobody", IncidentArgs("role", role="scribe", user="")),
        ("resolve", IncidentArgs("resolve")),
        ("resolve #4 failed over", IncidentArgs("resolve", 4, text="failed over")),
        ("STATUS", IncidentArgs("status")),
        ("export #9", IncidentArgs("export", 9)),
    ],
)
def test_parse(text: str, expected: IncidentArgs) -> None:
    assert parse(text.split()) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "needs what to do"),
        ("open x", "I don't know `/tier incident open`"),
        ("start", "needs a title"),
        ("note #2", "needs the text"),
        ("role", "needs a role"),
        ("role boss", "is not a role"),
        ("role dri @dana", "is not a person I can tell"),
        ("status now", "takes no arguments"),
        ("export 3", "at most an incident number"),
    ],
)
def test_parse_errors(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem.replace("`", ".").replace("(", ".")):
        parse(text.split())


@given(st.lists(st.text(max_size=30), max_size=6))
def test_any_words_parse_or_say_why(words: list[str]) -> None:
    try:
        parse(words)
    except UsageError as exc:
        assert exc.usage
