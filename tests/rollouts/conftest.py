"""A store with two cohorts that moved from an fp16 build to an int8 one an hour ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.db import transaction
from bot.probes.results import Check, ProbeResult
from bot.probes.store import save_result
from bot.rollouts.settings import DriSet, RolloutSettings
from bot.settings import Settings
from bot.store import Store
from bot.telemetry.ingest import ingest_cohort_assignments, records_from_values
from tests.factories import assignment

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
GOOD, BAD = "router-3.1-fp16", "router-3.2-int8"
COHORT, OTHER = "eu-android-stable", "us-ios-beta"
REQUESTER, DRI, DRI2, NOBODY = "U0REQUEST", "U0DRI1", "U0DRI2", "U0NOBODY"


def seed(store: Store) -> None:
    """Both cohorts: GOOD a day ago, BAD since an hour ago (edge); cloud never changed."""
    day, hour = NOW - timedelta(days=1), NOW - timedelta(hours=1)
    records = []
    for cohort in (COHORT, OTHER):
        records += [
            assignment(
                cohort,
                model_id=GOOD,
                quantization="fp16",
                config_hash="cfg-good",
                effective_at=day.isoformat().replace("+00:00", "Z"),
            ),
            assignment(
                cohort,
                model_id=BAD,
                config_hash="cfg-bad",
                effective_at=hour.isoformat().replace("+00:00", "Z"),
            ),
            assignment(
                cohort,
                tier="cloud",
                model_id="cloud-llm-7",
                quantization=None,
                effective_at=day.isoformat().replace("+00:00", "Z"),
            ),
        ]
    summary = ingest_cohort_assignments(store.engine, records_from_values(records), source="test")
    assert summary.rejected == 0, summary


def probe(store: Store, model_id: str, ok: bool, at: datetime = NOW) -> None:
    check = Check(ok=ok, value=0.99 if ok else 0.4, limit=0.98, detail="agreement")
    result = ProbeResult(f"edge/{model_id}", "edge", at, 12.0, {"agreement": check})
    with transaction(store.sessions) as session:
        save_result(session=session, result=result, runner="test")


def rollout_settings(**overrides: object) -> RolloutSettings:
    values: dict[str, object] = {"dris": DriSet(users=[DRI, DRI2]), "approval_ttl_seconds": 1800}
    values.update(overrides)
    return RolloutSettings.model_validate(values)


@pytest.fixture
def seeded(store: Store) -> Store:
    seed(store)
    return store


@pytest.fixture
def rb_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rollouts": rollout_settings()})
