"""Pre-aggregated rollups: same diagnosis as events, replace on resend, errors, HTTP, CLI."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select, text

from bot.app import create_app
from bot.diagnosis.service import which_tier
from bot.sandbox.server import serve_in_thread
from bot.sandbox.traffic import SCENARIOS
from bot.settings import Settings
from bot.store import Store
from bot.telemetry.contract import InvalidRecord, rfc3339_to_epoch_ms
from bot.telemetry.histogram import BUCKET_COUNT, bucket_bounds, bucket_index, quantile
from bot.telemetry.ingest import ingest_cohort_assignments, ingest_events, records_from_values
from bot.telemetry.models import DeadLetter, RollupHour, RollupMinute
from bot.telemetry.rollup_contract import map_buckets, parse_rollup
from bot.telemetry.rollup_ingest import ingest_rollups, prune_minute_rollups
from bot.telemetry.rollups import parse_histogram
from tests.conftest import CONTRACTS
from tests.factories import ndjson

SCHEMA = Draft202012Validator(
    json.loads((CONTRACTS / "router-rollup.schema.json").read_text()),
    format_checker=FormatChecker(),
)
TIER_BOUNDS = [bucket_bounds(i)[1] for i in range(BUCKET_COUNT - 1)]  # tierbot's own bounds
AUTH = {"Authorization": "Bearer test-token"}
END = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def rollup(minute: str = "2026-11-27T14:05:00Z", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "minute": minute,
        "tier": "edge",
        "model_id": "router-3.2-int8",
        "cohort": "eu-android-stable",
        "region": "eu-west-1",
        "outcomes": {"ok": 90, "error": 8, "timeout": 2},
        "latency": {"bounds_ms": [50, 100, 250], "counts": [60, 30, 8, 2], "sum_ms": 6000.0},
    }
    record.update(fields)
    return record


def rollups_from_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a collector would send for these events, with tierbot's own bucket bounds."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    dims = ("tier", "model_id", "cohort", "region", "device_class", "os_version", "app_version")
    for e in events:
        minute = rfc3339_to_epoch_ms(e["ts"]) // 60_000 * 60
        key = (minute, *(e.get(d) or None for d in dims))
        groups.setdefault(key, []).append(e)
    out = []
    for (minute, *values), members in groups.items():
        counts = [0] * BUCKET_COUNT
        for e in members:
            counts[bucket_index(e["latency_ms"])] += 1
        outcomes = {o: sum(1 for e in members if e["outcome"] == o) for o in ("ok", "error")}
        outcomes["timeout"] = len(members) - outcomes["ok"] - outcomes["error"]
        stamp = datetime.fromtimestamp(minute, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {"minute": stamp, **dict(zip(dims, values, strict=True)), "outcomes": outcomes}
        record["retries"] = sum(1 for e in members if e.get("attempt", 0) > 0)
        record["latency"] = {
            "bounds_ms": TIER_BOUNDS,
            "counts": counts,
            "sum_ms": sum(e["latency_ms"] for e in members),
            "max_ms": max(e["latency_ms"] for e in members),
        }
        out.append(record)
    return out


def _report(store: Store) -> dict[str, Any]:
    with store.sessions() as session:
        report = which_tier(
            session=session, budgets=Settings().budgets, end=END, baseline=timedelta(hours=3)
        )
    return _rounded(report.to_dict())


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits: sums added in another order differ in the last bits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _records(values: Iterable[Any]) -> Any:
    return records_from_values(values)


def test_the_same_traffic_as_events_or_as_rollups_gives_the_same_report(store: Store) -> None:
    sim = SCENARIOS["int8_oom_lowram"](
        seed=3, end=END, rate_per_minute=60.0, baseline=timedelta(hours=3)
    )
    events = list(sim.events())
    ingest_cohort_assignments(store.engine, _records(sim.assignments()), source="sim")
    ingest_events(store.engine, _records(events), source="sim", parallel=False)
    from_events = _report(store)
    assert from_events["failing"] == ["edge"] or "edge" in json.dumps(from_events["failing"])
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM rollup_minute"))
        conn.execute(text("DELETE FROM rollup_hour"))
    summary = ingest_rollups(store.engine, _records(rollups_from_events(events)), source="test")
    assert summary.rejected == 0 and summary.stored > 0
    assert _report(store) == from_events


def _minute(store: Store, table: Any = RollupMinute) -> list[tuple[int, int, int, int, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                table.bucket_start, table.requests, table.errors, table.timeouts, table.histogram
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_resend_replaces_and_another_source_adds(store: Store) -> None:
    first = ingest_rollups(store.engine, _records([rollup()]), source="t", collector="c1")
    assert (first.stored, first.duplicates) == (1, 0)
    again = ingest_rollups(store.engine, _records([rollup()]), source="t", collector="c1")
    assert (again.stored, again.duplicates) == (0, 1)
    fixed = rollup(
        outcomes={"ok": 40},
        latency={"bounds_ms": [50], "counts": [40, 0], "sum_ms": 800.0, "max_ms": 30.0},
    )
    ingest_rollups(store.engine, _records([fixed]), source="t", collector="c1")
    for table in (RollupMinute, RollupHour):
        [(_, requests, errors, timeouts, histogram)] = _minute(store, table)
        assert (requests, errors, timeouts) == (40, 0, 0)
        assert sum(parse_histogram(histogram).values()) == 40
    with store.engine.connect() as conn:
        top = conn.execute(select(RollupHour.latency_max_ms)).scalar_one()
    assert top == 30.0  # the old maximum (an estimate at 250 ms) left with the old counts
    other = rollup(source="c2", outcomes={"ok": 5, "error": 5})
    other["latency"] = {"bounds_ms": [50], "counts": [10, 0]}
    ingest_rollups(store.engine, _records([other]), source="t", collector="c1")
    [(_, requests, errors, _, _)] = _minute(store)
    assert (requests, errors) == (50, 5)


def test_a_resend_keeps_what_events_added_to_the_same_minute(store: Store) -> None:
    event = {
        "request_id": "r-1",
        "ts": "2026-11-27T14:05:10Z",
        "tier": "edge",
        "model_id": "router-3.2-int8",
        "cohort": "eu-android-stable",
        "outcome": "error",
        "latency_ms": 900.0,
        "region": "eu-west-1",
    }
    ingest_events(store.engine, _records([event]), source="t", parallel=False)
    ingest_rollups(store.engine, _records([rollup()]), source="t")
    ingest_rollups(
        store.engine,
        _records([rollup(outcomes={"ok": 100}, latency={"bounds_ms": [50], "counts": [100, 0]})]),
        source="t",
    )
    for table in (RollupMinute, RollupHour):
        [(_, requests, errors, _, histogram)] = _minute(store, table)
        assert (requests, errors) == (101, 1)
        assert parse_histogram(histogram)[bucket_index(900.0)] == 1
    with store.engine.connect() as conn:
        assert conn.execute(select(RollupMinute.latency_max_ms)).scalar_one() == 900.0


def test_bad_records_are_named_by_line_and_field_and_the_good_kept(store: Store) -> None:
    lines = [
        rollup(),
        rollup(minute="2026-11-27T14:05:30Z"),
        rollup(tier="fog", latency={"bounds_ms": [100, 50], "counts": [1, 2, 3]}),
        rollup(minute="2026-11-27T14:06:00Z", outcomes={"ok": 3, "oops": 1}),
        rollup(minute="2026-11-27T14:07:00Z", latency={"bounds_ms": [50], "counts": [1, 2]}),
    ]
    body = ndjson(lines) + b"{not json\n"
    from tests.factories import records_of

    summary = ingest_rollups(store.engine, records_of(body), source="file:x")
    assert (summary.stored, summary.rejected) == (1, 5)
    said = {(e.line, e.field) for e in summary.errors}
    assert {
        (2, "minute"),
        (3, "tier"),
        (3, "latency.bounds_ms[1]"),
        (4, "outcomes.oops"),
        (5, "latency.counts"),
        (6, "(record)"),
    } <= said
    with store.engine.connect() as conn:
        letters = conn.execute(select(DeadLetter.kind, DeadLetter.line)).all()
    assert sorted(line for _, line in letters) == [2, 3, 4, 5, 6]
    assert {kind for kind, _ in letters} == {"router_rollup"}


def test_bounds_that_match_tierbots_map_one_to_one_and_others_spread() -> None:
    counts = [0] * BUCKET_COUNT
    counts[0], counts[20], counts[BUCKET_COUNT - 1] = 3, 7, 2
    assert map_buckets(TIER_BOUNDS, counts) == {0: 3, 20: 7, BUCKET_COUNT - 1: 2}
    low, high = 2**6.5, 2**8.5  # on tierbot's grid: 8 buckets between them
    spread = map_buckets([low, high], [10, 80, 10], max_ms=1600.0)
    assert sum(spread.values()) == 100
    assert min(spread) == bucket_index(1.0) and max(spread) <= bucket_index(1600.0)
    assert [spread[bucket_index(low * 2 ** (k / 4) * 1.01)] for k in range(8)] == [10] * 8
    median = quantile(spread, 0.5)
    assert median is not None and low < median < high
    off_grid = map_buckets([100.0, 400.0], [0, 7, 0])  # 7 over 8 buckets and two part-buckets
    assert sum(off_grid.values()) == 7 and set(off_grid.values()) == {1}


def test_the_schema_agrees_with_the_parser_on_examples() -> None:
    good = [
        rollup(),
        rollup(source="c", retries=3, os_version=None),
        rollup(latency={"bounds_ms": [1.5], "counts": [60, 40.0]}),
    ]
    bad = [
        rollup(tier="fog"),
        rollup(outcomes={"ok": -1}),
        {"minute": "x"},
        rollup(latency={"bounds_ms": [], "counts": [100]}),
        rollup(source=""),
        rollup(outcomes={"ok": 1.5}),
        rollup(minute="2026-11-27T14:05:00"),
    ]
    for record in good:
        parse_rollup(record)
        assert SCHEMA.is_valid(record), list(SCHEMA.iter_errors(record))
    for record in bad:
        with pytest.raises(InvalidRecord):
            parse_rollup(record)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 300)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "minute": st.sampled_from(["2026-11-27T14:05:00Z", "2026-11-27T14:05:01Z", "x", 5]),
        "tier": st.sampled_from(["edge", "cloud", "fog"]),
        "outcomes": st.dictionaries(
            st.sampled_from(["ok", "error", "timeout", "x"]),
            st.integers(-1, 3) | st.floats(0, 3),
            max_size=3,
        ),
        "latency": st.fixed_dictionaries(
            {
                "bounds_ms": st.lists(st.floats(-1, 500), max_size=3),
                "counts": st.lists(st.integers(-1, 3), max_size=4),
            }
        ),
        "retries": st.integers(-1, 3),
        "source": st.text(max_size=3),
        "region": _json,
    },
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(_fields.map(lambda f: rollup() | f) | _json)
def test_any_input_is_a_record_or_named_errors_and_accepted_ones_fit_the_schema(value: Any) -> None:
    try:
        parse_rollup(value)
    except InvalidRecord as exc:
        assert exc.errors and all(e.field and e.reason for e in exc.errors)
        return
    assert SCHEMA.is_valid(value), list(SCHEMA.iter_errors(value))


def test_prune_drops_old_minutes_and_keeps_hours(store: Store) -> None:
    ingest_rollups(
        store.engine, _records([rollup(), rollup(minute="2026-11-28T14:05:00Z")]), source="t"
    )
    removed = prune_minute_rollups(
        store.engine, older_than=datetime(2026, 11, 28, 0, 30, tzinfo=UTC)
    )
    assert removed == 1
    assert len(_minute(store)) == 1 and len(_minute(store, RollupHour)) == 2


@pytest.fixture
def base_url(settings: Settings, store: Store) -> Iterator[str]:
    with serve_in_thread(create_app(settings, store, run_scheduler=False)) as url:
        yield url


def test_http_push_with_auth_gzip_limits_and_source(base_url: str, store: Store) -> None:
    url = f"{base_url}/api/v1/router-rollups"
    body = ndjson([rollup(), rollup(tier="fog")])
    assert httpx.post(url, content=body).status_code == 401
    response = httpx.post(
        f"{url}?source=eu-1",
        content=gzip.compress(body),
        headers=AUTH | {"Content-Encoding": "gzip"},
    )
    assert response.status_code == 422
    answer = response.json()
    assert (answer["kind"], answer["stored"], answer["rejected"]) == ("router_rollups", 1, 1)
    assert answer["errors"][0]["line"] == 2 and answer["errors"][0]["field"] == "tier"
    array = orjson.dumps(
        [rollup(outcomes={"ok": 100}, latency={"bounds_ms": [10], "counts": [100, 0]})]
    )
    resent = httpx.post(f"{url}?source=eu-1", content=array, headers=AUTH)
    assert resent.status_code == 200 and resent.json()["stored"] == 1
    [(_, requests, errors, _, _)] = _minute(store)
    assert (requests, errors) == (100, 0)
    huge = httpx.post(url, content=b" " * (70 * 1024 * 1024), headers=AUTH)
    assert huge.status_code == 413


def test_cli_import_rollups(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "rollups.ndjson"
    path.write_bytes(ndjson([rollup(), rollup(model_id="")]))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "import", "rollups", str(path), "--json", "--source", "c9"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TIERBOT_DATABASE_URL": database_url},
    )
    assert result.returncode == 2, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["stored"], summary["rejected"]) == (1, 1)
    assert summary["errors"][0]["field"] == "model_id" and summary["errors"][0]["line"] == 2
