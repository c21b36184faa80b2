"""Which-tier answers on the activity log, so they show on incident timelines and postmortems.

Both front ends (Slack's `/tier failed`, the CLI's `tierbot which-tier`) call `record_which_tier`
once per answer; the data holds what a postmortem quotes (verdict, failing tiers, top suspect).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.activity.service import Entry, record
from bot.diagnosis.report import Report
from bot.incidents.service import incident_for_channel


def report_data(report: Report) -> dict[str, Any]:
    """The numbers of a report worth keeping: verdict, statuses, top suspect, the window."""
    top = report.suspects[0] if report.suspects else None
    return {
        "verdict": report.verdict,
        "failing": list(report.failing),
        "degraded": report.degraded,
        "tiers": {
            name: {
                "status": tier.status,
                "requests": tier.requests,
                "error_rate": tier.error_rate,
                "baseline_error_rate": tier.baseline_error_rate,
                "p95_latency_ms": tier.p95_latency_ms,
            }
            for name, tier in report.tiers.items()
        },
        "router": report.router.status,
        "top_suspect": top.to_dict() if top else None,
        "window": report.to_dict()["window"],
    }


def record_which_tier(
    *,
    session: Session,
    report: Report,
    now: datetime,
    actor: str | None,
    source: str,
    channel: str | None = None,
) -> Entry:
    """Record one which-tier answer; filed to the incident of `channel` when it has one."""
    incident = incident_for_channel(session=session, channel=channel) if channel else None
    data = report_data(report) | {"source": source, "channel": channel}
    top = report.suspects[0] if report.suspects else None
    return record(
        session=session,
        kind="which_tier.answered",
        summary=f"Which tier failed: {report.verdict}",
        at=now,
        actor=actor,
        subject=top.label() if top else None,
        incident_id=incident.id if incident else None,
        data=data,
    )
