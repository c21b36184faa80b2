"""Open, staff, annotate and resolve incidents; every change is also an activity entry.

State changes are conditional updates (`WHERE id = ? AND status = 'open'`), so a double click
or two replicas resolve an incident once, and the loser is told who won.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.orm import Session

from bot.activity.service import Entry, entries, record
from bot.errors import TierbotError
from bot.incidents.models import Incident
from bot.timeutil import to_rfc3339

Role = Literal["commander", "dri", "scribe"]
ROLES: tuple[Role, ...] = ("commander", "dri", "scribe")
ROLE_LABELS: dict[str, str] = {"commander": "commander", "dri": "routing DRI", "scribe": "scribe"}
_ROLE_ALIASES: dict[str, Role] = {
    "commander": "commander",
    "ic": "commander",
    "incident-commander": "commander",
    "dri": "dri",
    "routing-dri": "dri",
    "routing_dri": "dri",
    "scribe": "scribe",
}
MAX_TITLE = 200
MAX_NOTE = 3000


class UnknownIncident(TierbotError):
    """No incident has this id."""


class IncidentClosed(TierbotError):
    """The incident is resolved: it takes no more roles, notes or resolutions."""


@dataclass(frozen=True)
class IncidentView:
    id: int
    title: str
    status: str  # open | resolved
    commander: str | None
    dri: str | None
    scribe: str | None
    channel: str | None
    thread_ts: str | None
    opened_at: datetime
    opened_by: str
    resolved_at: datetime | None
    resolved_by: str | None
    own_channel: bool = False
    summary: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def role(self, role: str) -> str | None:
        return {"commander": self.commander, "dri": self.dri, "scribe": self.scribe}.get(role)


@dataclass(frozen=True)
class RoleChange:
    """The outcome of `set_role`: `changed` is False when the user already had the role."""

    incident: IncidentView
    role: Role
    user: str | None
    previous: str | None
    changed: bool


def _affected(result: Result[Any]) -> int:
    """Rows a conditional UPDATE touched: 1 when it won."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def _view(row: Incident) -> IncidentView:
    return IncidentView(
        id=row.id,
        title=row.title,
        status=row.status,
        commander=row.commander,
        dri=row.dri,
        scribe=row.scribe,
        channel=row.channel,
        thread_ts=row.thread_ts,
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        own_channel=bool(row.own_channel),
        summary=row.summary,
    )


def parse_role(text: str) -> Role:
    """`commander`, `dri` (or `routing-dri`), `scribe`; raises TierbotError naming the choices."""
    role = _ROLE_ALIASES.get(text.strip().lower())
    if role is None:
        raise TierbotError(f"`{text[:40]}` is not a role; use commander, dri or scribe.")
    return role


def _load(session: Session, incident_id: int) -> Incident:
    row = session.get(Incident, incident_id, populate_existing=True)
    if row is None:
        raise UnknownIncident(f"There is no incident #{incident_id}.")
    return row


def _closed(row: Incident) -> IncidentClosed:
    when = f" at {row.resolved_at:%Y-%m-%d %H:%M} UTC" if row.resolved_at else ""
    who = f" by {row.resolved_by}" if row.resolved_by else ""
    return IncidentClosed(f"Incident #{row.id} ({row.title}) was already resolved{who}{when}.")


def open_incident(
    *,
    session: Session,
    title: str,
    opened_by: str,
    now: datetime,
    channel: str | None = None,
    thread_ts: str | None = None,
    own_channel: bool = False,
) -> IncidentView:
    """Open an incident and put `incident.opened` first on its timeline."""
    title = " ".join(title.split())
    if not title:
        raise TierbotError("An incident needs a title, e.g. `edge errors in eu-west`.")
    if len(title) > MAX_TITLE:
        raise TierbotError(f"An incident title has at most {MAX_TITLE} characters.")
    row = Incident(
        title=title,
        status="open",
        channel=channel,
        thread_ts=thread_ts,
        own_channel=own_channel,
        opened_at=now,
        opened_by=opened_by,
    )
    session.add(row)
    session.flush()
    record(
        session=session,
        kind="incident.opened",
        summary=f"Incident #{row.id} opened: {title}",
        at=now,
        actor=opened_by,
        subject=f"incident:{row.id}",
        incident_id=row.id,
        data={"title": title, "channel": channel},
    )
    return _view(row)


def get_incident(*, session: Session, incident_id: int) -> IncidentView:
    return _view(_load(session, incident_id))


def open_incidents(*, session: Session) -> list[IncidentView]:
    rows = session.scalars(
        select(Incident).where(Incident.status == "open").order_by(Incident.opened_at, Incident.id)
    )
    return [_view(row) for row in rows]


def recent_incidents(*, session: Session, limit: int = 20) -> list[IncidentView]:
    """The newest incidents, open or resolved (for `tierbot incident list`)."""
    rows = session.scalars(select(Incident).order_by(Incident.id.desc()).limit(limit))
    return [_view(row) for row in rows]


