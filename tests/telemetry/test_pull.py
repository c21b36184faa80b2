"""Pull sources against a real HTTP server on loopback: cursors, pages, failures."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.settings import PullSource
from bot.store import Store
from bot.telemetry.models import PullCursor
from bot.telemetry.pull import PullError, load_cursor, poll
from tests.factories import event
from tests.telemetry.conftest import Feed


def _source(url: str, **changes: Any) -> PullSource:
    return PullSource(name="router-logs", kind="router_events", url=url, **changes)


def test_pull_follows_pages_and_remembers_the_cursor(store: Store, feed: tuple[Feed, str]) -> None:
    state, url = feed
    state.events = [event(n) for n in range(250)]
    state.page_size = 100
    result = poll(store.engine, _source(url, token="s3cret"))
    assert (result.pages, result.stored) == (3, 250)
    assert result.cursor == state.events[-1]["ts"]
    assert [r["since"] for r in state.requests] == [
        None,
        state.events[99]["ts"],
        state.events[199]["ts"],
    ]
    assert state.requests[0]["auth"] == "Bearer s3cret"

    state.events += [event(n) for n in range(250, 260)]
    again = poll(store.engine, _source(url))
    assert (again.stored, again.duplicates) == (10, 0)
    assert load_cursor(store.engine, "router-logs") == state.events[-1]["ts"]


def test_a_server_cursor_header_wins(store: Store, feed: tuple[Feed, str]) -> None:
    state, url = feed
    state.use_header_cursor = True
    state.events = [event(n) for n in range(30)]
    state.page_size = 12
    result = poll(store.engine, _source(url))
    assert (result.pages, result.stored, result.cursor) == (3, 30, "30")


def test_a_failing_source_keeps_its_cursor_and_says_why(
    store: Store, feed: tuple[Feed, str]
) -> None:
    state, url = feed
    state.events = [event(n) for n in range(5)]
    poll(store.engine, _source(url))
    state.status = 503
    with pytest.raises(PullError, match="HTTP 503"):
        poll(store.engine, _source(url))
    with store.sessions() as session:
        row = session.scalars(select(PullCursor)).one()
    assert row.cursor == state.events[-1]["ts"] and row.last_error and "503" in row.last_error
    assert row.records_total == 5


def test_an_unreachable_source_is_a_pull_error(store: Store) -> None:
    with pytest.raises(PullError, match="request failed"):
        poll(store.engine, _source("http://127.0.0.1:9/events", timeout_seconds=2))
