"""The activity log: append, then read back by time, kind, subject and incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.activity.service import entries, record
from bot.store import Store

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def test_entries_come_back_in_time_order_and_filter(store: Store) -> None:
    with store.sessions.begin() as session:
        record(
            session=session,
            kind="probe.alert_opened",
            summary="edge build fails",
            at=T0,
            subject="edge:router-int8",
        )
        record(
            session=session,
            kind="incident.note",
            summary="looking",
            at=T0 + timedelta(1),
            actor="U1",
            incident_id=7,
        )
        record(
            session=session,
            kind="rollback.requested",
            summary="eu back to fp32",
            at=T0 - timedelta(minutes=1),
            actor="U2",
            subject="eu",
            data={"request": 3},
        )
        record(
            session=session, kind="incident.note", summary="other incident", at=T0, incident_id=8
        )
    with store.sessions() as session:
        every = entries(session=session)
        assert [e.kind for e in every] == [
            "rollback.requested",
            "probe.alert_opened",
            "incident.note",
            "incident.note",
        ]
        assert every[0].data == {"request": 3} and every[0].at == T0 - timedelta(minutes=1)
        audit = entries(session=session, kind_prefix="rollback.")
        assert [e.summary for e in audit] == ["eu back to fp32"]
        timeline = entries(session=session, incident_id=7, start=T0)
        assert [e.summary for e in timeline] == ["edge build fails", "looking"]
        filed = entries(session=session, incident_id=7, include_unfiled=False)
        assert [e.summary for e in filed] == ["looking"]
        assert [e.kind for e in entries(session=session, subject="eu")] == ["rollback.requested"]


def test_an_entry_rolls_back_with_the_change_it_records(store: Store) -> None:
    try:
        with store.sessions.begin() as session:
            record(session=session, kind="rollback.approved", summary="approved", at=T0)
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    with store.sessions() as session:
        assert entries(session=session) == []
