"""Cohort history: carry-over of residency and config hash, and `tierbot cohort show`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.rollouts.service import (
    UnknownCohort,
    cohort_history,
    current,
    region_allowed,
    residency_by_cohort,
)
from bot.store import Store
from bot.telemetry.ingest import ingest_cohort_assignments
from tests.factories import assignment, ndjson, records_of
from tests.test_cli import tierbot

HISTORY = [
    assignment(
        "eu-a",
        model_id="router-3.1-fp16",
        effective_at="2026-11-01T00:00:00Z",
        residency="eu",
        config_hash="cfg-1",
        quantization="fp16",
    ),
    assignment("eu-a", model_id="router-3.2-int8", effective_at="2026-11-20T00:00:00Z"),
    assignment(
        "eu-a", model_id="router-3.1-fp16", effective_at="2026-11-27T10:00:00Z", residency=None
    ),
    assignment(
        "eu-a",
        tier="cloud",
        model_id="assistant-large-2026-10",
        effective_at="2026-11-01T00:00:00Z",
        residency="eu",
    ),
]


def test_fields_carry_over_until_explicitly_changed(store: Store) -> None:
    ingest_cohort_assignments(store.engine, records_of(ndjson(HISTORY)), source="t")
    with store.sessions() as session:
        history = cohort_history(session=session, cohort="eu-a")
    edge = [a for a in history if a.tier == "edge"]
    assert [(a.model_id, a.residency, a.config_hash, a.previous_model_id) for a in edge] == [
        ("router-3.1-fp16", "eu", "cfg-1", None),
        ("router-3.2-int8", "eu", "cfg-1", "router-3.1-fp16"),
        ("router-3.1-fp16", None, "cfg-1", "router-3.2-int8"),
    ]
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert current(history, now)["edge"].model_id == "router-3.1-fp16"
    assert residency_by_cohort(history, now) == {"eu-a": "eu"}  # the cloud assignment's


def test_unknown_cohort_names_the_known_ones(store: Store) -> None:
    ingest_cohort_assignments(store.engine, records_of(ndjson(HISTORY)), source="t")
    with store.sessions() as session, pytest.raises(UnknownCohort, match="Known cohorts: eu-a"):
        cohort_history(session=session, cohort="nope")


@pytest.mark.parametrize(
    ("region", "residency", "allowed"),
    [
        ("eu", "eu", True),
        ("eu-west-1", "eu", True),
        ("europe-1", "eu", False),
        ("us-east-1", "eu", False),
        ("us-east-1", None, True),
    ],
)
def test_residency_prefixes(region: str, residency: str | None, allowed: bool) -> None:
    assert region_allowed(region, residency) is allowed


def test_cohort_show_cli(database_url: str, tmp_path: object) -> None:
    tierbot(database_url, "import", "cohorts", "-", stdin=ndjson(HISTORY))
    shown = tierbot(database_url, "cohort", "show", "eu-a")
    text = shown.stdout.decode()
    assert shown.returncode == 0, shown.stderr.decode()
    assert "runs router-3.1-fp16" in text and "residency anywhere" in text
    as_json = json.loads(tierbot(database_url, "cohort", "show", "eu-a", "--json").stdout)
    assert as_json["current"]["cloud"]["model_id"] == "assistant-large-2026-10"
    assert len(as_json["history"]) == 4
    missing = tierbot(database_url, "cohort", "show", "nope")
    assert missing.returncode == 1 and "no assignments for cohort 'nope'" in missing.stderr.decode()
