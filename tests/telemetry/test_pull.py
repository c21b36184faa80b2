"""Pull sources against a real HTTP server on loopback: cursors, pages, failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from bot.settings import PullSource
from bot.store import Store
from bot.telemetry.models import PullCursor
from bot.telemetry.pull import PullError, load_cursor, poll
from tests.factories import event, ndjson


class Feed:
    """What the fake router-log service serves, and what it was asked."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.page_size = 1000
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self.use_header_cursor = False


@pytest.fixture
def feed() -> Iterator[tuple[Feed, str]]:
    state = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            since = query.get("since", [None])[0]
            state.requests.append({"since": since, "auth": self.headers.get("Authorization")})
            if state.status != 200:
                self.send_response(state.status)
                self.end_headers()
                return
            if state.use_header_cursor:
                start = int(since or 0)
                page = state.events[start : start + state.page_size]
                more = start + len(page) < len(state.events)
                cursor = str(start + len(page))
            else:
                page = [e for e in state.events if since is None or e["ts"] > since][
                    : state.page_size
                ]
                more = len(page) == state.page_size
                cursor = None
            body = ndjson(page)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Has-More", "true" if more else "false")
            if cursor is not None:
                self.send_header("X-Next-Cursor", cursor)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/events"
    server.shutdown()
    server.server_close()


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
