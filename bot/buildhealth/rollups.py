"""Build health counters maintained by ingest: error codes, crash fingerprints, config hashes.

`aggregate` runs on the groups the minute rollup already made (rows filed by minute and
slice), so it adds no Python loop per event: per group, a few C passes (`map`, `list.count`)
find whether anything is there to count, and usually nothing is (one config hash per group,
no error codes, no crashes). `write` adds the counts with additive upserts in the ingest
transaction, so only newly stored events are counted, as for the other rollups.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection

from bot.telemetry.contract import EventRow

#: (bucket_start s, slice_id, error_code) -> events, minute buckets
Codes = dict[tuple[int, int, str], int]
#: (hour bucket_start s, slice_id, fingerprint) -> (events, first_ms, last_ms)
Crashes = dict[tuple[int, int, str], tuple[int, int, int]]
#: (bucket_start s, tier, cohort, config_hash or '') -> requests, minute buckets
Configs = dict[tuple[int, str, str, str], int]
#: What one batch adds; tuples and dicts of plain values, so marshal can carry it.
Extras = tuple[Codes, Crashes, Configs]

_TS, _CODE, _CONFIG, _CRASH = itemgetter(2), itemgetter(8), itemgetter(13), itemgetter(14)
HOUR = 3600


def empty() -> Extras:
    return {}, {}, {}


def _slice_key(key: tuple[Any, ...]) -> tuple[str, ...]:
    """The slice of a rollup group key (as `bot.telemetry.rollups.group_slice_key`)."""
    return (key[1], key[2], key[3], key[4] or "", key[5] or "", key[6] or "", key[7] or "")


def aggregate(groups: dict[Any, list[EventRow]], slice_ids: dict[Any, int]) -> Extras:
    """The counters of grouped rows (see `bot.telemetry.rollups.group`)."""
    codes: Codes = {}
    crashes: Crashes = {}
    configs: Configs = {}
    for key, rows in groups.items():
        minute, n = key[0] * 60, len(rows)
        hashes = list(map(_CONFIG, rows))
        first = hashes[0]
        if hashes.count(first) == n:  # the usual case: one config per group
            config_key = (minute, key[1], key[3], first or "")
            configs[config_key] = configs.get(config_key, 0) + n
        else:
            for value, count in Counter(hashes).items():
                config_key = (minute, key[1], key[3], value or "")
                configs[config_key] = configs.get(config_key, 0) + count
        error_codes = list(map(_CODE, rows))
        fingerprints = list(map(_CRASH, rows))
        if error_codes.count(None) == n and fingerprints.count(None) == n:
            continue
        slice_id = slice_ids[_slice_key(key)]
        for code, count in Counter(error_codes).items():
            if code is not None:
                code_key = (minute, slice_id, code)
                codes[code_key] = codes.get(code_key, 0) + count
        if fingerprints.count(None) == n:
            continue
        hour = minute - minute % HOUR
        for row in rows:
            fingerprint = row[14]
            if fingerprint is None:
                continue
            crash_key, ts = (hour, slice_id, fingerprint), row[2]
            seen = crashes.get(crash_key)
            crashes[crash_key] = (
                (1, ts, ts) if seen is None else (seen[0] + 1, min(seen[1], ts), max(seen[2], ts))
            )
    return codes, crashes, configs


def _hours(codes: Codes) -> Codes:
    out: Codes = {}
    for (start, slice_id, code), count in codes.items():
        key = (start - start % HOUR, slice_id, code)
        out[key] = out.get(key, 0) + count
    return out


def _upsert(cursor: Any, sql: str, values: Iterable[tuple[Any, ...]]) -> None:
    rows = list(values)
    if rows:
        cursor.executemany(sql, rows)


def write(conn: Connection, extras: Extras) -> None:
    """Add one batch's counters (callers hold the ingest lock and the transaction)."""
    codes, crashes, configs = extras
    if not (codes or crashes or configs):
        return
    postgres = conn.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    least, greatest = ("LEAST", "GREATEST") if postgres else ("MIN", "MAX")
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for table, counts in (
            ("build_error_codes_minute", codes),
            ("build_error_codes_hour", _hours(codes)),
        ):
            _upsert(
                cursor,
                f"INSERT INTO {table} (bucket_start, slice_id, error_code, events) "
                f"VALUES ({mark}, {mark}, {mark}, {mark}) "
                "ON CONFLICT (bucket_start, slice_id, error_code) "
                f"DO UPDATE SET events = {table}.events + excluded.events",
                ((*key, count) for key, count in sorted(counts.items())),
            )
        t = "build_crashes_hour"
        _upsert(
            cursor,
            f"INSERT INTO {t} (bucket_start, slice_id, fingerprint, events, first_ms, last_ms) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark}) "
            "ON CONFLICT (bucket_start, slice_id, fingerprint) DO UPDATE SET "
            f"events = {t}.events + excluded.events, "
            f"first_ms = {least}({t}.first_ms, excluded.first_ms), "
            f"last_ms = {greatest}({t}.last_ms, excluded.last_ms)",
            ((*key, *value) for key, value in sorted(crashes.items())),
        )
        _upsert(
            cursor,
            "INSERT INTO config_hashes_minute (bucket_start, tier, cohort, config_hash, requests) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) "
            "ON CONFLICT (bucket_start, tier, cohort, config_hash) "
            "DO UPDATE SET requests = config_hashes_minute.requests + excluded.requests",
            ((*key, count) for key, count in sorted(configs.items())),
        )
    finally:
        cursor.close()
