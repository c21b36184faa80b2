"""Ingest keeps the build health rollups: right, idempotent, the same through the writer
process, and untouched by retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from bot.db import transaction
from bot.store import Store
from bot.telemetry.ingest import ingest_events, records_from_values
from bot.telemetry.service import prune_raw_events
from bot.timeutil import parse_rfc3339, to_epoch_ms, utcnow
from tests.factories import event


def _events(first: int, last: int) -> list[dict[str, Any]]:
    out = []
    for n in range(first, last):
        fields: dict[str, Any] = {"config_hash": "cfg-a" if n % 4 else "cfg-b"}
        if n % 10 == 0:
            fields |= {"outcome": "error", "error_code": "OOM", "crash_fingerprint": "fp-1"}
        elif n % 10 == 1:
            fields |= {"outcome": "error", "error_code": "NPU_CRASH", "os_version": "android-14"}
        elif n % 10 == 2:
            fields |= {"outcome": "timeout"}
        elif n % 10 == 3:
            fields |= {"config_hash": None}
        out.append(event(n, **fields))
    return out


def _expected(first: int, last: int) -> dict[str, Any]:
    events = _events(first, last)
    crashes = [e for e in events if e.get("crash_fingerprint")]
    stamps = [to_epoch_ms(parse_rfc3339(e["ts"])) for e in crashes]
    configs: dict[str, int] = {}
    for e in events:
        configs[e["config_hash"] or ""] = configs.get(e["config_hash"] or "", 0) + 1
    return {
        "codes": {
            code: sum(e.get("error_code") == code for e in events) for code in ("NPU_CRASH", "OOM")
        },
        "crashes": {"fp-1": (len(crashes), min(stamps), max(stamps))},
        "configs": configs,
    }


def _stored(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        codes = dict(
            conn.execute(
                text(
                    "SELECT error_code, SUM(events) FROM build_error_codes_minute "
                    "GROUP BY error_code ORDER BY error_code"
                )
            ).all()
        )
        hours = dict(
            conn.execute(
                text(
                    "SELECT error_code, SUM(events) FROM build_error_codes_hour GROUP BY error_code"
                )
            ).all()
        )
        assert hours == codes
        crashes = {
            fp: (int(n), int(a), int(b))
            for fp, n, a, b in conn.execute(
                text(
                    "SELECT fingerprint, SUM(events), MIN(first_ms), MAX(last_ms) "
                    "FROM build_crashes_hour GROUP BY fingerprint"
                )
            )
        }
        configs = dict(
            conn.execute(
                text(
                    "SELECT config_hash, SUM(requests) FROM config_hashes_minute "
                    "WHERE tier = 'edge' AND cohort = 'eu-android-stable' GROUP BY config_hash"
                )
            ).all()
        )
    return {
        "codes": {k: int(v) for k, v in codes.items()},
        "crashes": crashes,
        "configs": {k: int(v) for k, v in configs.items()},
    }


def _ingest(store: Store, events: list[dict[str, Any]], **options: Any) -> tuple[int, int]:
    summary = ingest_events(store.engine, records_from_values(events), source="test", **options)
    return summary.stored, summary.duplicates


def test_counts_are_right_and_a_reimport_adds_nothing(store: Store) -> None:
    assert _ingest(store, _events(0, 200), parallel=False) == (200, 0)
    assert _stored(store) == _expected(0, 200)

    assert _ingest(store, _events(0, 200), parallel=False) == (0, 200)
    assert _stored(store) == _expected(0, 200)

    # half already stored, half new, in one batch: only the new half is counted
    assert _ingest(store, _events(100, 300), parallel=False) == (100, 100)
    assert _stored(store) == _expected(0, 300)


def test_the_writer_process_counts_the_same(store: Store) -> None:
    assert _ingest(store, _events(0, 300), batch_size=40) == (300, 0)
    assert _stored(store) == _expected(0, 300)
    assert _ingest(store, _events(0, 400), batch_size=40) == (100, 300)
    assert _stored(store) == _expected(0, 400)


def test_retention_prunes_raw_events_and_keeps_these_rollups(store: Store) -> None:
    _ingest(store, _events(0, 200), parallel=False)
    with transaction(store.sessions) as session:
        pruned = prune_raw_events(session=session, older_than=utcnow() + timedelta(days=1))
    assert pruned == 200
    assert _stored(store) == _expected(0, 200)
