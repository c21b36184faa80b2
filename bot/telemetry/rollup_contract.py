"""Pre-aggregated router rollups: one record per minute x slice, checked field by field.

The format (docs/data.md, schemas/router-rollup.schema.json) is for fleets that count on the
device or in a collector: per-minute counts by outcome and a latency histogram with the
sender's own bucket bounds, which `map_buckets` spreads onto tierbot's fixed log-scale buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bot.telemetry.contract import (
    OUTCOMES,
    TIERS,
    FieldError,
    InvalidRecord,
    _describe,
    _enum,
    _optional_string,
    _required_string,
    _timestamp,
)
from bot.telemetry.histogram import BUCKET_COUNT, BUCKETS_PER_DOUBLING, bucket_bounds, bucket_index
from bot.telemetry.rollups import Counts, SliceKey

MAX_COUNT = 1_000_000_000  # per record and field: rollup columns are 32-bit integers
MAX_BOUNDS = 256
DEFAULT_SOURCE = "default"
ROLLUP_FIELDS = frozenset(
    ("minute", "source", "tier", "model_id", "cohort", "region", "device_class", "os_version",
     "app_version", "outcomes", "retries", "latency")
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RollupRecord:
    """One valid record: whose it is, which minute (epoch s) and slice, and its counts."""

    source: str
    minute: int
    key: SliceKey
    counts: Counts


def _count(value: Any, name: str, errors: list[FieldError]) -> int:
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    if type(value) is float and value.is_integer() and 0 <= value <= MAX_COUNT:
        return int(value)
    errors.append(
        FieldError(name, f"must be an integer from 0 to {MAX_COUNT}, got {_describe(value)}")
    )
    return 0


def _number(value: Any, name: str, errors: list[FieldError]) -> float | None:
    if value is None:
        return None
    if type(value) in (int, float) and math.isfinite(value) and value >= 0:
        return float(value)
    errors.append(FieldError(name, f"must be a number >= 0, got {_describe(value)}"))
    return None


def parse_rollup(record: Any, default_source: str = DEFAULT_SOURCE) -> RollupRecord:
    """Check one rollup record and return it; InvalidRecord names every field at fault."""
    if type(record) is not dict:
        raise InvalidRecord(
            [FieldError("(record)", f"must be a JSON object, got {_describe(record)}")]
        )
    errors: list[FieldError] = []
    source = default_source
    if "source" in record:
        source = _required_string(record, "source", 64, errors)
    minute_ms = _timestamp(record, "minute", errors)
    if minute_ms % 60_000:
        errors.append(
            FieldError("minute", "must be the start of a minute (seconds 00, no fraction)")
        )
    tier = _enum(record, "tier", TIERS, errors)
    model_id = _required_string(record, "model_id", 128, errors)
    cohort = _required_string(record, "cohort", 128, errors)
    dims = [_optional_string(record, name, 64, errors) or "" for name in
            ("region", "device_class", "os_version", "app_version")]  # fmt: skip
    by_outcome = _outcomes(record.get("outcomes"), errors)
    requests = sum(by_outcome.values())
    retries = _count(record.get("retries", 0), "retries", errors)
    if retries > requests:
        errors.append(
            FieldError("retries", f"must be at most the requests ({requests}), got {retries}")
        )
    histogram, lat_sum, lat_max = _latency(record.get("latency"), requests, errors)
    if errors:
        raise InvalidRecord(errors)
    counts = Counts(
        requests=requests,
        errors=by_outcome["error"],
        timeouts=by_outcome["timeout"],
        retries=retries,
        latency_sum_ms=lat_sum,
        latency_max_ms=lat_max,
        histogram=histogram,
    )
    key: SliceKey = (tier, model_id, cohort, dims[0], dims[1], dims[2], dims[3])
    return RollupRecord(source, minute_ms // 1000, key, counts)


def _outcomes(value: Any, errors: list[FieldError]) -> dict[str, int]:
    out = dict.fromkeys(OUTCOMES, 0)
    if type(value) is not dict:
        reason = (
            "required field is missing"
            if value is None
            else f"must be an object, got {_describe(value)}"
        )
        errors.append(FieldError("outcomes", reason))
        return out
    for name, count in value.items():
        if name not in OUTCOMES:
            errors.append(FieldError(f"outcomes.{name}", "unknown outcome (ok, error or timeout)"))
            continue
        out[name] = _count(count, f"outcomes.{name}", errors)
    return out


def _latency(
    value: Any, requests: int, errors: list[FieldError]
) -> tuple[dict[int, int], float, float]:
    """The histogram, sum and max of the `latency` object (sum and max estimated when absent)."""
    if type(value) is not dict:
        reason = (
            "required field is missing"
            if value is None
            else f"must be an object, got {_describe(value)}"
        )
        errors.append(FieldError("latency", reason))
        return {}, 0.0, 0.0
    for name in value.keys() - {"bounds_ms", "counts", "sum_ms", "max_ms"}:
        errors.append(
            FieldError(f"latency.{name}", "unknown field (bounds_ms, counts, sum_ms, max_ms)")
        )
    bounds = _bounds(value.get("bounds_ms"), errors)
    raw_counts = value.get("counts")
    if type(raw_counts) is not list:
        errors.append(
            FieldError(
                "latency.counts", f"must be an array of integers, got {_describe(raw_counts)}"
            )
        )
        return {}, 0.0, 0.0
    counts = [_count(c, f"latency.counts[{i}]", errors) for i, c in enumerate(raw_counts)]
    lat_sum = _number(value.get("sum_ms"), "latency.sum_ms", errors)
    lat_max = _number(value.get("max_ms"), "latency.max_ms", errors)
    if bounds is None:
        return {}, 0.0, 0.0
    if len(counts) != len(bounds) + 1:
        errors.append(
            FieldError(
                "latency.counts",
                f"must have one more entry than bounds_ms ({len(bounds) + 1}), got {len(counts)}",
            )
        )
        return {}, 0.0, 0.0
    if sum(counts) != requests:
        errors.append(
            FieldError(
                "latency.counts",
                f"must add up to the requests in outcomes ({requests}), got {sum(counts)}",
            )
        )
        return {}, 0.0, 0.0
    histogram = map_buckets(bounds, counts, lat_max)
    if lat_max is None:
        lat_max = estimated_max(bounds, counts)
    if lat_sum is None:
        lat_sum = estimated_sum(histogram)
    return histogram, lat_sum, lat_max


def _bounds(value: Any, errors: list[FieldError]) -> list[float] | None:
    name = "latency.bounds_ms"
    if type(value) is not list or not 1 <= len(value) <= MAX_BOUNDS:
        errors.append(
            FieldError(
                name, f"must be an array of 1 to {MAX_BOUNDS} numbers, got {_describe(value)}"
            )
        )
        return None
    bounds: list[float] = []
    for i, bound in enumerate(value):
        if type(bound) not in (int, float) or not math.isfinite(bound) or bound <= 0:
            errors.append(
                FieldError(f"{name}[{i}]", f"must be a number > 0, got {_describe(bound)}")
            )
            return None
        if bounds and bound <= bounds[-1]:
            errors.append(
                FieldError(
                    f"{name}[{i}]", f"must be greater than the bound before it ({bounds[-1]:g})"
                )
            )
            return None
        bounds.append(float(bound))
    return bounds


def _position(latency_ms: float) -> float:
    """Where `latency_ms` is on tierbot's bucket scale: bucket i covers [i - 1, i) for i >= 1."""
    return math.log2(latency_ms) * BUCKETS_PER_DOUBLING


