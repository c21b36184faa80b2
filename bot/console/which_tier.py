"""The which-tier report in a terminal: the verdict first, then the numbers behind it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bot.diagnosis.report import Report, TierReport

_STATUS_STYLE = {"failing": "bold red", "degraded": "yellow", "healthy": "green", "no_data": "dim"}


def _pct(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _burn(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _status(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, '')}]{status}[/]"


def render_report(console: Console, report: Report) -> None:
    style = "bold red" if report.failing else ("yellow" if report.degraded else "green")
    console.print(f"[{style}]{report.verdict}[/]", highlight=False)
    console.print(
        f"window {report.window_start:%Y-%m-%d %H:%M} to {report.window_end:%H:%M} UTC, "
        f"baseline {report.baseline_start:%m-%d %H:%M} to {report.baseline_end:%m-%d %H:%M} UTC",
        style="dim",
        highlight=False,
    )
    table = Table(title="Tiers", title_justify="left")
    for name, justify in (
        ("tier", "left"),
        ("status", "left"),
        ("requests", "right"),
        ("error rate", "right"),
        ("budget", "right"),
        ("baseline", "right"),
        ("p95", "right"),
        ("budget p95", "right"),
        ("fallback", "right"),
        ("burn 5m/1h/6h", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for tier in report.tiers.values():
        table.add_row(*_tier_row(tier))
    table.add_row(
        "router",
        _status(report.router.status),
        f"{report.router.turns:,} turns",
        *["" for _ in range(7)],
    )
    console.print(table)
    findings = [f for t in report.tiers.values() for f in t.findings] + report.router.findings
    for finding in findings:
        console.print(f"  {_status(finding.status)} {finding.detail}", highlight=False)
    if report.suspects:
        suspects = Table(title="Suspects (best first)", title_justify="left")
        for name in (
            "tier",
            "slice",
            "share of excess",
            "error rate",
            "baseline",
            "requests",
            "note",
        ):
            suspects.add_column(name)
        for s in report.suspects:
            rate = _pct(s.slow_rate if s.metric == "latency" else s.error_rate)
            base = _pct(s.baseline_slow_rate if s.metric == "latency" else s.baseline_error_rate)
            suspects.add_row(
                s.tier,
                s.label(),
                f"{s.share_of_excess:.0%}",
                rate,
                base,
                f"{s.requests:,}",
                s.related_change or "",
            )
        console.print(suspects)
    _render_build_health(console, report)
    if report.changes:
        changes = Table(
            title="Rollouts in the hour before and during the window", title_justify="left"
        )
        for name in ("effective", "cohort", "tier", "build", "was", "percent"):
            changes.add_column(name)
        for c in report.changes:
            changes.add_row(
                f"{c.effective_at:%H:%M}",
                c.cohort,
                c.tier,
                c.model_id,
                c.previous_model_id or "-",
                f"{c.rollout_percent:g}%",
            )
        console.print(changes)


def _render_build_health(console: Console, report: Report) -> None:
    """New crash fingerprints when edge fails, and cohorts running a stale config."""
    fingerprints = report.tiers["edge"].new_crash_fingerprints if "edge" in report.tiers else None
    if fingerprints:
        table = Table(title="Crash fingerprints new with their build", title_justify="left")
        for name in ("build", "fingerprint", "events", "first seen", "OS versions", "devices"):
            table.add_column(name)
        for f in fingerprints:
            table.add_row(
                f.model_id,
                f.fingerprint,
                f"{f.events:,}",
                f"{f.first_seen:%H:%M}",
                ", ".join(f.os_versions),
                ", ".join(f.device_classes),
            )
        console.print(table)
    stale = [c for c in report.config_staleness if c.stale_requests]
    if stale:
        table = Table(title="Config staleness", title_justify="left")
        for name in ("cohort", "stale share", "requests", "stale since", "over threshold since"):
            table.add_column(name)
        for c in sorted(stale, key=lambda c: -(c.stale_share or 0.0)):
            table.add_row(
                c.cohort,
                _pct(c.stale_share, 1),
                f"{c.requests:,}",
                f"{c.stale_since:%m-%d %H:%M}" if c.stale_since else "-",
                f"{c.over_threshold_since:%m-%d %H:%M}" if c.over_threshold_since else "-",
            )
        console.print(table)


def _tier_row(tier: TierReport) -> list[str]:
    burns = "/".join(_burn(tier.burn_rates.get(k)) for k in ("5m", "1h", "6h"))
    return [
        tier.tier,
        _status(tier.status),
        f"{tier.requests:,}",
        _pct(tier.error_rate),
        _pct(tier.budget_error_rate, 1),
        _pct(tier.baseline_error_rate),
        _ms(tier.p95_latency_ms),
        _ms(tier.budget_p95_latency_ms),
        _pct(tier.fallback_rate),
        burns,
    ]
