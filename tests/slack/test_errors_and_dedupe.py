"""Errors become words; seen event_ids are remembered for their TTL and no longer."""

from __future__ import annotations

import logging

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.rollouts.service import UnknownCohort
from bot.slack.errors import explain
from bot.slack.middleware import SeenEvents


def _slack_error(error: str) -> SlackApiError:
    response = SlackResponse(
        client=None, http_verb="POST", api_url="http://127.0.0.1/api/chat.postMessage",
        req_args={}, data={"ok": False, "error": error}, headers={}, status_code=200,
    )  # fmt: skip
    return SlackApiError(error, response)


def test_our_errors_are_told_as_they_are() -> None:
    assert explain(UnknownCohort("no assignments for cohort 'x'.")) == (
        "no assignments for cohort 'x'."
    )


def test_a_missing_channel_membership_says_how_to_fix_it() -> None:
    assert "/invite @tierbot" in explain(_slack_error("not_in_channel"))


def test_unexpected_errors_get_an_id_that_is_also_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="tierbot"):
        told = explain(RuntimeError("boom"))
    error_id = told.split("`")[1]
    assert told.startswith("Something went wrong on my side (error id `")
    assert any(error_id in record.getMessage() and record.exc_info for record in caplog.records)
    assert "boom" not in told


def test_an_event_id_is_new_once_within_the_ttl() -> None:
    now = [0.0]
    seen = SeenEvents(ttl=60, clock=lambda: now[0])

    assert seen.first_time("Ev1") and seen.first_time("Ev2")
    assert not seen.first_time("Ev1")
    now[0] = 61
    assert seen.first_time("Ev1")  # expired, so a later redelivery is handled again


def test_the_memory_is_bounded() -> None:
    seen = SeenEvents(ttl=3600, max_entries=2, clock=lambda: 0.0)
    for event_id in ("Ev1", "Ev2", "Ev3"):
        assert seen.first_time(event_id)
    assert not seen.first_time("Ev3")
    assert seen.first_time("Ev1")  # the oldest was let go to stay within max_entries
