"""Judge one tier: its error rate and p95 against budget, and its slices against their baseline.

`failing` needs a breach that is statistically clear (the Wilson lower bound past the line) and
big enough to matter (at least MIN_EXCESS_EVENTS beyond it); `degraded` is a breach that is
suspected but not clear. A slice fails the tier when its failures over its own baseline reach
half of what the tier's budget allows in the window: a new build that OOMs on low-RAM phones is
caught before it drags the whole tier over budget, while a tiny noisy slice, or one that always
runs a bit worse, is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.diagnosis.attribution import Candidate, GroupKey, GroupStats, judge
from bot.diagnosis.report import STATUS_ORDER, Finding, Status
from bot.diagnosis.stats import wilson_bounds
from bot.settings import TierBudget
from bot.telemetry.histogram import count_above, quantile

MIN_EXCESS_EVENTS = 10
SLOW_SHARE = 0.05  # p95 over budget <=> more than 5% of requests slower than the budget
MATERIAL_SHARE_OF_ALLOWANCE = 0.5


@dataclass
class TierJudgement:
    status: Status
    findings: list[Finding]
    metric: str | None  # what to attribute: "errors", "latency", or None when healthy
    candidates: list[Candidate]
    p95: float | None
    baseline_p95: float | None


def _label(key: GroupKey) -> str:
    return " x ".join(f"{k}={v}" for k, v in key)


def _percent(value: float) -> str:
    return f"{value:.2%}"


def _tier_rule(
    rule: str,
    metric: str,
    events: float,
    requests: int,
    limit: float,
    value: float,
    threshold: float,
    what: str,
    noun: str,
) -> Finding | None:
    """A whole-tier breach of `limit` (a rate) by `events` out of `requests`."""
    if requests == 0 or events / requests <= limit:
        return None
    lower, _ = wilson_bounds(events, requests)
    clear = lower > limit and events - requests * limit >= MIN_EXCESS_EVENTS
    status: Status = "failing" if clear else "degraded"
    certainty = "clearly" if clear else "possibly (not statistically clear)"
    detail = (
        f"{what} is {certainty} over budget: {_percent(events / requests)} of {requests:,} "
        f"requests {noun} (99% lower bound {_percent(lower)}, limit {_percent(limit)})"
    )
    return Finding(rule, status, metric, value, threshold, requests, detail)


def _slice_rule(
    candidates: list[Candidate], allowance: float, metric: str, rule: str, noun: str
) -> Finding | None:
    material = [
        c
        for c in candidates
        if c.excess >= max(MATERIAL_SHARE_OF_ALLOWANCE * allowance, MIN_EXCESS_EVENTS)
    ]
    if not material:
        return None
    clear = [c for c in material if c.clear]
    best = clear[0] if clear else material[0]
    status: Status = "failing" if clear else "degraded"
    detail = (
        f"{_label(best.key)}: {_percent(best.rate)} {noun} against {_percent(best.expected_rate)} "
        f"in its baseline, {best.excess:,.0f} over it ({best.excess / allowance:.0%} of the "
        f"tier's allowance in the window) on {best.requests:,} requests"
    )
    return Finding(
        rule, status, metric, best.rate, best.expected_rate, best.requests, detail, dict(best.key)
    )


def judge_tier(
    budget: TierBudget,
    total: GroupStats,
    groups: dict[GroupKey, GroupStats],
    window_histogram: dict[int, int],
    baseline_histogram: dict[int, int],
) -> TierJudgement:
    """Status, findings and attribution candidates for one tier."""
    p95, baseline_p95 = quantile(window_histogram, 0.95), quantile(baseline_histogram, 0.95)
    if total.requests == 0:
        return TierJudgement("no_data", [], None, [], None, baseline_p95)
    n = total.requests
    error_rate = total.failures / n
    base_error_rate = (
        total.baseline_failures / total.baseline_requests
        if total.baseline_requests
        else budget.error_rate
    )
    slow = count_above(window_histogram, budget.p95_latency_ms)
    base_slow_rate = (
        total.baseline_slow / total.baseline_requests if total.baseline_requests else SLOW_SHARE
    )
    error_candidates = judge(groups, total, "errors", base_error_rate)
    slow_candidates = judge(groups, total, "latency", base_slow_rate)
    error_findings = [
        f
        for f in (
            _tier_rule(
                "error_rate_over_budget",
                "error_rate",
                total.failures,
                n,
                budget.error_rate,
                error_rate,
                budget.error_rate,
                f"error rate {_percent(error_rate)}",
                "failed",
            ),
            _slice_rule(
                error_candidates,
                budget.error_rate * n,
                "error_rate",
                "slice_over_baseline",
                "failing",
            ),
        )
        if f is not None
    ]
    latency_findings = [
        f
        for f in (
            _tier_rule(
                "p95_over_budget",
                "p95_latency_ms",
                slow,
                n,
                SLOW_SHARE,
                p95 or 0.0,
                budget.p95_latency_ms,
                f"p95 latency {p95 or 0:,.0f} ms",
                f"were slower than {budget.p95_latency_ms:,.0f} ms",
            ),
            _slice_rule(
                slow_candidates,
                SLOW_SHARE * n,
                "slow_rate",
                "slice_slower_than_baseline",
                f"slower than {budget.p95_latency_ms:,.0f} ms",
            ),
        )
        if f is not None
    ]
    findings = error_findings + latency_findings
    status: Status = max(
        (f.status for f in findings), key=STATUS_ORDER.__getitem__, default="healthy"
    )
    if error_findings:
        metric, candidates = "errors", error_candidates
    elif latency_findings:
        metric, candidates = "latency", slow_candidates
    else:
        metric, candidates = None, []
    return TierJudgement(status, findings, metric, candidates, p95, baseline_p95)
