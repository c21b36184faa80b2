"""Router faults: the tiers answered, but the routing itself went wrong.

- Misrouting: a cohort whose share of turns sent to edge first drops sharply against its own
  baseline (below half of it, clearly), so its traffic lands on the wrong tier.
- Residency violation: cloud traffic of a cohort whose residency is X served in a region that is
  neither X nor X-*; one event is already a violation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from bot.diagnosis.report import STATUS_ORDER, Finding, RouterReport, Status, Suspect
from bot.diagnosis.stats import wilson_bounds
from bot.rollouts.service import region_allowed
from bot.telemetry.queries import SliceInfo
from bot.telemetry.rollups import Counts

MIN_BASELINE_TURNS = 100
MIN_WINDOW_TURNS = 30
MIN_BASELINE_EDGE_SHARE = 0.2
DROP_FACTOR = 0.5
MIN_MISROUTED_TURNS = 10


@dataclass
class _Turns:
    edge_first: int = 0
    turns: int = 0


def _first_attempts(slices: dict[int, SliceInfo], totals: dict[int, Counts]) -> dict[str, _Turns]:
    """Per cohort: turns (first attempts on either tier) and how many went to edge first."""
    out: dict[str, _Turns] = defaultdict(_Turns)
    for slice_id, counts in totals.items():
        info = slices[slice_id]
        first = counts.requests - counts.retries
        cohort = out[info.dimensions["cohort"] or ""]
        cohort.turns += first
        if info.tier == "edge":
            cohort.edge_first += first
    return out


def judge_router(
    slices: dict[int, SliceInfo],
    window: dict[int, Counts],
    baseline: dict[int, Counts],
    residency: dict[str, str | None],
) -> tuple[RouterReport, list[Suspect]]:
    findings: list[Finding] = []
    suspects: list[Suspect] = []
    now, before = _first_attempts(slices, window), _first_attempts(slices, baseline)
    total_turns = sum(t.turns for t in now.values())

    misrouted: dict[str, tuple[float, int]] = {}
    for cohort, w in now.items():
        b = before.get(cohort)
        if b is None or b.turns < MIN_BASELINE_TURNS or w.turns < MIN_WINDOW_TURNS:
            continue
        base_share, share = b.edge_first / b.turns, w.edge_first / w.turns
        if base_share < MIN_BASELINE_EDGE_SHARE or share >= DROP_FACTOR * base_share:
            continue
        _, upper = wilson_bounds(w.edge_first, w.turns)
        missing = base_share * w.turns - w.edge_first
        clear = upper < DROP_FACTOR * base_share and missing >= MIN_MISROUTED_TURNS
        verdict: Status = "failing" if clear else "degraded"
        detail = (
            f"cohort {cohort} sent {share:.1%} of {w.turns:,} turns to edge first against "
            f"{base_share:.1%} in its baseline: about {missing:,.0f} turns went to the wrong tier"
        )
        findings.append(
            Finding(
                "misrouting",
                verdict,
                "edge_share",
                share,
                base_share,
                w.turns,
                detail,
                {"cohort": cohort},
            )
        )
        misrouted[cohort] = (missing, w.turns)
    total_missing = sum(m for m, _ in misrouted.values())
    for cohort, (missing, turns) in misrouted.items():
        suspects.append(
            Suspect(
                tier="router",
                dimensions={"cohort": cohort},
                share_of_excess=missing / total_missing if total_missing else 0.0,
                metric="edge_share",
                requests=turns,
                traffic_share=turns / total_turns if total_turns else 0.0,
            )
        )

    violations: dict[tuple[str, str], int] = defaultdict(int)
    for slice_id, counts in window.items():
        info = slices[slice_id]
        cohort, region = info.dimensions["cohort"] or "", info.dimensions["region"]
        if info.tier != "cloud" or not region or counts.requests == 0:
            continue
        allowed = residency.get(cohort)
        if not region_allowed(region, allowed):
            violations[(cohort, region)] += counts.requests
    total_violations = sum(violations.values())
    for (cohort, region), count in sorted(violations.items(), key=lambda kv: -kv[1]):
        detail = (
            f"{count:,} cloud turns of cohort {cohort} (residency {residency.get(cohort)}) "
            f"were served in {region}"
        )
        findings.append(
            Finding(
                "residency_violation",
                "failing",
                "requests",
                float(count),
                0.0,
                count,
                detail,
                {"cohort": cohort, "region": region},
            )
        )
        suspects.append(
            Suspect(
                tier="router",
                dimensions={"cohort": cohort, "region": region},
                share_of_excess=count / total_violations,
                metric="residency",
                requests=count,
                traffic_share=count / total_turns if total_turns else 0.0,
            )
        )

    overall: Status = "no_data" if total_turns == 0 else "healthy"
    if findings:
        overall = max((f.status for f in findings), key=STATUS_ORDER.__getitem__)
    suspects.sort(key=lambda s: (s.metric != "residency", -s.share_of_excess))
    return RouterReport(status=overall, turns=total_turns, findings=findings), suspects
