"""Stores loaded with a simulated scenario, for the diagnosis tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.sandbox.scenarios import SCENARIOS
from bot.sandbox.traffic import Simulator
from bot.store import Store
from bot.telemetry.ingest import ingest_cohort_assignments, ingest_events, records_from_values

END = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
RATE = 120.0
BASELINE = timedelta(hours=6)


def load_scenario(
    store: Store, name: str, seed: int, *, rate: float = RATE, baseline: timedelta = BASELINE
) -> Simulator:
    """Simulate `name` and ingest it through the real ingest path."""
    sim = SCENARIOS[name](seed=seed, end=END, rate_per_minute=rate, baseline=baseline)
    ingest_cohort_assignments(store.engine, records_from_values(sim.assignments()), source="sim")
    ingest_events(store.engine, records_from_values(sim.events()), source="sim")
    return sim
