"""Slack redelivers; tierbot answers once.

Two global middlewares: a delivery with `X-Slack-Retry-Num` above 0 is acknowledged and
dropped (the first delivery is already being handled: our acks are immediate, so a retry means
Slack lost our answer, not that we lost its request); an event whose `event_id` was seen is
acknowledged and dropped.

The seen event_ids live in process memory with a TTL (`SeenEvents`). That is enough while
tierbot runs one replica and listens to few events (`app_mention`); with replicas behind a load
balancer it should become a table with a unique constraint on event_id (an INSERT that loses
the race means "seen"), which is why it sits behind this one small class.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

DEDUPE_TTL_SECONDS = 3600.0  # Slack retries for about an hour at most
DEDUPE_MAX_ENTRIES = 100_000


class SeenEvents:
    """event_ids seen in the last `ttl` seconds; `first_time` is atomic across threads."""

    def __init__(
        self,
        *,
        ttl: float = DEDUPE_TTL_SECONDS,
        max_entries: int = DEDUPE_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        """Record `event_id`; True only the first time within the TTL."""
        now = self.clock()
        with self._lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if now - at < self.ttl and len(self._seen) < self.max_entries:
                    break
                del self._seen[oldest]
            if event_id in self._seen:
                return False
            self._seen[event_id] = now
            return True


def retry_number(request: BoltRequest) -> int:
    """X-Slack-Retry-Num as a number; 0 when absent or unreadable (a first delivery)."""
    values = request.headers.get("x-slack-retry-num") or ["0"]
    try:
        return int(values[0])
    except ValueError:
        return 0


def register(app: App, seen: SeenEvents, on_drop: Callable[[str], None] = lambda why: None) -> None:
    """Install the retry drop and the event_id dedupe before every listener."""

    @app.middleware
    def drop_redeliveries(
        request: BoltRequest, response: BoltResponse, next: Callable[[], Any]
    ) -> Any:
        if retry_number(request) > 0:
            on_drop("retry")
            return BoltResponse(status=200, body="")
        event_id = request.body.get("event_id") if isinstance(request.body, dict) else None
        if event_id and not seen.first_time(str(event_id)):
            on_drop("duplicate_event")
            return BoltResponse(status=200, body="")
        return next()
