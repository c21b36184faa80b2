"""Which slice explains a tier's failure: single dimensions and pairs, ranked.

In the spirit of Adtributor and Squeeze: every slice (one dimension, or a pair) gets the
failures it had beyond what its own baseline predicts (its *excess*), and its share of the
tier's excess. The best suspect explains most of the excess with the least traffic: the score
is share of excess minus share of traffic, so "model X on lowram phones" beats "model X" when
the other phones on model X are fine, and "android-15" beats "android-15 x every build" when
every build fails there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from bot.diagnosis.stats import smoothed_rate, wilson_bounds
from bot.telemetry.histogram import count_above
from bot.telemetry.models import SLICE_DIMENSIONS
from bot.telemetry.queries import SliceInfo
from bot.telemetry.rollups import Counts

GroupKey = tuple[tuple[str, str], ...]


@dataclass
class GroupStats:
    """Window and baseline totals of one slice of a tier: requests, failures, slow requests."""

    requests: int = 0
    failures: int = 0
    slow: float = 0.0
    baseline_requests: int = 0
    baseline_failures: int = 0
    baseline_slow: float = 0.0


def slice_groups(slices: Iterable[SliceInfo]) -> dict[int, list[GroupKey]]:
    """For each slice id, the single-dimension and pair groups it belongs to."""
    out: dict[int, list[GroupKey]] = {}
    for info in slices:
        present = [(name, value) for name in SLICE_DIMENSIONS if (value := info.dimensions[name])]
        keys: list[GroupKey] = [(item,) for item in present]
        keys.extend(combinations(present, 2))
        out[info.id] = keys
    return out


def group_stats(
    slices: dict[int, SliceInfo],
    tier: str,
    window: dict[int, Counts],
    baseline: dict[int, Counts],
    slow_threshold_ms: float,
) -> tuple[dict[GroupKey, GroupStats], GroupStats]:
    """Aggregate per-slice counts of `tier` into groups; also return the tier's totals."""
    ids = [i for i in set(window) | set(baseline) if slices[i].tier == tier]
    memberships = slice_groups(slices[i] for i in ids)
    groups: dict[GroupKey, GroupStats] = {}
    total = GroupStats()
    for slice_id in ids:
        w, b = window.get(slice_id), baseline.get(slice_id)
        n_w = w.requests if w else 0
        f_w = w.failures if w else 0
        s_w = count_above(w.histogram, slow_threshold_ms) if w else 0.0
        n_b = b.requests if b else 0
        f_b = b.failures if b else 0
        s_b = count_above(b.histogram, slow_threshold_ms) if b else 0.0
        for target in (total, *(groups.setdefault(k, GroupStats()) for k in memberships[slice_id])):
            target.requests += n_w
            target.failures += f_w
            target.slow += s_w
            target.baseline_requests += n_b
            target.baseline_failures += f_b
            target.baseline_slow += s_b
    return groups, total


@dataclass(frozen=True)
class Candidate:
    """A group judged against its baseline for one metric (failures or slow requests)."""

    key: GroupKey
    events: float
    requests: int
    expected_rate: float
    excess: float
    share_of_excess: float
    traffic_share: float
    clear: bool

    @property
    def rate(self) -> float:
        return self.events / self.requests if self.requests else 0.0

    @property
    def score(self) -> float:
        return self.share_of_excess - self.traffic_share


def judge(groups: dict[GroupKey, GroupStats], total: GroupStats, metric: str,
          tier_baseline_rate: float) -> list[Candidate]:  # fmt: skip
    """Every group with failures (or slow requests) beyond its smoothed baseline, best first."""
    events_total = total.failures if metric == "errors" else total.slow
    tier_excess = events_total - total.requests * tier_baseline_rate
    candidates: list[Candidate] = []
    for key, g in groups.items():
        if g.requests == 0:
            continue
        events, base_events = (
            (g.failures, g.baseline_failures) if metric == "errors" else (g.slow, g.baseline_slow)
        )
        expected_rate = smoothed_rate(base_events, g.baseline_requests, tier_baseline_rate)
        excess = events - g.requests * expected_rate
        if excess <= 0:
            continue
        lower, _ = wilson_bounds(events, g.requests)
        candidates.append(
            Candidate(
                key=key,
                events=events,
                requests=g.requests,
                expected_rate=expected_rate,
                excess=excess,
                share_of_excess=min(1.0, excess / max(tier_excess, excess)),
                traffic_share=g.requests / total.requests if total.requests else 0.0,
                clear=lower > expected_rate,
            )
        )
    candidates.sort(key=lambda c: (-c.score, len(c.key), -c.excess))
    return candidates


def rank_suspects(
    candidates: list[Candidate], *, limit: int = 5, min_share: float = 0.2
) -> list[Candidate]:
    """The clear candidates that explain a real part of the excess, best first."""
    return [c for c in candidates if c.clear and c.share_of_excess >= min_share][:limit]
