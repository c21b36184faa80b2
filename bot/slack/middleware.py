"""Slack redelivers; tierbot answers once, on whichever replica the delivery reaches.

Two global middlewares' worth of checks, in one: a delivery with `X-Slack-Retry-Num` above 0 is
acknowledged and dropped (the first delivery is already being handled: our acks are immediate,
so a retry means Slack lost our answer, not that we lost its request); a delivery whose key was
seen is acknowledged and dropped. The keys:

- events: `event_id`, which Slack keeps across retries;
- button clicks (`block_actions`): user + action_id + `action_ts`. Slack stamps `action_ts` per
  click, so the same delivery sent twice (a retry, or a load balancer that replays it to a
  second replica) is dropped, while a genuine second click is a new delivery and reaches the
  handlers, which are idempotent and answer "already done" themselves.

Slash commands and modal submissions are not deduped: Slack does not retry them, and a
submission's ack may carry an answer (validation errors) that dropping would lose.

A key is checked in process memory first (`SeenEvents`, free), then in the `slack_deliveries`
table every replica shares (`DeliveryLedger`: one INSERT that loses on the primary key). That
INSERT is the one store access before an ack, and only for events and clicks: a single-row
write, well inside Slack's 3 s on PostgreSQL (on SQLite it may queue behind a large ingest
batch). When the table cannot be reached the delivery is handled anyway: a rare double is better
than a lost click, and the handlers are idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.db import transaction
from bot.deliveries.service import delivery_key, first_sighting, prune
from bot.store import Store
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

DEDUPE_TTL_SECONDS = 3600.0  # Slack retries for about an hour at most
DEDUPE_MAX_ENTRIES = 100_000
PRUNE_EVERY = timedelta(minutes=15)


class SeenEvents:
    """Keys seen in the last `ttl` seconds here; `first_time` is atomic across threads."""

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


class DeliveryLedger:
    """Deliveries seen by any replica: this process's memory, then the shared table.

    Without a store it is the memory alone (one replica). Rows older than the TTL are pruned by
    whichever call comes first after `prune_every`, in its own small transaction.
    """

    def __init__(
        self,
        store: Store | None,
        *,
        ttl: timedelta = timedelta(seconds=DEDUPE_TTL_SECONDS),
        clock: Callable[[], datetime] = utcnow,
        memory: SeenEvents | None = None,
        prune_every: timedelta = PRUNE_EVERY,
    ) -> None:
        self.store, self.ttl, self.clock, self.prune_every = store, ttl, clock, prune_every
        self.memory = memory or SeenEvents(ttl=ttl.total_seconds())
        self._next_prune: datetime | None = None
        self._prune_lock = threading.Lock()

    def first_time(self, key: str, *, kind: str = "event") -> bool:
        """True when no replica has seen `key` within the TTL (and record it as seen)."""
        if not self.memory.first_time(key):
            return False
        if self.store is None:
            return True
        now = self.clock()
        try:
            with transaction(self.store.sessions) as session:
                first = first_sighting(session=session, key=key, now=now, ttl=self.ttl, kind=kind)
            self._maybe_prune(now)
        except SQLAlchemyError:
            log.warning("delivery ledger unreachable; handling %s unchecked", key, exc_info=True)
            return True
        return first

    def _maybe_prune(self, now: datetime) -> None:
        with self._prune_lock:
            if self._next_prune is not None and now < self._next_prune:
                return
            self._next_prune = now + self.prune_every
        assert self.store is not None
        with transaction(self.store.sessions) as session:
            pruned = prune(session=session, older_than=now - self.ttl)
        if pruned:
            log.info("forgot %d Slack deliveries seen before %s", pruned, now - self.ttl)


def retry_number(request: BoltRequest) -> int:
    """X-Slack-Retry-Num as a number; 0 when absent or unreadable (a first delivery)."""
    values = request.headers.get("x-slack-retry-num") or ["0"]
    try:
        return int(values[0])
    except ValueError:
        return 0


def dedupe_key(body: Any) -> tuple[str, str] | None:
    """(kind, key) naming this delivery across retries and replicas; None: not deduped."""
    if not isinstance(body, dict):
        return None
    event_id = body.get("event_id")
    if event_id:
        return "event", delivery_key("event", str(event_id))
    if body.get("type") == "block_actions":
        actions = body.get("actions") or [{}]
        action = actions[0] if isinstance(actions[0], dict) else {}
        user = body.get("user") or {}
        action_ts = action.get("action_ts")
        if action_ts:
            user_id = str(user.get("id", "")) if isinstance(user, dict) else ""
            return "action", delivery_key(
                "action", user_id, str(action.get("action_id", "")), str(action_ts)
            )
    return None


def register(
    app: App, seen: DeliveryLedger, on_drop: Callable[[str], None] = lambda why: None
) -> None:
    """Install the retry drop and the delivery dedupe before every listener."""

    @app.middleware
    def drop_redeliveries(
        request: BoltRequest, response: BoltResponse, next: Callable[[], Any]
    ) -> Any:
        if retry_number(request) > 0:
            on_drop("retry")
            return BoltResponse(status=200, body="")
        named = dedupe_key(request.body)
        if named is not None and not seen.first_time(named[1], kind=named[0]):
            on_drop(f"duplicate_{named[0]}")
            return BoltResponse(status=200, body="")
        return next()
