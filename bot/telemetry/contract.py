"""The data contract (../shared/contracts), checked field by field at ingest speed.

Hand-written rather than run through a generic JSON Schema validator: it is ~20x faster, and it
turns each record into the row we store in the same pass. tests/telemetry/test_contract.py
proves it accepts exactly what the published schemas accept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson

_MISSING: Any = object()
TIERS = frozenset(("edge", "cloud"))
OUTCOMES = frozenset(("ok", "error", "timeout"))

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))?\Z"
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Known-valid parts of timestamps and their milliseconds (see rfc3339_to_epoch_ms). Bounded:
# past _CACHE_LIMIT entries (~70 days of minutes) a timestamp is parsed in full, as before.
_CACHE_LIMIT = 100_000
_minute_ms: dict[str, int] = {}  # "2026-11-27T14:05"
_second_ms: dict[str, int] = {}  # ":03"
_tail_ms: dict[str, int] = {}  # ".120Z", "+01:00", ...


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason a record was rejected: the field concerned and what is wrong with it."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"field '{self.field}': {self.reason}"


class InvalidRecord(Exception):
    """A record broke the contract; `errors` lists every field at fault."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def rfc3339_to_epoch_ms(text: str) -> int:
    """Epoch milliseconds of an RFC 3339 timestamp with an offset; ValueError says why not.

    A timestamp is three fixed-position parts: its minute ("2026-11-27T14:05"), its second
    (":03") and the rest (".120Z", "+01:00"). Each part is valid, and adds its milliseconds,
    independently of the others, so the parts of valid timestamps are remembered and one made
    of known parts (nearly every one in a stream of events) costs three small lookups.
    """
    minute = _minute_ms.get(text[:16])
    if minute is not None:
        second = _second_ms.get(text[16:19])
        if second is not None:
            tail = _tail_ms.get(text[19:])
            if tail is not None:
                return minute + second + tail
    return _parse_rfc3339(text)


def _parse_rfc3339(text: str) -> int:
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time (e.g. 2026-11-27T14:05:03.120Z): {text!r}")
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    if zulu is None and sign is None:
        raise ValueError(f"timestamp has no UTC offset (add Z or +HH:MM): {text!r}")
    try:
        ordinal = date(int(year), int(month), int(day)).toordinal()
    except ValueError as exc:
        raise ValueError(f"invalid date in {text!r}: {exc}") from None
    h, mi, s = int(hour), int(minute), int(second)
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"invalid time of day in {text!r}")
    tail_ms = 0 if frac is None else int((frac + "00")[:3])
    if sign is not None:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            raise ValueError(f"invalid UTC offset in {text!r}")
        offset_ms = (oh * 3600 + om * 60) * 1000
        tail_ms += -offset_ms if sign == "+" else offset_ms
    parts = (
        (_minute_ms, text[:16], ((ordinal - _EPOCH_ORDINAL) * 86400 + h * 3600 + mi * 60) * 1000),
        (_second_ms, text[16:19], s * 1000),
        (_tail_ms, text[19:], tail_ms),
    )
    for cache, part, ms in parts:
        if len(cache) < _CACHE_LIMIT:
            cache[part] = ms
    return sum(ms for _, _, ms in parts)


def rfc3339_to_datetime(text: str) -> datetime:
    return datetime.fromtimestamp(rfc3339_to_epoch_ms(text) / 1000, UTC)


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def _is_integer(value: Any) -> bool:
    kind = type(value)
    return kind is int or (kind is float and value.is_integer())


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _required_string(
    record: dict[str, Any], name: str, max_length: int, errors: list[FieldError]
) -> str:
    value = record.get(name, _MISSING)
    if type(value) is str and 0 < len(value) <= max_length:
        return value
    if value is _MISSING:
        errors.append(FieldError(name, "required field is missing"))
    elif type(value) is not str:
        errors.append(FieldError(name, f"must be a string, got {_describe(value)}"))
    else:
        errors.append(FieldError(name, f"must be 1 to {max_length} characters, got {len(value)}"))
    return ""


def _optional_string(
    record: dict[str, Any], name: str, max_length: int, errors: list[FieldError]
) -> str | None:
    value = record.get(name)
    if value is None or (type(value) is str and len(value) <= max_length):
        return value
    if type(value) is not str:
        errors.append(FieldError(name, f"must be a string or null, got {_describe(value)}"))
    else:
        errors.append(
            FieldError(name, f"must be at most {max_length} characters, got {len(value)}")
        )
    return None


