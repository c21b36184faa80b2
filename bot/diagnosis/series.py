"""Per-minute error rate and p95 per tier: the curves the which-tier chart draws.

A read over the minute rollup only (never raw events), so a chart of a 30-minute window costs a
few thousand rows whatever the history behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.telemetry.histogram import merge_into, quantile
from bot.telemetry.models import RollupMinute
from bot.telemetry.queries import load_slices
from bot.timeutil import from_epoch_s, to_epoch_ms


@dataclass(frozen=True)
class MinutePoint:
    minute: datetime
    requests: int
    error_rate: float | None
    p95_latency_ms: float | None


@dataclass
class TierSeries:
    tier: str
    points: list[MinutePoint] = field(default_factory=list)


def tier_minute_series(
    *, session: Session, start: datetime, end: datetime
) -> dict[str, TierSeries]:
    """Each tier's per-minute error rate and p95 over [start, end); minutes with no traffic skip."""
    conn = session.connection()
    tier_of = {slice_id: info.tier for slice_id, info in load_slices(conn).items()}
    a, b = to_epoch_ms(start) // 1000, to_epoch_ms(end) // 1000
    rows = conn.execute(
        select(
            RollupMinute.bucket_start,
            RollupMinute.slice_id,
            RollupMinute.requests,
            RollupMinute.errors,
            RollupMinute.timeouts,
            RollupMinute.histogram,
        ).where(RollupMinute.bucket_start >= a, RollupMinute.bucket_start < b)
    )
    # (tier, minute) -> [requests, failures, histogram]
    acc: dict[tuple[str, int], tuple[list[int], dict[int, int]]] = {}
    for minute, slice_id, requests, errors, timeouts, histogram in rows:
        tier = tier_of.get(slice_id)
        if tier is None:
            continue
        counts, buckets = acc.setdefault((tier, int(minute)), ([0, 0], {}))
        counts[0] += int(requests)
        counts[1] += int(errors) + int(timeouts)
        raw = orjson.loads(histogram) if histogram else {}
        merge_into(buckets, {int(k): int(v) for k, v in raw.items()})
    out = {tier: TierSeries(tier) for tier in ("edge", "cloud")}
    for (tier, minute), ((requests, failures), buckets) in sorted(acc.items()):
        out.setdefault(tier, TierSeries(tier)).points.append(
            MinutePoint(
                minute=from_epoch_s(minute),
                requests=requests,
                error_rate=failures / requests if requests else None,
                p95_latency_ms=quantile(buckets, 0.95),
            )
        )
    return out
