"""The postmortem chart: error rate and p95 per tier per minute around the incident.

Our own small plot (the Slack chart lives in `bot.slack`, which a domain package must not
import). matplotlib is imported on first use, with the Agg backend (no display).
"""

from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta

from bot.diagnosis.series import TierSeries
from bot.settings import Budgets

_COLORS = {"edge": "#1f77b4", "cloud": "#ff7f0e"}
_LOCK = threading.Lock()  # pyplot's state is global: one chart at a time


def has_points(series: dict[str, TierSeries]) -> bool:
    return any(data.points for data in series.values())


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
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with _LOCK:
        figure, (errors, latency) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, dpi=100)
        try:
            for tier, data in series.items():
                color = _COLORS.get(tier, "#555555")
                xs = [p.minute for p in data.points]
                errors.plot(
                    xs, [100 * (p.error_rate or 0.0) for p in data.points], color=color, label=tier
                )
                latency.plot(
                    xs,
                    [
                        p.p95_latency_ms if p.p95_latency_ms is not None else float("nan")
                        for p in data.points
                    ],
                    color=color,
                    label=tier,
                )
                budget = budgets.for_tier(tier)
                errors.axhline(100 * budget.error_rate, color=color, ls=":", lw=1)
                latency.axhline(budget.p95_latency_ms, color=color, ls=":", lw=1)
            for axes in (errors, latency):
                axes.axvspan(window_start, end, color="#d62728", alpha=0.07)
                axes.axvline(opened_at, color="#d62728", lw=1)
                if resolved_at is not None:
                    axes.axvline(resolved_at, color="#2ca02c", lw=1)
                axes.set_xlim(
                    context_start, end + (end - context_start) / 50 + timedelta(minutes=1)
                )
                axes.grid(alpha=0.3)
            errors.set_ylabel("error rate (%)")
            latency.set_ylabel("p95 (ms)")
            latency.set_yscale("log")
            latency.set_xlabel("UTC")
            errors.legend(loc="upper left", fontsize="small")
            errors.set_title(
                "per minute; shaded: impact window; red line: opened; green: resolved; "
                "dotted: budget",
                fontsize="small",
            )
            figure.autofmt_xdate()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", bbox_inches="tight")
        finally:
            plt.close(figure)
    return buffer.getvalue()
