"""The Prometheus pull source against a real Prometheus server on loopback.

The data is written as OpenMetrics, turned into TSDB blocks by `promtool tsdb
create-blocks-from openmetrics`, and served by `prometheus` from a temp directory. CI installs
both (.ci/system-tools.sh); elsewhere the tests are skipped with a message when they are missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.scheduling import build_scheduler
from bot.settings import Settings
from bot.store import Store
from bot.telemetry.models import PullCursor, RollupHour, RollupMinute, Slice
from bot.telemetry.prometheus import PrometheusError, poll_prometheus
from bot.telemetry.prometheus_settings import PrometheusSource
from bot.telemetry.rollup_contract import map_buckets
from bot.telemetry.rollups import parse_histogram

MINUTES = 30
BOUNDS_S = [0.05, 0.1, 0.25, 0.5, 1.0]
# (tier, model, cohort, region): requests per minute by outcome label value, per instance
SLICES = {
    ("edge", "router-3.2-int8", "eu-android", "eu-west-1"): {"success": 40, "error": 8},
    ("cloud", "assistant-large", "eu-android", "eu-west-1"): {"success": 20, "timeout": 4},
}
INSTANCES = ("router-a:9100", "router-b:9100")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Loaded:
    url: str
    start: int  # first minute with data, epoch s
    expected: dict[tuple[int, str], tuple[int, int, int, list[int], float]]


def _buckets(minute: int, requests: int) -> list[int]:
    """Per-bucket (not cumulative) latency counts of a minute, multiples of 4, adding up."""
    shares = [4 * ((requests // 4 + minute + i) % 5) for i in range(len(BOUNDS_S))]
    while sum(shares) > requests:
        i = max(range(len(shares)), key=shares.__getitem__)
        shares[i] -= 4
    return [*shares, requests - sum(shares)]


def _openmetrics(
    start: int,
) -> tuple[str, dict[tuple[int, str], tuple[int, int, int, list[int], float]]]:
    """Counters that gain each minute's counts in four equal 15 s steps, per instance."""
    lines = ["# TYPE router_requests counter"]
    hist = ["# TYPE router_latency_seconds histogram"]
    expected: dict[tuple[int, str], tuple[int, int, int, list[int], float]] = {}
    steps = range(MINUTES * 4 + 1)
    for (tier, model, cohort, region), outcomes in SLICES.items():
        base = f'tier="{tier}",model="{model}",cohort="{cohort}",region="{region}"'
        for instance in INSTANCES:
            labels = f'{base},instance="{instance}"'
            for outcome, per_minute in outcomes.items():
                value = 1000
                for j in steps:
                    if j:
                        value += per_minute // 4
                    series = f'router_requests_total{{{labels},outcome="{outcome}"}}'
                    lines.append(f"{series} {value} {start + 15 * j}")
            requests = sum(outcomes.values())
            cumulative = [0] * (len(BOUNDS_S) + 1)
            total_sum = 0.0
            for j in steps:
                m = (j - 1) // 4
                if j:
                    per_bucket = _buckets(m, requests)
                    for i in range(len(cumulative)):
                        cumulative[i] += sum(per_bucket[: i + 1]) // 4
                    total_sum += requests * 0.1 / 4
                stamp = start + 15 * j
                for i, le in enumerate([*map(str, BOUNDS_S), "+Inf"]):
                    hist.append(
                        f'router_latency_seconds_bucket{{{labels},le="{le}"}} '
                        f"{cumulative[i]} {stamp}"
                    )
                hist.append(f"router_latency_seconds_sum{{{labels}}} {total_sum} {stamp}")
                hist.append(f"router_latency_seconds_count{{{labels}}} {cumulative[-1]} {stamp}")
        for m in range(MINUTES):
            n = sum(outcomes.values()) * len(INSTANCES)
            errors = outcomes.get("error", 0) * len(INSTANCES)
            timeouts = outcomes.get("timeout", 0) * len(INSTANCES)
            counts = [c * len(INSTANCES) for c in _buckets(m, sum(outcomes.values()))]
            expected[(start + 60 * m, tier)] = (n, errors, timeouts, counts, n * 100.0)
    return "\n".join(lines + hist) + "\n# EOF\n", expected


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    missing = [tool for tool in ("prometheus", "promtool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed: run .ci/system-tools.sh (CI always does); "
            "apt-get install prometheus"
        )
    tmp = tmp_path_factory.mktemp("prometheus")
    start = (int(time.time()) // 3600 - 5) * 3600  # older than 2 h: loaded as blocks
    text, expected = _openmetrics(start)
    (tmp / "data.om").write_text(text)
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(tmp / "data.om"),
            str(tmp / "tsdb"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (tmp / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = _free_port()
    log = (tmp / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"prometheus did not start: {(tmp / 'prometheus.log').read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield Loaded(url, start, expected)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _source(loaded: Loaded, **fields: object) -> PrometheusSource:
    values: dict[str, object] = {
        "name": "prom",
        "url": loaded.url,
        "labels": {"model_id": "model"},
        "outcome_values": {"success": "ok"},
        "backfill_minutes": MINUTES + 10,
        "lag_seconds": 120,
    }
    return PrometheusSource.model_validate(values | fields)


def _now(loaded: Loaded) -> datetime:
    """A poll time whose readable span (now - lag, back by the backfill) covers all the data."""
    return datetime.fromtimestamp(loaded.start + MINUTES * 60 + 120 + 5 * 60, UTC)


def test_a_poll_fills_the_minute_rollups_with_what_prometheus_counted(
    prometheus: Loaded, store: Store
) -> None:
    result = poll_prometheus(store.engine, _source(prometheus), now=_now(prometheus))
    assert result.stored == MINUTES * len(SLICES) and result.skipped_series == 0
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                RollupMinute.bucket_start,
                Slice.tier,
                Slice.model_id,
                Slice.region,
                RollupMinute.requests,
                RollupMinute.errors,
                RollupMinute.timeouts,
                RollupMinute.histogram,
                RollupMinute.latency_sum_ms,
            ).join(Slice, Slice.id == RollupMinute.slice_id)
        ).all()
        hours = conn.execute(select(RollupHour.requests)).scalars().all()
    assert len(rows) == MINUTES * len(SLICES)
    bounds_ms = [b * 1000 for b in BOUNDS_S]
    for minute, tier, model, region, requests, errors, timeouts, histogram, lat_sum in rows:
        n, e, t, counts, expected_sum = prometheus.expected[(minute, tier)]
        assert (requests, errors, timeouts) == (n, e, t), (minute, tier)
        assert model in ("router-3.2-int8", "assistant-large") and region == "eu-west-1"
        assert parse_histogram(histogram) == map_buckets(bounds_ms, counts)
        assert lat_sum == pytest.approx(expected_sum, rel=1e-6)
    assert sum(hours) == sum(v[0] for v in prometheus.expected.values())


def test_polls_resume_at_the_cursor_and_a_reread_replaces(prometheus: Loaded, store: Store) -> None:
    source = _source(prometheus, backfill_minutes=MINUTES // 2 + 7, overlap_minutes=3)
    now = _now(prometheus) - timedelta(minutes=MINUTES // 2 + 5)
    first = poll_prometheus(store.engine, source, now=now)
    assert first.end is not None
    with store.engine.connect() as conn:
        cursor = conn.execute(
            select(PullCursor.cursor).where(PullCursor.source == "prometheus:prom")
        ).scalar_one()
    assert cursor is not None and cursor.startswith(first.end.strftime("%Y-%m-%dT%H:%M"))
    second = poll_prometheus(store.engine, source, now=_now(prometheus))
    assert second.start == first.end - timedelta(minutes=3)
    assert second.unchanged == 3 * len(SLICES)  # the overlap, read again: same counts
    with store.engine.connect() as conn:
        total = conn.execute(select(RollupMinute.requests)).scalars().all()
    assert sum(total) == sum(v[0] for v in prometheus.expected.values())
    again = poll_prometheus(store.engine, source, now=_now(prometheus))
    assert again.stored == 0


def test_a_failed_query_keeps_the_cursor_and_says_why(prometheus: Loaded, store: Store) -> None:
    source = _source(prometheus, selector='job=~"("')
    with pytest.raises(PrometheusError, match="HTTP 400"):
        poll_prometheus(store.engine, source, now=_now(prometheus))
    with store.engine.connect() as conn:
        cursor, error = conn.execute(
            select(PullCursor.cursor, PullCursor.last_error).where(
                PullCursor.source == "prometheus:prom"
            )
        ).one()
    assert cursor is None and error and "HTTP 400" in error


def test_the_scheduler_polls_each_prometheus_source(settings: Settings, store: Store) -> None:
    configured = settings.model_copy(
        update={"prometheus_sources": [PrometheusSource(name="p1", url="http://127.0.0.1:1")]}
    )
    scheduler = build_scheduler(store, configured)
    assert {"prometheus:p1", "minute-rollup-retention"} <= {job.id for job in scheduler.get_jobs()}


def test_settings_refuse_unknown_label_roles() -> None:
    with pytest.raises(ValueError, match="unknown label roles"):
        PrometheusSource(name="p", url="http://x", labels={"colour": "c"})
    assert (
        Settings(prometheus_sources=[{"name": "p", "url": "http://x/"}]).prometheus_sources[0].url
        == "http://x"
    )
