"""Pull sources: poll an HTTP endpoint for NDJSON records newer than a remembered cursor.

The protocol (docs/data.md): `GET <url>?since=<cursor>` (no `since` on the first poll) returns
NDJSON or a JSON array. The next cursor is the `X-Next-Cursor` response header when the server
sends one, otherwise the latest `ts` (events) or `effective_at` (assignments) seen. With
`X-Has-More: true` the next page is fetched at once, up to `max_pages` per poll. Servers may
repeat records at the cursor: ingest is idempotent, so nothing is counted twice.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine, select

from bot.db import make_session_factory, transaction
from bot.settings import PullSource
from bot.telemetry.contract import rfc3339_to_epoch_ms
from bot.telemetry.models import PullCursor
from bot.telemetry.readers import InputError, RawRecord, decode_body, iter_records
from bot.telemetry.service import ingest
from bot.telemetry.summary import IngestSummary
from bot.timeutil import utcnow


class PullError(Exception):
    """A poll failed; the cursor stays where it was so the next poll retries."""


@dataclass
class PullResult:
    source: str
    pages: int = 0
    cursor: str | None = None
    summaries: list[IngestSummary] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(s.stored for s in self.summaries)

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.summaries)

    @property
    def rejected(self) -> int:
        return sum(s.rejected for s in self.summaries)


class _CursorTracker:
    """Passes records through and remembers the latest timestamp among them."""

    def __init__(self, records: Iterator[RawRecord], time_field: str) -> None:
        self.records = records
        self.time_field = time_field
        self.latest_ms = -1
        self.latest_text: str | None = None
        self.count = 0

    def __iter__(self) -> Iterator[RawRecord]:
        for record in self.records:
            self.count += 1
            value = record.value
            if isinstance(value, dict):
                stamp = value.get(self.time_field)
                if isinstance(stamp, str):
                    try:
                        ms = rfc3339_to_epoch_ms(stamp)
                    except ValueError:
                        ms = -1
                    if ms > self.latest_ms:
                        self.latest_ms, self.latest_text = ms, stamp
            yield record


def load_cursor(engine: Engine, name: str) -> str | None:
    with make_session_factory(engine)() as session:
        return session.scalar(select(PullCursor.cursor).where(PullCursor.source == name))


def _save(engine: Engine, name: str, *, cursor: str | None, error: str | None, added: int) -> None:
    with transaction(make_session_factory(engine)) as session:
        row = session.get(PullCursor, name)
        if row is None:
            row = PullCursor(source=name, cursor=None, records_total=0)
            session.add(row)
        if cursor is not None:
            row.cursor = cursor
        row.last_polled_at = utcnow()
        row.last_error = error
        row.records_total = (row.records_total or 0) + added


def poll(
    engine: Engine,
    source: PullSource,
    *,
    client: httpx.Client | None = None,
    max_body_bytes: int = 64 * 1024 * 1024,
) -> PullResult:
    """Fetch and ingest everything the source has past its cursor (bounded by max_pages)."""
    own_client = client is None
    http = client or httpx.Client(timeout=source.timeout_seconds, follow_redirects=False)
    result = PullResult(source=source.name, cursor=load_cursor(engine, source.name))
    time_field = "ts" if source.kind == "router_events" else "effective_at"
    headers = {"Accept": "application/x-ndjson"}
    if source.token is not None:
        headers["Authorization"] = f"Bearer {source.token.get_secret_value()}"
    try:
        for _ in range(source.max_pages):
            params = {"since": result.cursor} if result.cursor else {}
            try:
                response = http.get(
                    source.url, params=params, headers=headers, timeout=source.timeout_seconds
                )
            except httpx.HTTPError as exc:
                raise PullError(f"{source.name}: request failed: {exc!r}") from exc
            if response.status_code != 200:
                raise PullError(f"{source.name}: HTTP {response.status_code} from {source.url}")
            try:
                body = decode_body(response.content, None, max_body_bytes)
                tracker = _CursorTracker(iter_records(io.BytesIO(body)), time_field)
                summary = ingest(engine, source.kind, tracker, source=f"pull:{source.name}")
            except InputError as exc:
                raise PullError(f"{source.name}: {exc}") from exc
            result.pages += 1
            result.summaries.append(summary)
            next_cursor = response.headers.get("X-Next-Cursor") or tracker.latest_text
            advanced = next_cursor is not None and next_cursor != result.cursor
            if advanced:
                result.cursor = next_cursor
            _save(engine, source.name, cursor=result.cursor, error=None, added=summary.stored)
            has_more = response.headers.get("X-Has-More", "").lower() == "true"
            if tracker.count == 0 or not has_more or not advanced:
                break
    except PullError as exc:
        _save(engine, source.name, cursor=None, error=str(exc), added=0)
        raise
    finally:
        if own_client:
            http.close()
    return result