def map_buckets(
    bounds: list[float], counts: list[int], max_ms: float | None = None
) -> dict[int, int]:
    """Spread a histogram with explicit upper bounds (ms) onto tierbot's log-scale buckets.

    Each sender bucket (lower, upper] is taken as log-uniform and its count split among the
    tierbot buckets it overlaps in proportion to the overlap (in log scale), rounding by largest
    remainder so counts stay whole and add up exactly. Bounds that coincide with tierbot's
    (2**(i/4) ms) map one to one. The first bucket (0, b0] counts from 1 ms (all in bucket 0
    when b0 <= 1 ms); the overflow bucket (> last bound) spreads up to `max_ms` when it is
    given and larger, else it all counts at the last bound.
    """
    out: dict[int, int] = {}
    edges = [0.0, *bounds, max(max_ms or 0.0, bounds[-1])]
    for i, count in enumerate(counts):
        if count:
            _spread(edges[i], edges[i + 1], count, out, overflow=i == len(bounds))
    return dict(sorted(out.items()))


def _spread(lower: float, upper: float, count: int, out: dict[int, int], *, overflow: bool) -> None:
    if upper <= 1.0:
        out[0] = out.get(0, 0) + count
        return
    lower = max(lower, 1.0)
    a, b = _position(lower), _position(upper)
    if b - a < 1e-9:
        index = bucket_index(upper if overflow else lower)
        out[index] = out.get(index, 0) + count
        return
    shares: list[tuple[int, float]] = []
    k = math.floor(a + 1e-9)
    while k < b - 1e-9:
        overlap = min(b, k + 1) - max(a, k)
        shares.append((min(BUCKET_COUNT - 1, k + 1), count * overlap / (b - a)))
        k += 1
    whole = [(index, math.floor(share), share - math.floor(share)) for index, share in shares]
    left = count - sum(w for _, w, _ in whole)
    order = sorted(range(len(whole)), key=lambda j: -whole[j][2])
    for j, (index, w, _) in enumerate(whole):
        extra = 1 if j in order[:left] else 0
        if w + extra:
            out[index] = out.get(index, 0) + w + extra


def estimated_max(bounds: list[float], counts: list[int]) -> float:
    """Upper bound of the highest non-empty bucket (the last bound for the overflow bucket)."""
    for i in range(len(counts) - 1, -1, -1):
        if counts[i]:
            return bounds[min(i, len(bounds) - 1)]
    return 0.0


def estimated_sum(histogram: dict[int, int]) -> float:
    """Sum of latencies taking each bucket at its geometric middle."""
    total = 0.0
    for index, count in histogram.items():
        lower, upper = bucket_bounds(index)
        middle = (
            upper / 2 if index == 0 else lower if math.isinf(upper) else math.sqrt(lower * upper)
        )
        total += middle * count
    return total
