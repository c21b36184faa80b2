"""Alert hysteresis through real probe rounds: open after 3 failures, resolve after 2 passes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.probes.alerts import alerts, deliver_changes
from bot.probes.models import ProbeAlert, ProbeRun
from bot.probes.notify import Alert, LogNotifier
from bot.probes.results import ProbeResult
from bot.probes.service import ProbeRunner
from bot.sandbox.cloud import CloudFaults, CloudStandIn
from bot.settings import Settings
from bot.store import Store, open_store
from tests.probes.conftest import endpoint, probe_settings

TARGET = "cloud/eu-west-1/flaky"
Flaky = tuple[CloudFaults, ProbeRunner, LogNotifier]


@pytest.fixture
def flaky(store: Store, cloud: tuple[CloudStandIn, str], tmp_path: Path) -> Flaky:
    stand_in, url = cloud
    settings = probe_settings(tmp_path, cloud_endpoints=[endpoint(url, "flaky", protocol="oip")])
    notifier = LogNotifier()
    return (
        stand_in.faults("flaky"),
        ProbeRunner(store, settings, notifier, runner_id="r1"),
        notifier,
    )


def test_two_failures_do_not_alert_the_third_alerts_once(flaky: Flaky) -> None:
    faults, runner, notifier = flaky
    faults.status = 503
    runner.run_round("cloud")
    runner.run_round("cloud")
    assert notifier.notices == []
    runner.run_round("cloud")
    assert [n.kind for n in notifier.notices] == ["opened"]
    assert "ready HTTP 503" in notifier.notices[0].text  # the numbers are in the alert
    runner.run_round("cloud")
    runner.run_round("cloud")
    assert len(notifier.notices) == 1  # still failing: no storm


def test_recovery_after_two_passes_in_the_same_thread(flaky: Flaky) -> None:
    faults, runner, notifier = flaky
    faults.status = 500
    for _ in range(3):
        runner.run_round("cloud")
    faults.status = None
    runner.run_round("cloud")
    assert [n.kind for n in notifier.notices] == ["opened"]
    runner.run_round("cloud")
    assert [n.kind for n in notifier.notices] == ["opened", "resolved"]
    opened, resolved = notifier.notices
    assert opened.thread_ref is not None and resolved.thread_ref == opened.thread_ref
    runner.run_round("cloud")
    assert len(notifier.notices) == 2


def test_a_pass_between_failures_resets_the_count(flaky: Flaky) -> None:
    faults, runner, notifier = flaky
    for status in (503, 503, None, 503, 503):
        faults.status = status
        runner.run_round("cloud")
    assert notifier.notices == []


def test_thresholds_come_from_settings(
    cloud: tuple[CloudStandIn, str], store: Store, tmp_path: Path
) -> None:
    stand_in, url = cloud
    settings = probe_settings(
        tmp_path,
        cloud_endpoints=[endpoint(url, "flaky", protocol="oip")],
        open_after_failures=1,
        resolve_after_passes=1,
    )
    notifier = LogNotifier()
    runner = ProbeRunner(store, settings, notifier)
    stand_in.faults("flaky").status = 503
    runner.run_round("cloud")
    stand_in.faults("flaky").status = None
    runner.run_round("cloud")
    assert [n.kind for n in notifier.notices] == ["opened", "resolved"]


def test_state_survives_a_restart_and_is_shared_by_replicas(
    flaky: Flaky, settings: Settings
) -> None:
    faults, first, first_notifier = flaky
    faults.status = 503
    first.run_round("cloud")
    first.run_round("cloud")
    other_store = open_store(settings)  # another replica: its own engine and runner
    try:
        second_notifier = LogNotifier()
        second = ProbeRunner(other_store, first.settings, second_notifier, runner_id="r2")
        second.run_round("cloud")
        assert [n.kind for n in second_notifier.notices] == ["opened"]
        faults.status = None
        first.run_round("cloud")
        second.run_round("cloud")
        assert [n.kind for n in second_notifier.notices] == ["opened", "resolved"]
        assert first_notifier.notices == []
        assert second_notifier.notices[1].thread_ref == second_notifier.notices[0].thread_ref
    finally:
        other_store.close()


def test_two_replicas_delivering_the_same_change_post_once(
    flaky: Flaky, settings: Settings
) -> None:
    faults, runner, _ = flaky
    faults.status = 503
    for _ in range(3):
        runner.save(runner.probe("cloud"))  # stored, not yet announced: the change is pending
    other_store = open_store(settings)
    try:
        a, b = LogNotifier(), LogNotifier()
        deliver_changes(runner.store.sessions, a)
        deliver_changes(other_store.sessions, b)
        deliver_changes(runner.store.sessions, a)
        assert [n.kind for n in a.notices + b.notices] == ["opened"]
    finally:
        other_store.close()


class _FailingNotifier:
    def __init__(self) -> None:
        self.calls = 0

    def opened(self, alert: Alert, result: ProbeResult | None) -> str | None:
        self.calls += 1
        raise RuntimeError("slack is down")

    def resolved(self, alert: Alert, result: ProbeResult | None, thread_ref: str | None) -> None:
        raise AssertionError("not expected")


def test_a_failed_notification_is_retried_on_the_next_delivery(flaky: Flaky) -> None:
    faults, runner, _ = flaky
    faults.status = 503
    for _ in range(3):
        runner.save(runner.probe("cloud"))
    failing = _FailingNotifier()
    assert deliver_changes(runner.store.sessions, failing) == []
    later = LogNotifier()
    [announced] = deliver_changes(runner.store.sessions, later)
    assert announced.state == "open" and [n.kind for n in later.notices] == ["opened"]
    with runner.store.sessions() as session:
        [alert] = alerts(session=session)
        assert alert.thread_ref == later.notices[0].thread_ref


def test_results_and_alert_rows_are_stored(flaky: Flaky) -> None:
    faults, runner, _ = flaky
    faults.status = 503
    for _ in range(3):
        runner.run_round("cloud")
    with runner.store.sessions() as session:
        rows = session.scalars(select(ProbeRun).where(ProbeRun.target == TARGET)).all()
        alert = session.get(ProbeAlert, TARGET)
    assert len(rows) == 3 and not any(r.ok for r in rows) and {r.runner for r in rows} == {"r1"}
    assert alert is not None and alert.state == alert.announced_state == "open"
    assert alert.consecutive_failures == 3 and alert.last_result_id == rows[-1].id
