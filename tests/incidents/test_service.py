"""Incidents in the store: open, roles, notes, resolve once, the timeline as a view of activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.activity.service import record
from bot.db import transaction
from bot.errors import TierbotError
from bot.incidents.service import (
    IncidentClosed,
    UnknownIncident,
    add_note,
    get_incident,
    incident_context,
    incident_for_channel,
    open_incident,
    open_incidents,
    resolve_incident,
    set_own_channel,
    set_role,
    timeline,
)
from bot.store import Store

T0 = datetime(2026, 11, 27, 13, 40, tzinfo=UTC)


def _open(store: Store, title: str = "edge errors", channel: str | None = "C1") -> int:
    with transaction(store.sessions) as session:
        return open_incident(
            session=session, title=title, opened_by="U1", now=T0, channel=channel
        ).id


def test_open_and_context(store: Store) -> None:
    incident_id = _open(store, "  edge   errors in eu ")
    with store.sessions() as session:
        view = get_incident(session=session, incident_id=incident_id)
        context = incident_context(session=session, incident_id=incident_id)
        assert [v.id for v in open_incidents(session=session)] == [incident_id]
    assert view.title == "edge errors in eu" and view.status == "open" and view.is_open
    assert context == {
        "id": incident_id,
        "title": "edge errors in eu",
        "status": "open",
        "commander": None,
        "dri": None,
        "scribe": None,
        "channel": "C1",
        "opened_at": "2026-11-27T13:40:00.000Z",
        "opened_by": "U1",
    }


def test_empty_title_and_unknown_incident(store: Store) -> None:
    with transaction(store.sessions) as session, pytest.raises(TierbotError, match="title"):
        open_incident(session=session, title="  ", opened_by="U1", now=T0)
    with store.sessions() as session, pytest.raises(UnknownIncident, match="#99"):
        get_incident(session=session, incident_id=99)


def test_roles_notes_resolve_and_timeline(store: Store) -> None:
    incident_id = _open(store)
    with transaction(store.sessions) as session:
        change = set_role(
            session=session,
            incident_id=incident_id,
            role="commander",
            user="U2",
            actor="U1",
            now=T0 + timedelta(minutes=1),
        )
        assert change.changed and change.previous is None
        again = set_role(
            session=session,
            incident_id=incident_id,
            role="commander",
            user="U2",
            actor="U2",
            now=T0 + timedelta(minutes=1),
        )
        assert not again.changed
        set_role(
            session=session,
            incident_id=incident_id,
            role="routing-dri",
            user="U3",
            actor="U1",
            now=T0 + timedelta(minutes=2),
        )
        add_note(
            session=session,
            incident_id=incident_id,
            text="rolled back eu",
            author="U3",
            now=T0 + timedelta(minutes=3),
        )
        # unfiled activity while open is on the timeline; activity filed elsewhere is not
        record(
            session=session,
            kind="probe.alert_opened",
            summary="edge probe failing",
            at=T0 + timedelta(minutes=4),
        )
        record(
            session=session,
            kind="incident.note",
            summary="other incident",
            at=T0 + timedelta(minutes=4),
            incident_id=incident_id + 100,
        )
        record(
            session=session,
            kind="probe.alert_opened",
            summary="before it",
            at=T0 - timedelta(minutes=4),
        )
    with transaction(store.sessions) as session:
        with pytest.raises(TierbotError, match="not a role"):
            set_role(
                session=session, incident_id=incident_id, role="boss", user="U9", actor="U1", now=T0
            )
        view = resolve_incident(
            session=session,
            incident_id=incident_id,
            resolved_by="U2",
            now=T0 + timedelta(minutes=20),
            summary="rolled back",
        )
    assert view.status == "resolved" and view.commander == "U2" and view.dri == "U3"
    with transaction(store.sessions) as session:
        record(
            session=session,
            kind="probe.alert_resolved",
            summary="after it",
            at=T0 + timedelta(minutes=30),
        )
    with store.sessions() as session:
        kinds = [(e.kind, e.summary) for e in timeline(session=session, incident_id=incident_id)]
    assert kinds == [
        ("incident.opened", f"Incident #{incident_id} opened: edge errors"),
        ("incident.role", f"Commander of incident #{incident_id}: <@U2>"),
        ("incident.role", f"Routing DRI of incident #{incident_id}: <@U3>"),
        ("incident.note", "rolled back eu"),
        ("probe.alert_opened", "edge probe failing"),
        ("incident.resolved", f"Incident #{incident_id} resolved: rolled back"),
    ]


def test_resolve_twice_says_so_and_closes_the_incident(store: Store) -> None:
    incident_id = _open(store)
    with transaction(store.sessions) as session:
        resolve_incident(session=session, incident_id=incident_id, resolved_by="U1", now=T0)
    with transaction(store.sessions) as session, pytest.raises(IncidentClosed, match="already"):
        resolve_incident(session=session, incident_id=incident_id, resolved_by="U2", now=T0)
    with transaction(store.sessions) as session, pytest.raises(IncidentClosed, match="by U1"):
        add_note(session=session, incident_id=incident_id, text="late", author="U2", now=T0)
    with transaction(store.sessions) as session, pytest.raises(IncidentClosed):
        set_role(
            session=session, incident_id=incident_id, role="scribe", user="U2", actor="U2", now=T0
        )
    with store.sessions() as session:
        assert open_incidents(session=session) == []
        resolved = [
            e
            for e in timeline(session=session, incident_id=incident_id)
            if e.kind == "incident.resolved"
        ]
    assert len(resolved) == 1


def test_incident_for_channel(store: Store) -> None:
    first = _open(store, "one", channel="C1")
    with store.sessions() as session:
        assert incident_for_channel(session=session, channel="C1").id == first  # type: ignore[union-attr]
        assert incident_for_channel(session=session, channel="C2") is None
    second = _open(store, "two", channel="C1")
    with store.sessions() as session:
        assert incident_for_channel(session=session, channel="C1") is None  # ambiguous
    with transaction(store.sessions) as session:
        set_own_channel(session=session, incident_id=second, channel="C9")
    with store.sessions() as session:
        assert incident_for_channel(session=session, channel="C9").id == second  # type: ignore[union-attr]
        assert incident_for_channel(session=session, channel="C1").id == first  # type: ignore[union-attr]
