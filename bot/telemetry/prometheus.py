"""Prometheus pull source: router counters and a latency histogram, read into minute rollups.

For teams whose router already exports e.g. `router_requests_total{tier,cohort,model_id,region,
outcome}` and `router_latency_seconds_bucket`. Each poll asks the HTTP API (`/api/v1/
query_range`, step one minute) for `sum by (<slice labels>[, outcome | le]) (increase(m[1m]))`
evaluated at each minute's end, so the value at T is what the counters gained in the minute
[T - 60 s, T), and stores one rollup per minute x slice as the pre-aggregated ingest does,
under the source `prometheus:<name>`. That makes re-reading a minute harmless: the new counts
*replace* the old, so every poll reads a few minutes before its cursor again for late scrapes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from bot.db import make_session_factory, transaction
from bot.settings import Settings
from bot.store import Store
from bot.telemetry.contract import rfc3339_to_epoch_ms
from bot.telemetry.models import PullCursor
from bot.telemetry.prometheus_settings import PrometheusSource
from bot.telemetry.pull import PullError, load_cursor
from bot.telemetry.rollup_contract import RollupRecord, estimated_max, estimated_sum, map_buckets
from bot.telemetry.rollup_ingest import store_rollups
from bot.telemetry.rollups import Counts, SliceKey
from bot.timeutil import from_epoch_s, to_rfc3339, utcnow

DIMENSIONS = ("tier", "model_id", "cohort", "region", "device_class", "os_version", "app_version")
log = logging.getLogger(__name__)
MAX_POINTS = 600  # minutes per query: well under Prometheus's 11,000 points per series


class PrometheusError(PullError):
    """A query failed; the cursor stays where it was so the next poll reads the minutes again."""


@dataclass
class PrometheusResult:
    source: str
    start: datetime | None = None
    end: datetime | None = None
    stored: int = 0
    unchanged: int = 0
    skipped_series: int = 0
    queries: int = 0
    minutes: list[int] = field(default_factory=list)


@dataclass
class _Minute:
    outcomes: dict[str, float] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict)  # le (ms) -> cumulative count
    latency_sum_ms: float | None = None
    retries: float = 0.0


def cursor_name(source: PrometheusSource) -> str:
    return f"prometheus:{source.name}"


class _Api:
    def __init__(self, source: PrometheusSource, client: httpx.Client) -> None:
        self.source, self.client, self.queries = source, client, 0
        self.headers = {"Accept": "application/json"}
        if source.token is not None:
            self.headers["Authorization"] = f"Bearer {source.token.get_secret_value()}"

    def increase(self, metric: str, by: list[str], first: int, last: int) -> list[dict[str, Any]]:
        """`sum by (by) (increase(metric[1m]))` at the end of each minute from first to last."""
        selector = f"{{{self.source.selector}}}" if self.source.selector else ""
        query = f"sum by ({', '.join(by)}) (increase({metric}{selector}[1m]))"
        params: dict[str, str | int] = {
            "query": query, "start": first + 60, "end": last + 60, "step": 60,
        }  # fmt: skip
        url = f"{self.source.url}/api/v1/query_range"
        self.queries += 1
        try:
            response = self.client.get(url, params=params, headers=self.headers)
        except httpx.HTTPError as exc:
            raise PrometheusError(f"{self.source.name}: request failed: {exc!r}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or body.get("status") != "success":
            reason = body.get("error") or response.text[:200]
            raise PrometheusError(
                f"{self.source.name}: HTTP {response.status_code} for {query!r}: {reason}"
            )
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


def _points(series: dict[str, Any]) -> Iterator[tuple[int, float]]:
    """(minute start, value) of a range-query series, skipping NaN and infinities."""
    for stamp, text in series.get("values", []):
        value = float(text)
        if math.isfinite(value):
            yield int(float(stamp)) - 60, max(0.0, value)


def _outcome(source: PrometheusSource, value: str) -> str:
    if value in ("ok", "error", "timeout"):
        return value
    return source.outcome_values.get(value, "error")


def read_minutes(
    source: PrometheusSource, api: _Api, first: int, last: int, result: PrometheusResult
) -> dict[tuple[int, SliceKey], _Minute]:
    """What Prometheus has for the minutes first..last (epoch s), per minute and slice."""
    labels = [source.label(d) for d in DIMENSIONS]
    minutes: dict[tuple[int, SliceKey], _Minute] = {}

    def each(metric: str, extra: list[str]) -> Iterator[tuple[_Minute, dict[str, str], float]]:
        for series in api.increase(metric, labels + extra, first, last):
            found = series.get("metric", {})
            key = tuple(found.get(label, "") for label in labels)
            if key[0] not in ("edge", "cloud") or not key[1] or not key[2]:
                result.skipped_series += 1
                continue
            for minute, value in _points(series):
                yield minutes.setdefault((minute, key), _Minute()), found, value

    outcome_label = source.label("outcome")
    for point, found, value in each(source.requests_metric, [outcome_label]):
        name = _outcome(source, found.get(outcome_label, ""))
        point.outcomes[name] = point.outcomes.get(name, 0.0) + value
    if source.latency_metric:
        for point, found, value in each(f"{source.latency_metric}_bucket", ["le"]):
            le = float(found.get("le", "+Inf")) * source.latency_unit_ms
            point.buckets[le] = point.buckets.get(le, 0.0) + value
        for point, _, value in each(f"{source.latency_metric}_sum", []):
            point.latency_sum_ms = (point.latency_sum_ms or 0.0) + value * source.latency_unit_ms
    if source.retries_metric:
        for point, _, value in each(source.retries_metric, []):
            point.retries += value
    return minutes


def _whole(values: list[float], total: int) -> list[int]:
    """Round `values` to integers adding up to `total`, scaled and by largest remainder."""
    have = sum(values)
    if have <= 0 or total <= 0:
        return [0] * len(values)
    scaled = [v * total / have for v in values]
    out = [math.floor(v) for v in scaled]
    order = sorted(range(len(values)), key=lambda i: out[i] - scaled[i])
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def to_counts(point: _Minute) -> Counts | None:
    """One minute's counts, in whole numbers; None when nothing happened in it."""
    by_outcome = {name: round(value) for name, value in point.outcomes.items()}
    requests = sum(by_outcome.values())
    if requests <= 0:
        return None
    histogram: dict[int, int] = {}
    latency_max = 0.0
    finite = sorted(le for le in point.buckets if math.isfinite(le) and le > 0)
    if finite:
        cumulative = [point.buckets[le] for le in finite] + [
            point.buckets.get(math.inf, max(point.buckets.values()))
        ]
        per_bucket = [max(0.0, b - a) for a, b in zip([0.0, *cumulative], cumulative, strict=False)]
        counts = _whole(per_bucket, requests)
        if sum(counts):
            histogram = map_buckets(finite, counts)
            latency_max = estimated_max(finite, counts)
    latency_sum = point.latency_sum_ms
    if latency_sum is None:
        latency_sum = estimated_sum(histogram)
    return Counts(
        requests=requests,
        errors=by_outcome.get("error", 0),
        timeouts=by_outcome.get("timeout", 0),
        retries=min(requests, round(point.retries)),
        latency_sum_ms=latency_sum,
        latency_max_ms=latency_max,
        histogram=histogram,
    )


