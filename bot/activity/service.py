"""Record activity and read it back; nothing here updates or deletes a row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.activity.models import Activity


@dataclass(frozen=True)
class Entry:
    """An activity row as plain data (safe to use after the session closes)."""

    id: int
    at: datetime
    kind: str
    actor: str | None
    subject: str | None
    incident_id: int | None
    summary: str
    data: dict[str, Any]


def _entry(row: Activity) -> Entry:
    return Entry(
        id=row.id,
        at=row.at,
        kind=row.kind,
        actor=row.actor,
        subject=row.subject,
        incident_id=row.incident_id,
        summary=row.summary,
        data=dict(row.data or {}),
    )


def record(
    *,
    session: Session,
    kind: str,
    summary: str,
    at: datetime,
    actor: str | None = None,
    subject: str | None = None,
    incident_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Entry:
    """Append one entry in the caller's transaction (it commits or rolls back with the change)."""
    row = Activity(
        at=at,
        kind=kind,
        actor=actor,
        subject=subject,
        incident_id=incident_id,
        summary=summary,
        data=data or {},
    )
    session.add(row)
    session.flush()
    return _entry(row)


def entries(
    *,
    session: Session,
    start: datetime | None = None,
    end: datetime | None = None,
    kinds: Iterable[str] = (),
    kind_prefix: str | None = None,
    subject: str | None = None,
    incident_id: int | None = None,
    include_unfiled: bool = True,
    limit: int | None = None,
) -> list[Entry]:
    """Entries in time order, filtered.

    With `incident_id`, the entries filed to that incident, plus (when `include_unfiled`) those
    filed to no incident at all: what happened in the window while it was open.
    """
    query = select(Activity)
    if start is not None:
        query = query.where(Activity.at >= start)
    if end is not None:
        query = query.where(Activity.at <= end)
    kinds = tuple(kinds)
    if kinds:
        query = query.where(Activity.kind.in_(kinds))
    if kind_prefix is not None:
        query = query.where(Activity.kind.startswith(kind_prefix, autoescape=True))
    if subject is not None:
        query = query.where(Activity.subject == subject)
    if incident_id is not None:
        filed = Activity.incident_id == incident_id
        unfiled = Activity.incident_id.is_(None)
        query = query.where(or_(filed, unfiled) if include_unfiled else filed)
    query = query.order_by(Activity.at, Activity.id)
    if limit is not None:
        query = query.limit(limit)
    return [_entry(row) for row in session.scalars(query)]
