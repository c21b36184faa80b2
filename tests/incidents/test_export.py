"""The postmortem draft: impact from the rollups, the timeline, reports, rollbacks and approvers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.activity.service import record
from bot.db import transaction
from bot.diagnosis.service import which_tier
from bot.incidents.export import build_postmortem, cohort_impact, write_postmortem
from bot.incidents.reports import record_which_tier
from bot.incidents.service import add_note, open_incident, resolve_incident, set_role
from bot.incidents.settings import IncidentSettings
from bot.settings import Settings
from bot.store import Store
from tests.diagnosis.conftest import END, load_scenario

OPENED = END - timedelta(minutes=20)


def _incident(store: Store, settings: Settings) -> int:
    with transaction(store.sessions) as session:
        incident_id = open_incident(
            session=session,
            title="int8 | build errors",
            opened_by="U0ONCALL",
            now=OPENED,
            channel="C0ONCALL",
        ).id
        set_role(
            session=session,
            incident_id=incident_id,
            role="commander",
            user="U0ONCALL",
            actor="U0ONCALL",
            now=OPENED + timedelta(minutes=1),
        )
        report = which_tier(
            session=session,
            budgets=settings.budgets,
            end=OPENED + timedelta(minutes=2),
            window=timedelta(minutes=15),
        )
        record_which_tier(
            session=session,
            report=report,
            now=OPENED + timedelta(minutes=2),
            actor="U0ONCALL",
            source="slack",
            channel="C0ONCALL",
        )
        add_note(
            session=session,
            incident_id=incident_id,
            text="looks like the int8 build",
            author="U0ONCALL",
            now=OPENED + timedelta(minutes=3),
        )
        for minute, kind, actor in (
            (4, "rollback.requested", "U0ONCALL"),
            (6, "rollback.approved", "U0DRI"),
            (7, "rollback.executed", "tierbot"),
        ):
            record(
                session=session,
                kind=kind,
                summary=f"{kind} of eu-android-stable",
                at=OPENED + timedelta(minutes=minute),
                actor=actor,
                subject="rollback:1",
                data={"cohort": "eu-android-stable"},
            )
        resolve_incident(
            session=session,
            incident_id=incident_id,
            resolved_by="U0ONCALL",
            now=END,
            summary="rolled back to the previous build",
        )
    return incident_id


def test_the_draft_holds_impact_timeline_reports_and_rollbacks(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    load_scenario(store, "bad_quant_build", 5, rate=30, baseline=timedelta(hours=2))
    incident_id = _incident(store, settings)
    with store.sessions() as session:
        draft = build_postmortem(
            session=session,
            incident_id=incident_id,
            budgets=settings.budgets,
            settings=IncidentSettings(baseline_hours=2),
            now=END + timedelta(hours=1),
        )
    text = draft.markdown
    assert text.startswith(f"# Postmortem draft: incident #{incident_id}, int8 | build errors")
    assert "- **Duration:** 20 min" in text and "- **Commander:** @U0ONCALL" in text
    assert "rolled back to the previous build" in text
    assert "| edge | failing |" in text  # impact per tier, from the rollups
    cohort_rows = text.split("## Impact per cohort")[1].split("##")[0]
    worst = cohort_rows.splitlines()[4]  # the cohorts the bad build reached come first
    assert worst.startswith(
        ("| edge | eu-android-stable |", "| edge | us-android-stable |", "| edge | us-ios-stable |")
    ), worst
    assert "Asked during the incident:" in text and "@U0ONCALL (slack)" in text
    assert "Approved by: @U0DRI (rollback:1)." in text
    timeline = text.split("## Timeline")[1]
    for kind in (
        "incident.opened",
        "incident.role",
        "which_tier.answered",
        "incident.note",
        "rollback.requested",
        "rollback.approved",
        "rollback.executed",
        "incident.resolved",
    ):
        assert f"| {kind} |" in timeline, kind
    assert timeline.index("incident.note") < timeline.index("rollback.approved")

    path = write_postmortem(draft, tmp_path / "out")
    assert path == tmp_path / "out" / f"incident-{incident_id}-postmortem.md"
    assert path.read_text() == text
    assert (path.parent / draft.chart_filename).read_bytes().startswith(b"\x89PNG")


def test_an_incident_without_traffic_still_exports(store: Store, settings: Settings) -> None:
    with transaction(store.sessions) as session:
        incident_id = open_incident(session=session, title="quiet", opened_by="U1", now=END).id
    with store.sessions() as session:
        draft = build_postmortem(
            session=session,
            incident_id=incident_id,
            budgets=settings.budgets,
            settings=IncidentSettings(),
            now=END + timedelta(seconds=30),
        )
        rows = cohort_impact(
            session=session,
            start=END - timedelta(hours=1),
            end=END,
            baseline_start=END - timedelta(hours=2),
        )
    assert rows == [] and draft.chart_png is None and draft.chart_filename == ""
    assert "No router traffic in the impact window." in draft.markdown
    assert "No rollback was requested during the incident." in draft.markdown
    assert "- **Status:** still open" in draft.markdown
