"""Every simulated incident: the right components fail, the right slice is blamed first, the
rollouts before it are listed, and the report honours the contract. Several seeds each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from bot.diagnosis.report import Report
from bot.diagnosis.service import which_tier
from bot.sandbox.scenarios import SCENARIOS
from bot.settings import Settings
from bot.store import Store, open_store
from tests.conftest import CONTRACTS, PG_URL, _reset_postgres
from tests.diagnosis.conftest import BASELINE, END, load_scenario

REPORT_SCHEMA = Draft202012Validator(
    json.loads((CONTRACTS / "which-tier-report.schema.json").read_text()),
    format_checker=FormatChecker(),
)
SEEDS = (1, 2)
ON_POSTGRES = ("int8_oom_lowram", "cloud_latency", "residency_violation", "healthy", "misrouting")
CASES = [
    pytest.param(name, seed, "sqlite", id=f"{name}-{seed}") for name in SCENARIOS for seed in SEEDS
]
CASES += [
    pytest.param(name, 3, "postgresql", id=f"{name}-pg", marks=pytest.mark.postgres)
    for name in ON_POSTGRES
]


@pytest.fixture
def scenario_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend = request.node.callspec.params["backend"]
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'tierbot.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL tests need TIERBOT_TEST_DATABASE_URL (CI sets it; see README)")
        _reset_postgres(PG_URL)
        url = PG_URL
    store = open_store(Settings(database_url=url))
    yield store
    store.close()


def _diagnose(store: Store) -> Report:
    with store.sessions() as session:
        return which_tier(session=session, budgets=Settings().budgets, end=END, baseline=BASELINE)


@pytest.mark.parametrize(("name", "seed", "backend"), CASES)
def test_scenario_is_diagnosed(scenario_store: Store, name: str, seed: int, backend: str) -> None:
    sim = load_scenario(scenario_store, name, seed)
    report = _diagnose(scenario_store)
    document = report.to_dict()
    errors = list(REPORT_SCHEMA.iter_errors(document))
    assert not errors, errors
    expected = sim.expected

    assert set(report.failing) == set(expected.failing), report.verdict
    for tier, dims in expected.suspects.items():
        top = next(s for s in report.suspects if s.tier == tier)
        assert top.dimensions == dims, (tier, [s.dimensions for s in report.suspects])
        assert top.share_of_excess >= 0.5
    listed = {(c.cohort, c.model_id) for c in report.changes}
    assert set(expected.changes) <= listed
    if not expected.failing:
        assert not [s for s in report.suspects if s.related_change], "an innocent change was blamed"
    for tier in report.failing:
        assert tier in report.verdict
