"""The scheduler polls pull sources on its own: a real APScheduler against a loopback server."""

from __future__ import annotations

import time

from bot.scheduling import build_scheduler
from bot.settings import PullSource, Settings
from bot.store import Store
from bot.telemetry.pull import load_cursor
from tests.factories import event
from tests.telemetry.conftest import Feed


def test_the_scheduler_runs_each_pull_source(
    store: Store, settings: Settings, feed: tuple[Feed, str]
) -> None:
    state, url = feed
    state.events = [event(n) for n in range(40)]
    source = PullSource(name="router-logs", kind="router_events", url=url, interval_seconds=0.5)
    scheduler = build_scheduler(store, settings.model_copy(update={"pull_sources": [source]}))
    assert {"pull:router-logs", "retention"} <= {job.id for job in scheduler.get_jobs()}
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while load_cursor(store.engine, "router-logs") is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert load_cursor(store.engine, "router-logs") == state.events[-1]["ts"]
