"""`which_tier`: the answer to "which tier failed?" for a window against a baseline."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from bot.buildhealth.crashes import new_in_window
from bot.buildhealth.settings import BuildHealthSettings
from bot.buildhealth.staleness import config_staleness
from bot.diagnosis.attribution import GroupStats, group_stats, rank_suspects
from bot.diagnosis.changes import recent_changes, relate
from bot.diagnosis.report import STATUS_ORDER, Change, Finding, Report, Suspect, TierReport
from bot.diagnosis.router import judge_router
from bot.diagnosis.stats import change_point
from bot.diagnosis.tiers import judge_tier
from bot.diagnosis.verdict import verdict
from bot.probes.store import latest_results
from bot.rollouts.service import assignments_until, residency_by_cohort
from bot.settings import Budgets
from bot.telemetry.histogram import merged
from bot.telemetry.queries import SliceInfo, load_slices, minute_series, slice_totals
from bot.timeutil import from_epoch_s, to_epoch_ms

FAST_BURN, SLOW_BURN = 14.4, 6.0  # the SRE workbook's multiwindow thresholds
BURN_SPANS = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
}


def _align(end: datetime) -> datetime:
    """Windows end on a whole minute: rollups are per minute."""
    return end.replace(second=0, microsecond=0)


def _burn_rates(
    conn: Connection, slices: dict[int, SliceInfo], end: datetime, budgets: Budgets
) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {"edge": {}, "cloud": {}}
    for label, span in BURN_SPANS.items():
        totals = slice_totals(conn, end - span, end, with_histograms=False)
        per_tier = {"edge": [0, 0], "cloud": [0, 0]}
        for slice_id, counts in totals.items():
            sums = per_tier[slices[slice_id].tier]
            sums[0] += counts.requests
            sums[1] += counts.failures
        for name, (requests, failures) in per_tier.items():
            budget = budgets.for_tier(name).error_rate
            out[name][label] = (failures / requests) / budget if requests and budget else None
    return out


def _exceeds(rates: dict[str, float | None], long: str, short: str, threshold: float) -> bool:
    a, b = rates.get(long), rates.get(short)
    return a is not None and b is not None and a > threshold and b > threshold


def _onset(
    conn: Connection, slices: dict[int, SliceInfo], suspect: Suspect, start: datetime, end: datetime
) -> datetime | None:
    """When the suspect slice started failing, from its minute series."""
    ids = [
        i
        for i, info in slices.items()
        if info.tier == suspect.tier
        and all(info.dimensions.get(k) == v for k, v in suspect.dimensions.items())
    ]
    series = minute_series(conn, start, end, ids)
    points = [(m, float(c.failures), float(c.requests)) for m, c in sorted(series.items())]
    index = change_point(points)
    if index is not None:
        return from_epoch_s(points[index][0])
    if points and points[0][0] > to_epoch_ms(start) // 1000 + 120:
        return from_epoch_s(points[0][0])  # the slice itself is new: it failed from its start
    return None


def _add_probe_evidence(
    session: Session, tiers: dict[str, TierReport], start: datetime, end: datetime
) -> None:
    """A probe failing now is evidence: it makes a tier at least degraded and says why.

    Only targets whose newest result failed within the window count, so a probe that has
    recovered since, or failed last week, does not colour today's verdict.
    """
    for result in latest_results(session=session):
        if result.ok or not start <= result.started_at <= end or result.tier not in tiers:
            continue
        tier = tiers[result.tier]
        tier.findings.append(
            Finding("probe_failing", "degraded", "probe", 0.0, 0.0, 0, f"probe {result.summary()}")
        )
        if STATUS_ORDER[tier.status] < STATUS_ORDER["degraded"]:
            tier.status = "degraded"


def _baseline_end(window_start: datetime, changes: list[Change]) -> datetime:
    """The baseline ends where the first recent rollout began, if that was before the window.

    Otherwise a rollout that broke things ten minutes before the window would leak its own
    failures into the baseline it is judged against.
    """
    earlier = [c.effective_at for c in changes if c.effective_at < window_start]
    return _align(min(earlier)) if earlier else window_start


def which_tier(
    *,
    session: Session,
    budgets: Budgets,
    end: datetime,
    window: timedelta = timedelta(minutes=30),
    baseline: timedelta = timedelta(hours=24),
    build_health: BuildHealthSettings | None = None,
) -> Report:
    """Judge edge, cloud and the router over [end - window, end) against the baseline before it.

    The report also carries build health evidence: each cohort's config staleness, and, when
    the edge tier fails, the crash fingerprints new with their build in the window.
    """
    if window <= timedelta(0) or baseline <= timedelta(0):
        raise ValueError("window and baseline must be positive")
    end = _align(end)
    window_start = end - window
    history = assignments_until(session=session, end=end)
    changes = recent_changes(history, window_start, end)
    baseline_end = _baseline_end(window_start, changes)
    baseline_start = baseline_end - baseline
    conn = session.connection()
    slices = load_slices(conn)
    now = slice_totals(conn, window_start, end)
    before = slice_totals(conn, baseline_start, baseline_end)
    burn = _burn_rates(conn, slices, end, budgets)

    tiers: dict[str, TierReport] = {}
    suspects: list[Suspect] = []
    fallbacks = sum(c.retries for i, c in now.items() if slices[i].tier == "cloud")
    for tier in ("edge", "cloud"):
        budget = budgets.for_tier(tier)
        groups, total = group_stats(slices, tier, now, before, budget.p95_latency_ms)
        histogram = merged(c.histogram for i, c in now.items() if slices[i].tier == tier)
        base_histogram = merged(c.histogram for i, c in before.items() if slices[i].tier == tier)
        judgement = judge_tier(budget, total, groups, histogram, base_histogram)
        tiers[tier] = _tier_report(
            tier,
            judgement.status,
            total,
            budgets,
            burn[tier],
            judgement.p95,
            judgement.baseline_p95,
            fallbacks if tier == "edge" else None,
        )
        tiers[tier].findings = judgement.findings
        if judgement.metric is not None:
            for candidate in rank_suspects(judgement.candidates):
                base = groups[candidate.key]
                errors = judgement.metric == "errors"
                suspects.append(
                    Suspect(
                        tier=tier,
                        dimensions=dict(candidate.key),
                        share_of_excess=candidate.share_of_excess,
                        metric="errors" if errors else "latency",
                        requests=candidate.requests,
                        traffic_share=candidate.traffic_share,
                        error_rate=base.failures / base.requests if base.requests else None,
                        baseline_error_rate=(
                            base.baseline_failures / base.baseline_requests
                            if base.baseline_requests
                            else None
                        ),
                        slow_rate=None if errors else candidate.rate,
                        baseline_slow_rate=(
                            None
                            if errors or not base.baseline_requests
                            else base.baseline_slow / base.baseline_requests
                        ),
                    )
                )

    _add_probe_evidence(session, tiers, window_start, end)
    residency = residency_by_cohort(history, end)
    router, router_suspects = judge_router(slices, now, before, residency)
    suspects.extend(router_suspects)
    for suspect in suspects:
        if suspect.tier != "router" and suspect.metric == "errors":
            suspect.onset = _onset(conn, slices, suspect, window_start - timedelta(hours=1), end)
        suspect.related_change = relate(suspect, changes)

    report = Report(
        window_start=window_start,
        window_end=end,
        baseline_start=baseline_start,
        baseline_end=baseline_end,
        tiers=tiers,
        router=router,
        suspects=suspects,
        changes=changes,
    )
    report.verdict = verdict(report)
    report.config_staleness = config_staleness(
        session=session, end=end, settings=build_health or BuildHealthSettings()
    )
    if tiers["edge"].status == "failing":
        tiers["edge"].new_crash_fingerprints = new_in_window(
            session=session, tier="edge", start=window_start, end=end
        )
    return report


def _tier_report(
    tier: str,
    status: str,
    total: GroupStats,
    budgets: Budgets,
    burn: dict[str, float | None],
    p95: float | None,
    baseline_p95: float | None,
    fallbacks: int | None,
) -> TierReport:
    budget = budgets.for_tier(tier)
    n, nb = total.requests, total.baseline_requests
    error_rate = total.failures / n if n else None
    return TierReport(
        tier=tier,
        status=status,  # type: ignore[arg-type]
        requests=n,
        failures=total.failures,
        error_rate=error_rate,
        p95_latency_ms=p95,
        fallback_rate=(fallbacks / n if n else None) if fallbacks is not None else None,
        baseline_requests=nb,
        baseline_error_rate=total.baseline_failures / nb if nb else None,
        baseline_p95_latency_ms=baseline_p95,
        budget_error_rate=budget.error_rate,
        budget_p95_latency_ms=budget.p95_latency_ms,
        burn_rate=error_rate / budget.error_rate
        if error_rate is not None and budget.error_rate
        else None,
        burn_rates=burn,
        fast_burn=_exceeds(burn, "1h", "5m", FAST_BURN),
        slow_burn=_exceeds(burn, "6h", "30m", SLOW_BURN),
    )
