"""Ingest: idempotent, every rejection reported by line and field, good records always kept."""

from __future__ import annotations

import random

import orjson
from sqlalchemy import func, select

from bot.rollouts.models import CohortAssignment, ModelBuild
from bot.store import Store
from bot.telemetry.histogram import merged, quantile
from bot.telemetry.ingest import ingest_cohort_assignments, ingest_events
from bot.telemetry.models import DeadLetter, RollupHour, RollupMinute, RouterEvent, Slice
from bot.telemetry.rollups import parse_histogram
from tests.factories import assignment, event, ndjson, records_of


def _count(store: Store, model: type) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_same_events_twice_store_nothing_new(store: Store) -> None:
    data = ndjson(event(n) for n in range(2500))
    first = ingest_events(store.engine, records_of(data), source="t", batch_size=1000)
    assert (first.stored, first.duplicates, first.rejected) == (2500, 0, 0)
    with store.sessions() as session:
        before = session.execute(select(RollupMinute.bucket_start, RollupMinute.requests)).all()
    second = ingest_events(store.engine, records_of(data), source="t", batch_size=700)
    assert (second.stored, second.duplicates, second.rejected) == (0, 2500, 0)
    assert _count(store, RouterEvent) == 2500
    with store.sessions() as session:
        after = session.execute(select(RollupMinute.bucket_start, RollupMinute.requests)).all()
    assert sorted(after) == sorted(before)


def test_a_partly_new_batch_counts_only_the_new_events(store: Store) -> None:
    ingest_events(store.engine, records_of(ndjson(event(n) for n in range(0, 100, 2))), source="t")
    summary = ingest_events(
        store.engine, records_of(ndjson(event(n) for n in range(100))), source="t"
    )
    assert (summary.stored, summary.duplicates) == (50, 50)
    with store.sessions() as session:
        assert session.scalar(select(func.sum(RollupMinute.requests))) == 100
        assert session.scalar(select(func.sum(RollupHour.requests))) == 100


def test_duplicates_inside_one_file_count_once(store: Store) -> None:
    data = ndjson([event(1), event(1, outcome="error"), event(1, attempt=1, tier="cloud")])
    summary = ingest_events(store.engine, records_of(data), source="t")
    assert (summary.stored, summary.duplicates) == (2, 1)


def test_bad_lines_are_reported_by_line_and_field_and_kept(store: Store) -> None:
    lines = [
        orjson.dumps(event(1)),
        b'{"request_id": "r-2", "ts": ',  # truncated JSON
        orjson.dumps(event(3, ts="2026-11-27T14:00:03")),  # no offset
        b"",
        orjson.dumps(event(5, tier="fog", latency_ms=-3)),
        orjson.dumps(event(6)),
        b"[1, 2]",
    ]
    summary = ingest_events(store.engine, records_of(b"\n".join(lines) + b"\n"), source="file:x")
    assert (summary.stored, summary.rejected) == (2, 4)
    reported = {(e.line, e.field) for e in summary.errors}
    assert reported == {(2, "(record)"), (3, "ts"), (5, "tier"), (5, "latency_ms"), (7, "(record)")}
    assert "no UTC offset" in next(e.reason for e in summary.errors if e.field == "ts")
    with store.sessions() as session:
        letters = session.scalars(select(DeadLetter).order_by(DeadLetter.line)).all()
        assert [d.line for d in letters] == [2, 3, 5, 7]
        assert letters[1].raw == orjson.dumps(event(3, ts="2026-11-27T14:00:03")).decode()
        assert "field 'tier'" in letters[2].error and "field 'latency_ms'" in letters[2].error
        assert letters[0].source == "file:x"