def incident_for_channel(*, session: Session, channel: str) -> IncidentView | None:
    """The open incident whose own channel this is, else the single one started here, else None."""
    rows = list(
        session.scalars(
            select(Incident)
            .where(Incident.status == "open", Incident.channel == channel)
            .order_by(Incident.id)
        )
    )
    own = [row for row in rows if row.own_channel]
    if own:
        return _view(own[-1])
    return _view(rows[0]) if len(rows) == 1 else None


def set_thread(*, session: Session, incident_id: int, channel: str, thread_ts: str) -> None:
    """Remember the incident's message (posted after the incident was opened)."""
    session.execute(
        update(Incident)
        .where(Incident.id == incident_id)
        .values(channel=channel, thread_ts=thread_ts)
    )


def set_own_channel(*, session: Session, incident_id: int, channel: str) -> None:
    """Move the incident to the channel created for it."""
    session.execute(
        update(Incident)
        .where(Incident.id == incident_id)
        .values(channel=channel, own_channel=True, thread_ts=None)
    )


def incident_context(*, session: Session, incident_id: int) -> dict[str, object]:
    """The incident's fields as plain values, for the playbook template language."""
    return incident_fields(get_incident(session=session, incident_id=incident_id))


def incident_fields(view: IncidentView) -> dict[str, object]:
    """Who and what of an incident as plain values (templates, `--json`)."""
    return {
        "id": view.id,
        "title": view.title,
        "status": view.status,
        "commander": view.commander,
        "dri": view.dri,
        "scribe": view.scribe,
        "channel": view.channel,
        "opened_at": to_rfc3339(view.opened_at),
        "opened_by": view.opened_by,
    }


def set_role(
    *,
    session: Session,
    incident_id: int,
    role: str,
    user: str | None,
    actor: str,
    now: datetime,
) -> RoleChange:
    """Give `role` to `user` (None clears it); giving it to whoever has it changes nothing."""
    parsed = parse_role(role)
    column = getattr(Incident, parsed)
    row = _load(session, incident_id)
    if row.status != "open":
        raise _closed(row)
    previous = getattr(row, parsed)
    condition = column.is_(None) if previous is None else column == previous
    won = (
        _affected(
            session.execute(
                update(Incident)
                .where(Incident.id == incident_id, Incident.status == "open", condition)
                .values({parsed: user})
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )
    row = _load(session, incident_id)
    if not won and row.status != "open":
        raise _closed(row)
    changed = won and previous != user
    if changed:
        label = ROLE_LABELS[parsed]
        summary = f"{label} of incident #{incident_id}: " + (f"<@{user}>" if user else "nobody")
        record(
            session=session,
            kind="incident.role",
            summary=summary[0].upper() + summary[1:],
            at=now,
            actor=actor,
            subject=f"incident:{incident_id}",
            incident_id=incident_id,
            data={"role": parsed, "user": user, "previous": previous},
        )
    return RoleChange(_view(row), parsed, getattr(row, parsed), previous, changed)


def add_note(*, session: Session, incident_id: int, text: str, author: str, now: datetime) -> Entry:
    """Add a note to the timeline of an open incident."""
    text = text.strip()
    if not text:
        raise TierbotError("A note needs some text, e.g. `/tier incident note rolled back eu-1`.")
    if len(text) > MAX_NOTE:
        raise TierbotError(f"A note has at most {MAX_NOTE} characters.")
    row = _load(session, incident_id)
    if row.status != "open":
        raise _closed(row)
    return record(
        session=session,
        kind="incident.note",
        summary=text,
        at=now,
        actor=author,
        subject=f"incident:{incident_id}",
        incident_id=incident_id,
        data={"text": text},
    )


def resolve_incident(
    *,
    session: Session,
    incident_id: int,
    resolved_by: str,
    now: datetime,
    summary: str | None = None,
) -> IncidentView:
    """Resolve once: a second resolve (a double click, another replica) raises IncidentClosed."""
    row = _load(session, incident_id)
    summary = summary.strip() if summary else None
    won = (
        _affected(
            session.execute(
                update(Incident)
                .where(Incident.id == incident_id, Incident.status == "open")
                .values(
                    status="resolved", resolved_at=now, resolved_by=resolved_by, summary=summary
                )
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )
    row = _load(session, incident_id)
    if not won:
        raise _closed(row)
    record(
        session=session,
        kind="incident.resolved",
        summary=f"Incident #{incident_id} resolved" + (f": {summary}" if summary else ""),
        at=now,
        actor=resolved_by,
        subject=f"incident:{incident_id}",
        incident_id=incident_id,
        data={
            "summary": summary,
            "duration_seconds": (now - row.opened_at).total_seconds(),
        },
    )
    return _view(row)


def timeline(*, session: Session, incident_id: int) -> list[Entry]:
    """What was filed to the incident, plus unfiled activity while it was open, in time order."""
    view = get_incident(session=session, incident_id=incident_id)
    filed = entries(session=session, incident_id=incident_id, include_unfiled=False)
    unfiled = [
        entry
        for entry in entries(session=session, start=view.opened_at, end=view.resolved_at)
        if entry.incident_id is None
    ]
    return sorted([*filed, *unfiled], key=lambda entry: (entry.at, entry.id))
