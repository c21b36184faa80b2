"""Fixtures for telemetry tests: a fake router-log service on loopback for pull sources."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.factories import ndjson


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
