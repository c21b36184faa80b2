"""Small builders of contract records for tests."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import orjson

from bot.telemetry.readers import RawRecord, iter_records


def event(n: int, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": f"r-{n:06d}",
        "attempt": 0,
        "ts": f"2026-11-27T14:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "tier": "edge",
        "model_id": "router-3.2-int8",
        "cohort": "eu-android-stable",
        "outcome": "ok",
        "latency_ms": 40.0,
        "region": "eu-west-1",
        "device_class": "midrange-8gb",
        "os_version": "android-15",
        "app_version": "5.3.0",
    }
    record.update(fields)
    return record


def assignment(cohort: str = "eu-android-stable", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "cohort": cohort,
        "tier": "edge",
        "model_id": "router-3.2-int8",
        "effective_at": "2026-11-27T13:50:00Z",
        "quantization": "int8",
    }
    record.update(fields)
    return record


def ndjson(records: Iterable[Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def records_of(data: bytes) -> list[RawRecord]:
    return list(iter_records(io.BytesIO(data)))
