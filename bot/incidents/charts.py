"""The postmortem chart: the impact window shaded, the incident's open and resolve marked."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.diagnosis.charts import ChartSpec, Marker, Reference, has_points, tier_chart
from bot.diagnosis.series import TierSeries
from bot.settings import Budgets

__all__ = ["has_points", "incident_chart"]


def incident_chart(
    series: dict[str, TierSeries],
    *,
    budgets: Budgets,
    context_start: datetime,
    window_start: datetime,
    opened_at: datetime,
    end: datetime,
    resolved_at: datetime | None,
) -> bytes:
    """A PNG: the impact window shaded, the incident's open and resolve marked, budgets dotted."""
    markers = [Marker(opened_at, "#d62728")]
    if resolved_at is not None:
        markers.append(Marker(resolved_at, "#2ca02c"))
    references = {
        tier: Reference(
            budget_error_rate=budgets.for_tier(tier).error_rate,
            budget_p95_latency_ms=budgets.for_tier(tier).p95_latency_ms,
        )
        for tier in series
    }
    spec = ChartSpec(
        start=context_start,
        end=end + (end - context_start) / 50 + timedelta(minutes=1),
        shaded=(window_start, end),
        title="per minute; shaded: impact window; red line: opened; green: resolved; "
        "dotted: budget",
        references=references,
        markers=markers,
    )
    return tier_chart(series, spec)
