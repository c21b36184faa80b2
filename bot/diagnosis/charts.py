"""Charts of the per-minute tier series: error rate and p95 per tier, with reference lines.

One drawing for every chart tierbot makes of a window (the which-tier answer in Slack, the
postmortem draft); each caller says what to shade and mark. matplotlib is imported on first use
(Agg, no display), so a server that never draws never pays for it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.diagnosis.series import TierSeries

COLORS = {"edge": "#1f77b4", "cloud": "#ff7f0e"}
PYPLOT_LOCK = threading.Lock()  # pyplot's state is global: one chart at a time


@dataclass(frozen=True)
class Reference:
    """A tier's horizontal lines: its baseline (dashed) and its budget (dotted)."""

    budget_error_rate: float
    budget_p95_latency_ms: float
    baseline_error_rate: float | None = None
    baseline_p95_latency_ms: float | None = None


@dataclass(frozen=True)
class Marker:
    """A vertical line at a moment (an incident opened, resolved)."""

    at: datetime
    color: str


@dataclass(frozen=True)
class ChartSpec:
    start: datetime
    end: datetime
    shaded: tuple[datetime, datetime]
    title: str
    references: dict[str, Reference] = field(default_factory=dict)
    markers: Sequence[Marker] = ()


def has_points(series: dict[str, TierSeries]) -> bool:
    return any(data.points for data in series.values())


def tier_chart(series: dict[str, TierSeries], spec: ChartSpec) -> bytes:
    """A PNG: error rate (%) above, p95 (ms, log scale) below, one colour per tier."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with PYPLOT_LOCK:
        figure, (errors, latency) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, dpi=100)
        try:
            for tier, data in series.items():
                color = COLORS.get(tier, "#555555")
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
                reference = spec.references.get(tier)
                if reference is None:
                    continue
                if reference.baseline_error_rate is not None:
                    errors.axhline(100 * reference.baseline_error_rate, color=color, ls="--", lw=1)
                errors.axhline(100 * reference.budget_error_rate, color=color, ls=":", lw=1)
                if reference.baseline_p95_latency_ms is not None:
                    latency.axhline(reference.baseline_p95_latency_ms, color=color, ls="--", lw=1)
                latency.axhline(reference.budget_p95_latency_ms, color=color, ls=":", lw=1)
            for axes in (errors, latency):
                axes.axvspan(*spec.shaded, color="#d62728", alpha=0.07)
                for marker in spec.markers:
                    axes.axvline(marker.at, color=marker.color, lw=1)
                axes.set_xlim(spec.start, spec.end)
                axes.grid(alpha=0.3)
            errors.set_ylabel("error rate (%)")
            latency.set_ylabel("p95 (ms)")
            latency.set_yscale("log")
            latency.set_xlabel("UTC")
            errors.legend(loc="upper left", fontsize="small")
            errors.set_title(spec.title, fontsize="small")
            figure.autofmt_xdate()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", bbox_inches="tight")
        finally:
            plt.close(figure)
    return buffer.getvalue()
