"""Shared fixtures: a fresh store per test on SQLite, and again on PostgreSQL when configured.

Set TIERBOT_TEST_DATABASE_URL (e.g. postgresql+psycopg://tierbot@127.0.0.1:5432/tierbot_test)
to run every store test on PostgreSQL too; CI always does (.ci/run).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.db import make_engine
from bot.settings import Settings
from bot.store import Store, open_store

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ["no_proxy"] = os.environ["NO_PROXY"]
PG_URL = os.environ.get("TIERBOT_TEST_DATABASE_URL")
SHARED_CONTRACTS = Path(__file__).resolve().parents[2] / "shared" / "contracts"
CONTRACTS = Path(__file__).resolve().parents[1] / "bot" / "telemetry" / "schemas"

_real_connect = socket.socket.connect


def _loopback_only(sock: socket.socket, address: Any) -> Any:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConnectionRefusedError(f"tests may only reach loopback, not {host}")
    return _real_connect(sock, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection that is not to 127.0.0.0/8 or ::1."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database: a SQLite file, or the PostgreSQL test database wiped."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tierbot.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL tests need TIERBOT_TEST_DATABASE_URL (CI sets it; see README)")
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, ingest_token="test-token", ingest_batch_size=1000)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings)
    yield opened
    opened.close()
