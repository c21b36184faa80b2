"""Probe fixtures: the shipped demo builds in a fresh store, the cloud stand-in on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.db import transaction
from bot.probes.registry import RegisteredBuild
from bot.probes.settings import CloudEndpoint, ProbeSettings
from bot.sandbox.cloud import CloudStandIn
from bot.sandbox.models import register_demo_builds
from bot.store import Store
from bot.timeutil import utcnow

API_KEY = "sk-test-do-not-leak-4f9a"
MODEL = "assistant-large-2026-11"


@pytest.fixture
def demo_builds(store: Store, tmp_path: Path) -> list[RegisteredBuild]:
    with transaction(store.sessions) as session:
        return register_demo_builds(session=session, now=utcnow(), cache_dir=tmp_path / "cache")


@pytest.fixture
def cloud() -> Iterator[tuple[CloudStandIn, str]]:
    stand_in = CloudStandIn(model=MODEL, api_key=API_KEY)
    with stand_in.serve() as url:
        yield stand_in, url


def endpoint(
    base_url: str, name: str = "", protocol: str = "openai", **overrides: Any
) -> CloudEndpoint:
    """An endpoint of the stand-in; `name` selects its fault set (`/{name}/v1/...`)."""
    values: dict[str, Any] = {
        "name": name or "primary",
        "region": "eu-west-1",
        "protocol": protocol,
        "base_url": f"{base_url}/{name}" if name else base_url,
        "model": MODEL,
        "api_key": API_KEY,
        "timeout_seconds": 5,
        "latency_budget_ms": 5000,
    }
    return CloudEndpoint(**(values | overrides))


def probe_settings(tmp_path: Path, **overrides: Any) -> ProbeSettings:
    return ProbeSettings(model_cache_dir=tmp_path / "cache", jitter_seconds=0, **overrides)
