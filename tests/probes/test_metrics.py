"""Prometheus text exposition of the latest probe results."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.probes.metrics import render_metrics
from bot.probes.notify import Alert
from bot.probes.results import Check, ProbeResult

STARTED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_results_and_alerts_render_as_gauges() -> None:
    bad = ProbeResult(
        target="edge/router-int8-badscale",
        tier="edge",
        started_at=STARTED,
        duration_ms=4.5,
        checks={
            "sha256": Check(ok=True, detail="matches"),
            "top1_agreement": Check(ok=False, value=0.40234375, limit=0.98),
        },
    )
    alert = Alert("edge/router-int8-badscale", "edge", "open", STARTED, None, 3, 0, None)
    text = render_metrics([bad], [alert])
    lines = text.splitlines()
    labels = 'target="edge/router-int8-badscale",tier="edge"'
    assert f"tierbot_probe_up{{{labels}}} 0" in lines
    assert f'tierbot_probe_check_ok{{{labels},check="top1_agreement"}} 0' in lines
    assert f'tierbot_probe_check_value{{{labels},check="top1_agreement"}} 0.40234375' in lines
    assert f'tierbot_probe_check_limit{{{labels},check="top1_agreement"}} 0.98' in lines
    assert f"tierbot_probe_duration_seconds{{{labels}}} 0.0045" in lines
    assert f"tierbot_probe_last_run_timestamp_seconds{{{labels}}} {STARTED.timestamp()!r}" in lines
    assert f"tierbot_probe_alert_open{{{labels}}} 1" in lines
    assert not any(
        line.startswith("tierbot_probe_check_value{") and "sha256" in line for line in lines
    )
    # Every family is announced once, before its samples.
    assert text.count("# TYPE tierbot_probe_check_ok gauge") == 1
    assert lines.index("# TYPE tierbot_probe_up gauge") < lines.index(
        f"tierbot_probe_up{{{labels}}} 0"
    )
    assert text.endswith("\n")


def test_label_values_are_escaped() -> None:
    odd = ProbeResult('cloud/eu/"quoted"\\n', "cloud", STARTED, 1.0, checks={"x": Check(ok=True)})
    assert 'target="cloud/eu/\\"quoted\\"\\\\n"' in render_metrics([odd])


def test_nothing_to_report_is_an_empty_exposition() -> None:
    assert render_metrics([]) == ""
