"""Stores loaded with the build health scenarios, once per module and backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.store import Store, open_store
from tests.conftest import BACKENDS, PG_URL, _reset_postgres
from tests.diagnosis.conftest import load_scenario


def _open(backend: str, tmp: Path) -> Store:
    if backend == "sqlite":
        return open_store(Settings(database_url=f"sqlite:///{tmp / 'tierbot.db'}"))
    if not PG_URL:
        pytest.skip("PostgreSQL tests need TIERBOT_TEST_DATABASE_URL (CI sets it; see README)")
    _reset_postgres(PG_URL)
    return open_store(Settings(database_url=PG_URL))


def _loaded(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, name: str
) -> Iterator[Store]:
    store = _open(request.param, factory.mktemp(name))
    load_scenario(store, name, seed=1)
    yield store
    store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def crash_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """`os_crash_new_build`: router-3.2-int8 crashes on android-15 from 10 min before END-30m."""
    yield from _loaded(request, tmp_path_factory, "os_crash_new_build")


@pytest.fixture(scope="module", params=BACKENDS)
def stale_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """`stale_config`: us-android-stable's android-14 phones run the old config until onset."""
    yield from _loaded(request, tmp_path_factory, "stale_config")
