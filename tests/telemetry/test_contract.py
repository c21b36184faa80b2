"""The fast contract checks accept exactly what the published JSON Schemas accept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from bot.telemetry.contract import (
    InvalidRecord,
    parse_cohort_assignment,
    parse_router_event,
    rfc3339_to_epoch_ms,
)
from tests.conftest import CONTRACTS, SHARED_CONTRACTS


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS / name).read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


EVENT_SCHEMA = _validator("router-event.schema.json")
ASSIGNMENT_SCHEMA = _validator("cohort-assignment.schema.json")


def test_vendored_contracts_match_the_shared_ones() -> None:
    if not SHARED_CONTRACTS.is_dir():
        pytest.skip("../shared/contracts is not beside this checkout")
    for path in SHARED_CONTRACTS.glob("*.json"):
        assert json.loads(path.read_text()) == json.loads((CONTRACTS / path.name).read_text())


VALID_EVENT = {
    "request_id": "r-1",
    "attempt": 0,
    "ts": "2026-11-27T14:05:03.120Z",
    "tier": "edge",
    "model_id": "router-3.2-int8",
    "cohort": "eu-android-stable",
    "outcome": "ok",
    "latency_ms": 41.5,
}


def test_a_valid_event_becomes_its_row() -> None:
    row = parse_router_event({**VALID_EVENT, "region": "eu-west-1", "sdk": {"v": 2}})
    assert row[0:3] == ("r-1", 0, 1795788303120)
    assert row[9] == "eu-west-1"
    assert json.loads(row[15] or "null") == {"sdk": {"v": 2}}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"ts": "2026-11-27T14:05:03"}, "ts", "no UTC offset"),
        ({"ts": "yesterday"}, "ts", "not an RFC 3339"),
        ({"ts": "2026-02-30T00:00:00Z"}, "ts", "invalid date"),
        ({"tier": "fog"}, "tier", "must be one of cloud, edge"),
        ({"outcome": None}, "outcome", "must be one of"),
        ({"latency_ms": -1}, "latency_ms", ">= 0"),
        ({"latency_ms": "12"}, "latency_ms", "number"),
        ({"attempt": 17}, "attempt", "0 to 16"),
        ({"attempt": True}, "attempt", "integer"),
        ({"request_id": ""}, "request_id", "1 to 128"),
        ({"region": "x" * 65}, "region", "at most 64"),
        ({"error_code": 5}, "error_code", "string or null"),
    ],
)
def test_each_broken_field_is_named_with_its_reason(
    change: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_router_event({**VALID_EVENT, **change})
    assert [e.field for e in caught.value.errors] == [field]
    assert words in caught.value.errors[0].reason


def test_every_missing_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_router_event({"request_id": "r"})
    assert {e.field for e in caught.value.errors} == {
        "ts",
        "tier",
        "model_id",
        "cohort",
        "outcome",
        "latency_ms",
    }


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1969-12-31T23:30:00-00:30", 0),
        ("2026-11-27t14:05:03.1z", 1795788303100),
        ("2026-11-27T14:05:03.123456789Z", 1795788303123),
    ],
)
def test_timestamps_honour_their_offsets(text: str, expected_ms: int) -> None:
    assert rfc3339_to_epoch_ms(text) == expected_ms


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=40),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=1e6),
    st.text(max_size=3),
    st.text(min_size=60, max_size=140),
    st.sampled_from(
        [
            "edge",
            "cloud",
            "ok",
            "error",
            "timeout",
            "2026-11-27T14:05:03Z",
            "2026-11-27T14:05:03.5+02:00",
            "2026-11-27T14:05:03",
            "2026-13-01T00:00:00Z",
            "2026-11-27 14:05:03Z",
        ]
    ),
)


def _records(fields: tuple[str, ...], valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Records near the valid one: some fields replaced by odd values, some dropped or added."""
    return st.builds(
        lambda changes, dropped, extra: {
            **{k: v for k, v in {**valid, **changes}.items() if k not in dropped},
            **extra,
        },
        st.dictionaries(st.sampled_from(fields), _scalars, max_size=3),
        st.sets(st.sampled_from(fields), max_size=2),
        st.dictionaries(st.sampled_from(["note", "sdk"]), _scalars, max_size=1),
    )


EVENT_FIELDS = (
    *VALID_EVENT,
    "error_code",
    "region",
    "device_class",
    "os_version",
    "app_version",
    "config_hash",
    "crash_fingerprint",
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_records(EVENT_FIELDS, VALID_EVENT))
def test_event_checks_agree_with_the_schema(record: dict[str, Any]) -> None:
    schema_ok = EVENT_SCHEMA.is_valid(record)
    try:
        parse_router_event(record)
        ours = True
    except InvalidRecord:
        ours = False
    assert ours == schema_ok, list(EVENT_SCHEMA.iter_errors(record))


VALID_ASSIGNMENT = {
    "cohort": "eu-android-stable",
    "tier": "edge",
    "model_id": "router-3.2-int8",
    "effective_at": "2026-11-27T13:50:00Z",
}
ASSIGNMENT_FIELDS = (
    *VALID_ASSIGNMENT,
    "quantization",
    "rollout_percent",
    "residency",
    "config_hash",
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_records(ASSIGNMENT_FIELDS, VALID_ASSIGNMENT))
def test_assignment_checks_agree_with_the_schema(record: dict[str, Any]) -> None:
    schema_ok = ASSIGNMENT_SCHEMA.is_valid(record)
    try:
        parse_cohort_assignment(record)
        ours = True
    except InvalidRecord:
        ours = False
    assert ours == schema_ok, list(ASSIGNMENT_SCHEMA.iter_errors(record))


def test_absent_and_null_residency_are_kept_apart() -> None:
    absent = parse_cohort_assignment(VALID_ASSIGNMENT)
    null = parse_cohort_assignment({**VALID_ASSIGNMENT, "residency": None})
    assert (absent.residency, absent.residency_given) == (None, False)
    assert (null.residency, null.residency_given) == (None, True)
