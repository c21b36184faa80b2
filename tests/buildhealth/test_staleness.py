"""Config staleness: the numbers, the alert opening and resolving with hysteresis, the
scheduled job, and what /tier status and /tier cohort say."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from bot.activity.service import entries
from bot.buildhealth.schedule import JOB_ID, add_build_health_jobs, check_config_staleness
from bot.buildhealth.staleness import CohortStaleness, config_staleness
from bot.console.slack_session import SlackSession
from bot.notifiers import Notifiers
from bot.probes.alerts import alerts
from bot.probes.notify import LogNotifier
from bot.sandbox.scenarios import NEW_CONFIG, OLD_CONFIG, STALE_COHORT
from bot.scheduling import build_scheduler
from bot.settings import Settings
from bot.store import Store
from tests.diagnosis.conftest import END

WINDOW_START = END - timedelta(minutes=30)
ASSIGNED = WINDOW_START - timedelta(hours=2)  # the new config's assignment
FIXED = WINDOW_START + timedelta(minutes=6)  # the stale phones pick it up
TARGET = f"config/{STALE_COHORT}"


def _settings(store: Store, **build_health: object) -> Settings:
    url = store.engine.url.render_as_string(hide_password=False)
    return Settings(
        database_url=url,
        build_health={"open_after_failures": 2, "resolve_after_passes": 2, **build_health},
    )


def _at(store: Store, when: datetime) -> dict[str, CohortStaleness]:
    with store.sessions() as session:
        found = config_staleness(session=session, end=when, settings=_settings(store).build_health)
    return {item.cohort: item for item in found}


def test_the_stale_share_and_since_when(stale_store: Store) -> None:
    before = _at(stale_store, WINDOW_START)
    stale = before[STALE_COHORT]
    assert stale.canonical == {"cloud": NEW_CONFIG, "edge": NEW_CONFIG}
    assert stale.stale_share is not None and 0.4 < stale.stale_share < 0.7
    assert stale.stale_hashes[0][0] == OLD_CONFIG
    assert stale.stale_since == stale.over_threshold_since == ASSIGNED
    assert stale.sustained
    others = [item for name, item in before.items() if name != STALE_COHORT]
    assert others and all(item.stale_requests == 0 for item in others)

    after = _at(stale_store, END)[STALE_COHORT]
    assert after.over_threshold_since is None and not after.sustained
    assert after.stale_share is not None and after.stale_share < 0.2  # 6 stale min of 30


def test_the_alert_opens_and_resolves_with_hysteresis(stale_store: Store) -> None:
    settings = _settings(stale_store)
    log = LogNotifier()
    notifiers = Notifiers(probe_alerts=log)

    first = check_config_staleness(
        stale_store, settings, notifiers, WINDOW_START - timedelta(minutes=5)
    )
    assert [(c.cohort, c.ok, c.state) for c in first if not c.ok] == [(STALE_COHORT, False, "ok")]
    assert not log.notices  # one stale check is not an alert yet
    second = check_config_staleness(stale_store, settings, notifiers, WINDOW_START)
    assert [c.state for c in second if c.cohort == STALE_COHORT] == ["open"]
    assert [(n.kind, n.target) for n in log.notices] == [("opened", TARGET)]
    assert all(c.ok and c.state == "ok" for c in second if c.cohort != STALE_COHORT)

    check_config_staleness(stale_store, settings, notifiers, END - timedelta(minutes=10))
    assert len(log.notices) == 1  # one clean check does not resolve it
    check_config_staleness(stale_store, settings, notifiers, END)
    assert [(n.kind, n.target) for n in log.notices] == [("opened", TARGET), ("resolved", TARGET)]
    check_config_staleness(stale_store, settings, notifiers, END)
    assert len(log.notices) == 2

    with stale_store.sessions() as session:
        states = {a.target: a.state for a in alerts(session=session)}
        timeline = entries(session=session, subject=TARGET)
    assert states[TARGET] == "ok"
    kinds = [e.kind for e in timeline]
    assert kinds.count("build_health.stale_config_opened") == 1
    assert kinds.count("build_health.stale_config_resolved") == 1
    assert kinds.count("probe.alert_opened") == 1 and kinds.count("probe.alert_resolved") == 1
    opened = next(e for e in timeline if e.kind == "build_health.stale_config_opened")
    assert opened.at == WINDOW_START and opened.data["sustained"] is True
    assert opened.data["stale_hashes"][0]["config_hash"] == OLD_CONFIG


def test_the_scheduler_runs_the_check_only_when_enabled(stale_store: Store) -> None:
    assert JOB_ID not in {
        j.id for j in build_scheduler(stale_store, _settings(stale_store)).get_jobs()
    }
    settings = _settings(stale_store, alerts_enabled=True, check_interval_seconds=5)
    scheduler = build_scheduler(stale_store, settings)
    assert JOB_ID in {j.id for j in scheduler.get_jobs()}
    scheduler.remove_all_jobs()
    when = WINDOW_START - timedelta(minutes=1)
    add_build_health_jobs(scheduler, stale_store, settings, Notifiers(), clock=lambda: when)
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with stale_store.sessions() as session:
                rows = {a.target: a for a in alerts(session=session)}
            if TARGET in rows and rows[TARGET].consecutive_failures >= 1:
                break
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    assert rows[TARGET].consecutive_failures >= 1


def test_status_and_cohort_show_the_stale_config(stale_store: Store) -> None:
    settings = _settings(stale_store)
    with SlackSession.start(settings, stale_store, clock=lambda: WINDOW_START) as slack:
        status = slack.command("status")
        cohort = slack.command(f"cohort {STALE_COHORT}")
    status_text = str(status.messages[0].blocks)
    assert "config staleness" in status_text and STALE_COHORT in status_text
    assert OLD_CONFIG in status_text and ":warning:" in status_text
    cohort_text = str(cohort.messages[0].blocks)
    assert "*config*" in cohort_text and "on a stale config since" in cohort_text
    assert NEW_CONFIG in cohort_text