def _enum(
    record: dict[str, Any], name: str, allowed: frozenset[str], errors: list[FieldError]
) -> str:
    value = record.get(name, _MISSING)
    if type(value) is str and value in allowed:
        return value
    if value is _MISSING:
        errors.append(FieldError(name, "required field is missing"))
    else:
        choices = ", ".join(sorted(allowed))
        errors.append(FieldError(name, f"must be one of {choices}, got {_describe(value)}"))
    return ""


def _timestamp(record: dict[str, Any], name: str, errors: list[FieldError]) -> int:
    value = record.get(name, _MISSING)
    if value is _MISSING:
        errors.append(FieldError(name, "required field is missing"))
        return 0
    if type(value) is not str:
        errors.append(
            FieldError(name, f"must be an RFC 3339 date-time string, got {_describe(value)}")
        )
        return 0
    try:
        return rfc3339_to_epoch_ms(value)
    except ValueError as exc:
        errors.append(FieldError(name, str(exc)))
        return 0


EVENT_FIELDS: tuple[str, ...] = (
    "request_id",
    "attempt",
    "ts",
    "tier",
    "model_id",
    "cohort",
    "outcome",
    "latency_ms",
    "error_code",
    "region",
    "device_class",
    "os_version",
    "app_version",
    "config_hash",
    "crash_fingerprint",
)
_EVENT_FIELD_SET = frozenset(EVENT_FIELDS)

#: Column order of the row `parse_router_event` returns (matches `router_events`).
EVENT_COLUMNS: tuple[str, ...] = (
    "request_id",
    "attempt",
    "ts_ms",
    "tier",
    "model_id",
    "cohort",
    "outcome",
    "latency_ms",
    "error_code",
    "region",
    "device_class",
    "os_version",
    "app_version",
    "config_hash",
    "crash_fingerprint",
    "extra",
)

EventRow = tuple[
    str, int, int, str, str, str, str, float,
    str | None, str | None, str | None, str | None, str | None, str | None, str | None, str | None,
]  # fmt: skip


def _extra(record: dict[str, Any], known: frozenset[str]) -> str | None:
    extra_keys = record.keys() - known
    if not extra_keys:
        return None
    return orjson.dumps({key: record[key] for key in sorted(extra_keys)}).decode()


_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Short = Annotated[str, msgspec.Meta(max_length=64)] | None
_Long = Annotated[str, msgspec.Meta(max_length=128)] | None


