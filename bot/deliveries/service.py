"""`first_sighting`: an INSERT that loses on the primary key means "already seen".

Both backends speak `INSERT ... ON CONFLICT DO NOTHING`: on PostgreSQL a concurrent insert of
the same key waits for the first transaction and then does nothing; on SQLite writers are
serialized by `BEGIN IMMEDIATE`. A row older than the TTL that was not pruned yet is taken over
by a conditional UPDATE, which again only one caller can win.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Result, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.deliveries.models import KEY_LENGTH, DeliverySeen


def delivery_key(*parts: str) -> str:
    """Join `parts` into a key that fits the column; long keys are replaced by their digest."""
    key = ":".join(parts)
    if len(key) <= KEY_LENGTH:
        return key
    return f"{parts[0]}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def first_sighting(
    *, session: Session, key: str, now: datetime, ttl: timedelta, kind: str = "event"
) -> bool:
    """Record `key` as seen at `now`; True only for the first caller within `ttl`."""
    if len(key) > KEY_LENGTH:
        raise ValueError(f"delivery key longer than {KEY_LENGTH} characters; use delivery_key()")
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {"key": key, "kind": kind, "seen_at": now}
    inserted = session.execute(
        insert(DeliverySeen).values(values).on_conflict_do_nothing().returning(DeliverySeen.key)
    ).scalar_one_or_none()  # RETURNING, not rowcount: an ORM insert reports rowcount -1
    if inserted is not None:
        return True
    taken_over = session.execute(
        update(DeliverySeen)
        .where(DeliverySeen.key == key, DeliverySeen.seen_at <= now - ttl)
        .values(kind=kind, seen_at=now)
    )
    return _affected(taken_over) == 1


def prune(*, session: Session, older_than: datetime) -> int:
    """Forget deliveries seen before `older_than`; returns how many rows went."""
    return _affected(session.execute(delete(DeliverySeen).where(DeliverySeen.seen_at < older_than)))


def _affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched: how a conditional update tells whether it won."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)