def test_rollups_equal_a_scan_of_the_raw_events(store: Store) -> None:
    rng = random.Random(4)
    events = [
        event(
            n,
            tier=rng.choice(["edge", "cloud"]),
            cohort=rng.choice(["a", "b", "c"]),
            outcome=rng.choices(["ok", "error", "timeout"], [90, 7, 3])[0],
            latency_ms=rng.lognormvariate(4, 1),
            attempt=rng.choice([0, 0, 1]),
            region=rng.choice(["eu-west-1", None]),
            ts=f"2026-11-27T{12 + n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
        )
        for n in range(0, 7200, 3)
    ]
    ingest_events(store.engine, records_of(ndjson(events)), source="t", batch_size=333)
    expected: dict[tuple[int, str, str], list[int]] = {}
    for e in events:
        minute = (int(e["ts"][11:13]) * 60 + int(e["ts"][14:16])) * 60
        key = (minute, e["tier"], e["cohort"])
        counts = expected.setdefault(key, [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += e["outcome"] == "error"
        counts[2] += e["outcome"] == "timeout"
        counts[3] += e["attempt"] > 0
    got: dict[tuple[int, str, str], list[int]] = {}
    with store.sessions() as session:
        rows = session.execute(
            select(RollupMinute, Slice.tier, Slice.cohort).join(
                Slice, Slice.id == RollupMinute.slice_id
            )
        ).all()
        for rollup, tier, cohort in rows:
            key = (rollup.bucket_start % 86400, tier, cohort)
            counts = got.setdefault(key, [0, 0, 0, 0])
            for i, value in enumerate(
                (rollup.requests, rollup.errors, rollup.timeouts, rollup.retries)
            ):
                counts[i] += value
        histogram = merged(parse_histogram(r.histogram) for r, _, _ in rows)
        hours = session.scalar(select(func.sum(RollupHour.requests)))
    assert got == expected
    assert hours == len(events)
    true_p95 = sorted(e["latency_ms"] for e in events)[int(0.95 * len(events))]
    estimate = quantile(histogram, 0.95)
    assert estimate is not None and abs(estimate - true_p95) / true_p95 < 0.1


def test_missing_dimensions_share_one_slice(store: Store) -> None:
    ingest_events(
        store.engine, records_of(ndjson([event(1, region=None), event(2, region=None)])), source="t"
    )
    with store.sessions() as session:
        assert session.scalars(select(Slice.region)).all() == [""]


def test_cohort_assignments_are_idempotent_and_register_builds(store: Store) -> None:
    data = ndjson([assignment(), assignment("us-android-stable", residency=None)])
    first = ingest_cohort_assignments(store.engine, records_of(data), source="t")
    second = ingest_cohort_assignments(store.engine, records_of(data), source="t")
    assert (first.stored, second.stored, second.duplicates) == (2, 0, 2)
    with store.sessions() as session:
        builds = session.scalars(select(ModelBuild)).all()
        assert [(b.model_id, b.tier, b.quantization) for b in builds] == [
            ("router-3.2-int8", "edge", "int8")
        ]
        rows = session.scalars(select(CohortAssignment).order_by(CohortAssignment.cohort)).all()
        assert [(r.residency, r.residency_given) for r in rows] == [(None, False), (None, True)]
        assert rows[0].effective_at.tzinfo is not None


def test_a_conflicting_assignment_is_rejected_not_dropped(store: Store) -> None:
    ingest_cohort_assignments(store.engine, records_of(ndjson([assignment()])), source="t")
    changed = ndjson(
        [assignment(model_id="router-3.3-int8"), assignment(tier="cloud", model_id="big")]
    )
    summary = ingest_cohort_assignments(store.engine, records_of(changed), source="t")
    assert (summary.stored, summary.rejected) == (1, 1)
    assert summary.errors[0].line == 1 and "already exists" in summary.errors[0].reason
    assert _count(store, DeadLetter) == 1


def test_a_json_array_reports_items(store: Store) -> None:
    data = orjson.dumps([assignment(), {"cohort": "x"}])
    summary = ingest_cohort_assignments(store.engine, records_of(data), source="t")
    assert (summary.stored, summary.rejected) == (1, 1)
    assert {(e.item, e.field) for e in summary.errors} == {
        (2, "tier"),
        (2, "model_id"),
        (2, "effective_at"),
    }