class _PlainEvent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A router event holding contract fields only, each of the exact JSON type and range.

    msgspec checks it in C, ~5x faster than `check_router_event`. It is stricter than the
    contract in two places, never looser: it refuses unknown properties (the caller keeps them
    in `extra`) and integral floats as `attempt` (1.0, left to `check_router_event`).
    """

    request_id: _Id
    attempt: Annotated[int, msgspec.Meta(ge=0, le=16)] = 0
    ts: str
    tier: Literal["edge", "cloud"]
    model_id: _Id
    cohort: _Id
    outcome: Literal["ok", "error", "timeout"]
    latency_ms: Annotated[float, msgspec.Meta(ge=0)]
    error_code: _Short = None
    region: _Short = None
    device_class: _Short = None
    os_version: _Short = None
    app_version: _Short = None
    config_hash: _Long = None
    crash_fingerprint: _Long = None


_convert = msgspec.convert


def parse_router_event(record: Any) -> EventRow:
    """Check one router event against the contract and return its stored row.

    A record whose contract fields are all valid takes the msgspec fast path (its other
    properties, if any, only go to `extra`); any other goes through `check_router_event`,
    which decides, and names every fault of a bad one.
    """
    if type(record) is dict:
        row = _plain_row(record, None)
        if row is None and not record.keys() <= _EVENT_FIELD_SET:
            known = {k: v for k, v in record.items() if k in _EVENT_FIELD_SET}
            row = _plain_row(known, _extra(record, _EVENT_FIELD_SET))
        if row is not None:
            return row
    return check_router_event(record)


def _plain_row(record: dict[str, Any], extra: str | None) -> EventRow | None:
    try:
        e = _convert(record, _PlainEvent)
        ts_ms = rfc3339_to_epoch_ms(e.ts)
    except ValueError:  # msgspec.ValidationError is one too
        return None
    return (
        e.request_id, e.attempt, ts_ms, e.tier, e.model_id, e.cohort, e.outcome, e.latency_ms,
        e.error_code, e.region, e.device_class, e.os_version, e.app_version, e.config_hash,
        e.crash_fingerprint, extra,
    )  # fmt: skip


def check_router_event(record: Any) -> EventRow:
    """The contract, field by field: the reference `parse_router_event` must agree with."""
    if type(record) is not dict:
        raise InvalidRecord(
            [FieldError("(record)", f"must be a JSON object, got {_describe(record)}")]
        )
    errors: list[FieldError] = []
    request_id = _required_string(record, "request_id", 128, errors)
    attempt = record.get("attempt", 0)
    if not _is_integer(attempt) or not 0 <= attempt <= 16:
        errors.append(
            FieldError("attempt", f"must be an integer from 0 to 16, got {_describe(attempt)}")
        )
        attempt = 0
    ts_ms = _timestamp(record, "ts", errors)
    tier = _enum(record, "tier", TIERS, errors)
    model_id = _required_string(record, "model_id", 128, errors)
    cohort = _required_string(record, "cohort", 128, errors)
    outcome = _enum(record, "outcome", OUTCOMES, errors)
    latency = record.get("latency_ms", _MISSING)
    if latency is _MISSING:
        errors.append(FieldError("latency_ms", "required field is missing"))
        latency = 0.0
    elif not _is_number(latency) or latency < 0:
        errors.append(FieldError("latency_ms", f"must be a number >= 0, got {_describe(latency)}"))
        latency = 0.0
    row = (
        request_id,
        int(attempt),
        ts_ms,
        tier,
        model_id,
        cohort,
        outcome,
        float(latency),
        _optional_string(record, "error_code", 64, errors),
        _optional_string(record, "region", 64, errors),
        _optional_string(record, "device_class", 64, errors),
        _optional_string(record, "os_version", 64, errors),
        _optional_string(record, "app_version", 64, errors),
        _optional_string(record, "config_hash", 128, errors),
        _optional_string(record, "crash_fingerprint", 128, errors),
        _extra(record, _EVENT_FIELD_SET) if len(record) > 7 else None,
    )
    if errors:
        raise InvalidRecord(errors)
    return row


ASSIGNMENT_FIELDS = frozenset(
    (
        "cohort",
        "tier",
        "model_id",
        "effective_at",
        "quantization",
        "rollout_percent",
        "residency",
        "config_hash",
    )
)


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    """A cohort assignment as the contract defines it, with absent and null kept apart."""

    cohort: str
    tier: str
    model_id: str
    effective_at: datetime
    quantization: str | None
    rollout_percent: float
    residency: str | None
    residency_given: bool
    config_hash: str | None
    config_hash_given: bool
    extra: str | None


def parse_cohort_assignment(record: Any) -> AssignmentRecord:
    """Check one cohort assignment against the contract."""
    if type(record) is not dict:
        raise InvalidRecord(
            [FieldError("(record)", f"must be a JSON object, got {_describe(record)}")]
        )
    errors: list[FieldError] = []
    cohort = _required_string(record, "cohort", 128, errors)
    tier = _enum(record, "tier", TIERS, errors)
    model_id = _required_string(record, "model_id", 128, errors)
    effective_ms = _timestamp(record, "effective_at", errors)
    quantization = _optional_string(record, "quantization", 32, errors)
    percent = record.get("rollout_percent", 100)
    if not _is_number(percent) or not 0 <= percent <= 100:
        errors.append(
            FieldError(
                "rollout_percent", f"must be a number from 0 to 100, got {_describe(percent)}"
            )
        )
        percent = 100
    residency = _optional_string(record, "residency", 32, errors)
    config_hash = _optional_string(record, "config_hash", 128, errors)
    if errors:
        raise InvalidRecord(errors)
    return AssignmentRecord(
        cohort=cohort,
        tier=tier,
        model_id=model_id,
        effective_at=datetime.fromtimestamp(effective_ms / 1000, UTC),
        quantization=quantization,
        rollout_percent=float(percent),
        residency=residency,
        residency_given="residency" in record,
        config_hash=config_hash,
        config_hash_given="config_hash" in record,
        extra=_extra(record, ASSIGNMENT_FIELDS),
    )
