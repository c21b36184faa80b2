"""The which-tier chart: the window shaded and as long before it, baselines and budgets."""

from __future__ import annotations

from datetime import datetime

from bot.diagnosis.charts import ChartSpec, Reference, tier_chart
from bot.diagnosis.report import Report
from bot.diagnosis.series import TierSeries


def which_tier_chart(
    report: Report, series: dict[str, TierSeries], *, context_start: datetime
) -> bytes:
    """A PNG of the window (shaded) and as long before it; baselines dashed, budgets dotted."""
    references = {
        tier: Reference(
            budget_error_rate=t.budget_error_rate,
            budget_p95_latency_ms=t.budget_p95_latency_ms,
            baseline_error_rate=t.baseline_error_rate,
            baseline_p95_latency_ms=t.baseline_p95_latency_ms,
        )
        for tier, t in report.tiers.items()
    }
    spec = ChartSpec(
        start=context_start,
        end=report.window_end,
        shaded=(report.window_start, report.window_end),
        title="per minute; shaded: the window; dashed: baseline; dotted: budget",
        references=references,
    )
    return tier_chart(series, spec)
