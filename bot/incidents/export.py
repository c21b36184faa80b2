"""The postmortem draft: Markdown with the impact, the timeline, the reports and the rollbacks.

Everything in it is computed from stored data: the router rollups over the incident window
(judged against a baseline before it) and the activity log. Responders edit the draft; tierbot
only saves them the hour of collecting numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from bot.activity.service import Entry
from bot.diagnosis.report import Report
from bot.diagnosis.series import tier_minute_series
from bot.diagnosis.service import which_tier
from bot.incidents.charts import has_points, incident_chart
from bot.incidents.service import ROLE_LABELS, IncidentView, get_incident, timeline
from bot.incidents.settings import IncidentSettings
from bot.settings import Budgets
from bot.telemetry.queries import load_slices, slice_totals
from bot.timeutil import to_rfc3339

MAX_COHORT_ROWS = 20
_MENTION = re.compile(r"<@([A-Z0-9]+)>")


@dataclass(frozen=True)
class CohortImpact:
    tier: str
    cohort: str
    requests: int
    failures: int
    baseline_requests: int
    baseline_failures: int

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None

    @property
    def baseline_error_rate(self) -> float | None:
        return self.baseline_failures / self.baseline_requests if self.baseline_requests else None

    @property
    def excess_failures(self) -> float:
        """Failures beyond what the baseline rate predicts for this traffic."""
        return self.failures - (self.baseline_error_rate or 0.0) * self.requests


@dataclass(frozen=True)
class Postmortem:
    incident: IncidentView
    markdown: str
    chart_png: bytes | None = None
    filename: str = ""
    chart_filename: str = ""
    entries: list[Entry] = field(default_factory=list)


def cohort_impact(
    *, session: Session, start: datetime, end: datetime, baseline_start: datetime
) -> list[CohortImpact]:
    """Failures per tier and cohort in [start, end) against [baseline_start, start)."""
    conn = session.connection()
    slices = load_slices(conn)
    acc: dict[tuple[str, str], list[int]] = {}
    spans = ((start, end, 0), (baseline_start, start, 2))
    for a, b, offset in spans:
        for slice_id, counts in slice_totals(conn, a, b, with_histograms=False).items():
            info = slices.get(slice_id)
            if info is None:
                continue
            key = (info.tier, info.dimensions.get("cohort") or "(none)")
            sums = acc.setdefault(key, [0, 0, 0, 0])
            sums[offset] += counts.requests
            sums[offset + 1] += counts.failures
    rows = [CohortImpact(tier, cohort, *sums) for (tier, cohort), sums in acc.items()]
    rows = [row for row in rows if row.requests]
    return sorted(rows, key=lambda row: (-row.excess_failures, row.tier, row.cohort))


def _plain(text: object) -> str:
    """Slack mentions become @ids; one line."""
    return _MENTION.sub(r"@\1", str(text)).replace("\n", " ")


def _md(text: object) -> str:
    """Safe in a Markdown table cell."""
    return _plain(text).replace("|", "\\|")


def _who(user: str | None) -> str:
    return f"@{user}" if user and re.fullmatch(r"[UW][A-Z0-9]+", user) else (user or "-")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _header(view: IncidentView, end: datetime) -> list[str]:
    status = "resolved" if view.resolved_at else "still open"
    lines = [
        f"# Postmortem draft: incident #{view.id}, {_plain(view.title)}",
        "",
        f"- **Status:** {status}",
        f"- **Opened:** {_time(view.opened_at)} UTC by {_who(view.opened_by)}",
    ]
    if view.resolved_at:
        lines.append(f"- **Resolved:** {_time(view.resolved_at)} UTC by {_who(view.resolved_by)}")
    lines.append(f"- **Duration:** {_duration(end - view.opened_at)}")
    for role, label in ROLE_LABELS.items():
        lines.append(f"- **{label[0].upper() + label[1:]}:** {_who(view.role(role))}")
    if view.channel:
        lines.append(f"- **Channel:** {view.channel}")
    return lines


def _summary(view: IncidentView, report: Report) -> list[str]:
    lines = ["", "## Summary", ""]
    if view.summary:
        lines += [_plain(view.summary), ""]
    lines += [
        f"Which tier failed over the impact window ({_time(report.window_start)} to "
        f"{_time(report.window_end)} UTC): **{_md(report.verdict)}**",
        "",
        "_To write: what users saw, why it happened, how it was fixed._",
    ]
    return lines


def _tier_impact(report: Report) -> list[str]:
    lines = [
        "",
        "## Impact per tier",
        "",
        f"Baseline: {_time(report.baseline_start)} to {_time(report.baseline_end)} UTC.",
        "",
        "| tier | status | requests | failures | error rate | baseline | p95 | baseline p95 "
        "| budget (errors, p95) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, tier in report.tiers.items():
        lines.append(
            f"| {name} | {tier.status} | {tier.requests:,} | {tier.failures:,} "
            f"| {_pct(tier.error_rate)} | {_pct(tier.baseline_error_rate)} "
            f"| {_ms(tier.p95_latency_ms)} | {_ms(tier.baseline_p95_latency_ms)} "
            f"| {tier.budget_error_rate:.2%}, {tier.budget_p95_latency_ms:,.0f} ms |"
        )
    lines.append(f"| router | {report.router.status} | {report.router.turns:,} turns | | | | | | |")
    return lines


def _cohort_impact(rows: list[CohortImpact]) -> list[str]:
    lines = ["", "## Impact per cohort", ""]
    if not rows:
        return [*lines, "No router traffic in the impact window."]
    failing = [row for row in rows if row.failures]
    if not failing:
        return [*lines, "No failures in the impact window."]
    lines += [
        "| tier | cohort | requests | failures | error rate | baseline | excess failures |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in failing[:MAX_COHORT_ROWS]:
        lines.append(
            f"| {row.tier} | {_md(row.cohort)} | {row.requests:,} | {row.failures:,} "
            f"| {_pct(row.error_rate)} | {_pct(row.baseline_error_rate)} "
            f"| {max(0.0, row.excess_failures):,.0f} |"
        )
    left_out = len(rows) - min(len(failing), MAX_COHORT_ROWS)
    if left_out:
        lines += ["", f"{left_out} more tier and cohort pair(s) with fewer or no failures."]
    return lines


def _reports(report: Report, entries: list[Entry], chart: str | None) -> list[str]:
    lines = ["", "## Which-tier reports", "", "Over the impact window:", ""]
    lines.append(f"- **Verdict:** {_md(report.verdict)}")
    for suspect in report.suspects[:5]:
        extra = f"; {suspect.related_change}" if suspect.related_change else ""
        lines.append(
            f"- Suspect ({suspect.tier}, {suspect.metric}): {_md(suspect.label())}, "
            f"{suspect.share_of_excess:.0%} of the excess{_md(extra)}"
        )
    for change in report.changes:
        lines.append(
            f"- Change: cohort {_md(change.cohort)} on {change.tier} moved to "
            f"{_md(change.model_id)} at {_time(change.effective_at)} UTC "
            f"(was {_md(change.previous_model_id or '-')})"
        )
    answered = [entry for entry in entries if entry.kind == "which_tier.answered"]
    if answered:
        lines += ["", "Asked during the incident:", ""]
        for entry in answered:
            verdict = str(entry.data.get("verdict") or entry.summary)
            source = entry.data.get("source") or ""
            lines.append(f"- {_time(entry.at)} UTC, {_who(entry.actor)} ({source}): {_md(verdict)}")
    if chart:
        lines += ["", f"![Error rate and p95 per tier]({chart})"]
    return lines


def _rollbacks(entries: list[Entry]) -> list[str]:
    rollbacks = [entry for entry in entries if entry.kind.startswith("rollback.")]
    lines = ["", "## Rollbacks", ""]
    if not rollbacks:
        return [*lines, "No rollback was requested during the incident."]
    lines += ["| time (UTC) | event | who | what |", "|---|---|---|---|"]
    for entry in rollbacks:
        event = entry.kind.removeprefix("rollback.")
        lines.append(
            f"| {_time(entry.at)} | {event} | {_who(entry.actor)} | {_md(entry.summary)} |"
        )
    approvals = [entry for entry in rollbacks if entry.kind == "rollback.approved"]
    if approvals:
        approvers = ", ".join(f"{_who(e.actor)} ({e.subject or '-'})" for e in approvals)
        lines += ["", f"Approved by: {approvers}."]
    return lines


def _timeline(entries: list[Entry]) -> list[str]:
    lines = ["", "## Timeline", "", "| time (UTC) | who | what | kind |", "|---|---|---|---|"]
    for entry in entries:
        lines.append(
            f"| {_time(entry.at)} | {_who(entry.actor)} | {_md(entry.summary)} | {entry.kind} |"
        )
    return lines


def build_postmortem(
    *,
    session: Session,
    incident_id: int,
    budgets: Budgets,
    settings: IncidentSettings,
    now: datetime,
    with_chart: bool = True,
) -> Postmortem:
    """The draft for one incident (open ones too: the window ends `now`)."""
    view = get_incident(session=session, incident_id=incident_id)
    end = view.resolved_at or now
    start = view.opened_at - timedelta(minutes=settings.lookback_minutes)
    window = max(end - start, timedelta(minutes=1))
    baseline = timedelta(hours=settings.baseline_hours)
    report = which_tier(session=session, budgets=budgets, end=end, window=window, baseline=baseline)
    rows = cohort_impact(
        session=session,
        start=report.window_start,
        end=report.window_end,
        baseline_start=report.window_start - baseline,
    )
    entries = timeline(session=session, incident_id=incident_id)
    stem = f"incident-{view.id}-postmortem"
    png: bytes | None = None
    if with_chart:
        context_start = report.window_start - min(window, timedelta(hours=6))
        series = tier_minute_series(session=session, start=context_start, end=report.window_end)
        if has_points(series):
            png = incident_chart(
                series,
                budgets=budgets,
                context_start=context_start,
                window_start=report.window_start,
                opened_at=view.opened_at,
                end=report.window_end,
                resolved_at=view.resolved_at,
            )
    chart_filename = f"{stem}.png" if png else ""
    lines = [
        *_header(view, end),
        *_summary(view, report),
        *_tier_impact(report),
        *_cohort_impact(rows),
        *_reports(report, entries, chart_filename or None),
        *_rollbacks(entries),
        *_timeline(entries),
        "",
        "## Action items",
        "",
        "- [ ] _To write: what keeps this from happening again, with an owner each._",
        "",
        f"_Draft written by tierbot at {to_rfc3339(now)}._",
        "",
    ]
    return Postmortem(
        incident=view,
        markdown="\n".join(lines),
        chart_png=png,
        filename=f"{stem}.md",
        chart_filename=chart_filename,
        entries=entries,
    )


def write_postmortem(postmortem: Postmortem, out: Path) -> Path:
    """Write the Markdown (to `out`, a file or a directory) and its chart next to it."""
    path = out / postmortem.filename if out.is_dir() or not out.suffix else out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(postmortem.markdown, encoding="utf-8")
    if postmortem.chart_png:
        (path.parent / postmortem.chart_filename).write_bytes(postmortem.chart_png)
    return path