def _save_cursor(
    engine: Engine, name: str, now: datetime, *, cursor: str | None, error: str | None, added: int
) -> None:
    with transaction(make_session_factory(engine)) as session:
        row = session.get(PullCursor, name)
        if row is None:
            row = PullCursor(source=name, cursor=None, records_total=0)
            session.add(row)
        if cursor is not None:
            row.cursor = cursor
        row.last_polled_at = now
        row.last_error = error
        row.records_total = (row.records_total or 0) + added


def poll_prometheus(
    engine: Engine, source: PrometheusSource, *, now: datetime, client: httpx.Client | None = None
) -> PrometheusResult:
    """Read the minutes since the cursor (less the overlap) up to `now - lag` into rollups."""
    name = cursor_name(source)
    result = PrometheusResult(source=source.name)
    end = int((now - timedelta(seconds=source.lag_seconds)).timestamp()) // 60 * 60
    cursor = load_cursor(engine, name)
    if cursor is None:
        start = end - source.backfill_minutes * 60
    else:
        start = rfc3339_to_epoch_ms(cursor) // 1000 - source.overlap_minutes * 60
    end = min(end, start + source.max_minutes_per_poll * 60)
    if end <= start:
        return result
    result.start, result.end = from_epoch_s(start), from_epoch_s(end)
    own = client is None
    http = client or httpx.Client(timeout=source.timeout_seconds, follow_redirects=False)
    api = _Api(source, http)
    try:
        for first in range(start, end, MAX_POINTS * 60):
            last = min(end, first + MAX_POINTS * 60) - 60
            minutes = read_minutes(source, api, first, last, result)
            records = [
                RollupRecord(name, minute, key, counts)
                for (minute, key), point in sorted(minutes.items())
                if (counts := to_counts(point)) is not None
            ]
            stored, unchanged = store_rollups(engine, records)
            result.stored += stored
            result.unchanged += unchanged
            result.minutes.extend(sorted({r.minute for r in records}))
            next_cursor = to_rfc3339(from_epoch_s(last + 60))
            _save_cursor(engine, name, now, cursor=next_cursor, error=None, added=stored)
    except PrometheusError as exc:
        _save_cursor(engine, name, now, cursor=None, error=str(exc), added=0)
        raise
    finally:
        result.queries = api.queries
        if own:
            http.close()
    return result


def _poll_job(store: Store, source: PrometheusSource) -> None:
    try:
        result = poll_prometheus(store.engine, source, now=utcnow())
    except PullError as exc:
        log.warning("prometheus source failed: %s", exc)
        return
    log.info(
        "prometheus %s: %d minute x slice stored, %d unchanged, %d series skipped",
        source.name, result.stored, result.unchanged, result.skipped_series,
    )  # fmt: skip


def add_prometheus_jobs(scheduler: BaseScheduler, store: Store, settings: Settings) -> None:
    """Poll each Prometheus source; every replica does (a re-read minute replaces itself)."""
    for source in settings.prometheus_sources:
        scheduler.add_job(
            _poll_job,
            "interval",
            seconds=source.interval_seconds,
            jitter=min(5.0, source.interval_seconds / 10),
            args=[store, source],
            id=f"prometheus:{source.name}",
            misfire_grace_time=max(1, int(source.interval_seconds)),
            next_run_time=utcnow(),
        )
