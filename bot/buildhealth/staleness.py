"""Config staleness per cohort: the share of its traffic running a config hash other than the
canonical one (its assignment's, at the time of each request), and since when.

Time is cut into steps of `stale_step_minutes` ending at `end`; "stale since" is the start of
the latest unbroken run of steps with stale traffic, "over since" that of the run with a stale
share over the threshold (steps with too few hashed requests neither break nor extend a run).
Requests that reported no hash, or whose cohort has no canonical hash, are not judged.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.buildhealth.settings import BuildHealthSettings
from bot.rollouts.service import Assignment, assignments_until, current_by_cohort
from bot.timeutil import to_epoch_ms, to_rfc3339


@dataclass
class CohortStaleness:
    cohort: str
    canonical: dict[str, str | None]  # tier -> the hash in force at `end`
    window_start: datetime
    window_end: datetime
    requests: int  # hashed requests in the window
    stale_requests: int
    threshold: float
    stale_since: datetime | None = None
    over_threshold_since: datetime | None = None
    sustained: bool = False  # over the threshold for at least `stale_for_minutes`
    stale_hashes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def stale_share(self) -> float | None:
        return self.stale_requests / self.requests if self.requests else None

    @property
    def over(self) -> bool:
        share = self.stale_share
        return share is not None and share > self.threshold

    def summary(self) -> str:
        """One line: `12.0% of 1,234 requests on a stale config since 13:05 UTC`."""
        share = self.stale_share
        if share is None:
            return "no hashed traffic in the window"
        text = f"{share:.1%} of {self.requests:,} requests on a stale config"
        since = self.over_threshold_since or self.stale_since
        if self.stale_requests and since is not None:
            text += f" since {since:%Y-%m-%d %H:%M} UTC"
        if self.stale_hashes:
            text += " (" + ", ".join(f"{h} x{n:,}" for h, n in self.stale_hashes[:3]) + ")"
        return text

    def to_dict(self) -> dict[str, Any]:
        share = self.stale_share
        return {
            "cohort": self.cohort,
            "canonical": self.canonical,
            "window": {"start": to_rfc3339(self.window_start), "end": to_rfc3339(self.window_end)},
            "requests": self.requests,
            "stale_requests": self.stale_requests,
            "stale_share": None if share is None else round(share, 6),
            "threshold": self.threshold,
            "over_threshold": self.over,
            "stale_since": to_rfc3339(self.stale_since) if self.stale_since else None,
            "over_threshold_since": (
                to_rfc3339(self.over_threshold_since) if self.over_threshold_since else None
            ),
            "sustained": self.sustained,
            "stale_hashes": [{"config_hash": h, "requests": n} for h, n in self.stale_hashes],
        }


class _Canonical:
    """The canonical hash of a (cohort, tier) at any time, from its resolved history."""

    def __init__(self, history: list[Assignment]) -> None:
        by_key: dict[tuple[str, str], list[Assignment]] = defaultdict(list)
        for a in history:
            by_key[(a.cohort, a.tier)].append(a)
        self._times = {
            k: [to_epoch_ms(a.effective_at) // 1000 for a in v] for k, v in by_key.items()
        }
        self._hashes = {k: [a.config_hash for a in v] for k, v in by_key.items()}

    def at(self, cohort: str, tier: str, second: int) -> str | None:
        times = self._times.get((cohort, tier))
        if not times:
            return None
        i = bisect_right(times, second)
        return self._hashes[(cohort, tier)][i - 1] if i else None


def _since(steps: dict[int, list[int]], judged: int, over: Any) -> int | None:
    """The oldest step index of the latest run of steps `over` says yes to (0 is the latest)."""
    since = None
    for index in sorted(steps):
        stale, total = steps[index]
        if total < judged:
            continue
        if not over(stale, total):
            break
        since = index
    return since


def config_staleness(
    *,
    session: Session,
    end: datetime,
    settings: BuildHealthSettings,
    cohorts: set[str] | None = None,
) -> list[CohortStaleness]:
    """Staleness of every cohort with a canonical config hash (or of `cohorts`), by name."""
    if cohorts is not None and not cohorts:
        return []
    end = end.replace(second=0, microsecond=0)
    history = assignments_until(session=session, end=end, cohorts=cohorts)
    canonical = _Canonical(history)
    in_force = current_by_cohort(history, end)
    end_s = to_epoch_ms(end) // 1000
    step = settings.stale_step_minutes * 60
    lookback = int(settings.stale_lookback_hours * 3600) // step * step
    window_start = end - timedelta(minutes=settings.stale_window_minutes)
    window_s = to_epoch_ms(window_start) // 1000
    where = ""
    params: dict[str, Any] = {"a": end_s - lookback, "b": end_s}
    if cohorts is not None:
        wanted = sorted(cohorts)
        where = " AND cohort IN (" + ",".join(f":c{i}" for i in range(len(wanted))) + ")"
        params |= {f"c{i}": name for i, name in enumerate(wanted)}
    rows = session.execute(
        text(
            "SELECT bucket_start, tier, cohort, config_hash, requests FROM config_hashes_minute "
            f"WHERE bucket_start >= :a AND bucket_start < :b{where}"
        ),
        params,
    )
    steps: dict[str, dict[int, list[int]]] = defaultdict(dict)
    recent: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    stale_hashes: dict[str, Counter[str]] = defaultdict(Counter)
    for bucket, tier, cohort, config_hash, requests in rows:
        expected = canonical.at(cohort, tier, int(bucket))
        if not config_hash or expected is None:
            continue
        stale = config_hash != expected
        counts = steps[cohort].setdefault((end_s - 1 - int(bucket)) // step, [0, 0])
        counts[0] += requests if stale else 0
        counts[1] += requests
        if bucket >= window_s:
            recent[cohort][0] += requests if stale else 0
            recent[cohort][1] += requests
            if stale:
                stale_hashes[cohort][config_hash] += requests
    names = {c for c, tiers in in_force.items() if any(a.config_hash for a in tiers.values())}
    out: list[CohortStaleness] = []
    threshold = settings.stale_threshold
    for cohort in sorted(names | set(steps)):
        mine = steps.get(cohort, {})
        any_since = _since(mine, 1, lambda stale, _total: stale > 0)
        over_since = _since(
            mine, settings.stale_min_requests, lambda stale, total: stale / total > threshold
        )
        item = CohortStaleness(
            cohort=cohort,
            canonical={t: a.config_hash for t, a in sorted(in_force.get(cohort, {}).items())},
            window_start=window_start,
            window_end=end,
            requests=recent[cohort][1],
            stale_requests=recent[cohort][0],
            threshold=threshold,
            stale_since=(
                None if any_since is None else end - timedelta(seconds=(any_since + 1) * step)
            ),
            over_threshold_since=(
                None if over_since is None else end - timedelta(seconds=(over_since + 1) * step)
            ),
            stale_hashes=stale_hashes[cohort].most_common(5),
        )
        item.sustained = item.over_threshold_since is not None and (
            end - item.over_threshold_since >= timedelta(minutes=settings.stale_for_minutes)
        )
        out.append(item)
    return out
