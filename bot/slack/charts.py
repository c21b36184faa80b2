"""The which-tier chart: error rate and p95 per tier per minute, with baseline and budget.

matplotlib is imported on first use (Agg, no display) so `tierbot serve` starts lean and pays
for it only when someone asks `/tier failed`.
"""

from __future__ import annotations

import io
import threading
from datetime import datetime

from bot.diagnosis.report import Report
from bot.diagnosis.series import TierSeries

_COLORS = {"edge": "#1f77b4", "cloud": "#ff7f0e"}
_LOCK = threading.Lock()  # pyplot's state is global: one chart at a time


def which_tier_chart(
    report: Report, series: dict[str, TierSeries], *, context_start: datetime
) -> bytes:
    """A PNG of the window (shaded) and as long before it; baselines dashed, budgets dotted."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with _LOCK:
        figure, (errors, latency) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, dpi=100)
        try:
            for tier, data in series.items():
                color = _COLORS.get(tier, "#555555")
                tier_report = report.tiers.get(tier)
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
                if tier_report is None:
                    continue
                if tier_report.baseline_error_rate is not None:
                    errors.axhline(
                        100 * tier_report.baseline_error_rate, color=color, ls="--", lw=1
                    )
                errors.axhline(100 * tier_report.budget_error_rate, color=color, ls=":", lw=1)
                if tier_report.baseline_p95_latency_ms is not None:
                    latency.axhline(tier_report.baseline_p95_latency_ms, color=color, ls="--", lw=1)
                latency.axhline(tier_report.budget_p95_latency_ms, color=color, ls=":", lw=1)
            for axes in (errors, latency):
                axes.axvspan(report.window_start, report.window_end, color="#d62728", alpha=0.07)
                axes.set_xlim(context_start, report.window_end)
                axes.grid(alpha=0.3)
            errors.set_ylabel("error rate (%)")
            latency.set_ylabel("p95 (ms)")
            latency.set_yscale("log")
            latency.set_xlabel("UTC")
            errors.legend(loc="upper left", fontsize="small")
            errors.set_title(
                "per minute; shaded: the window; dashed: baseline; dotted: budget", fontsize="small"
            )
            figure.autofmt_xdate()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", bbox_inches="tight")
        finally:
            plt.close(figure)
    return buffer.getvalue()
