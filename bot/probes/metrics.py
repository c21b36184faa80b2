"""The latest probe results as Prometheus text exposition (format 0.0.4), for `GET /metrics`.

A pure function so any front end can mount it; existing Prometheus/Grafana setups scrape it.
Every check with a number is exported, so a dashboard can plot agreement, SQNR or latency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.probes.notify import Alert
from bot.probes.results import ProbeResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_HELP = {
    "tierbot_probe_up": "1 when the target's latest probe passed every check, else 0.",
    "tierbot_probe_check_ok": "1 when the check passed in the target's latest probe, else 0.",
    "tierbot_probe_check_value": "The number the check measured in the target's latest probe.",
    "tierbot_probe_check_limit": "The limit the check's number was judged against.",
    "tierbot_probe_duration_seconds": "How long the target's latest probe took.",
    "tierbot_probe_last_run_timestamp_seconds": "When the target's latest probe started.",
    "tierbot_probe_alert_open": "1 while the target's alert is open, else 0.",
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if value == value else "NaN"


def _samples(results: Sequence[ProbeResult], alerts: Sequence[Alert]) -> Iterable[tuple[str, str]]:
    for r in results:
        target = {"target": r.target, "tier": r.tier}
        yield "tierbot_probe_up", f"{_labels(**target)} {int(r.ok)}"
        yield (
            "tierbot_probe_duration_seconds",
            f"{_labels(**target)} {_number(r.duration_ms / 1000)}",
        )
        yield (
            "tierbot_probe_last_run_timestamp_seconds",
            f"{_labels(**target)} {_number(r.started_at.timestamp())}",
        )
        for name, check in r.checks.items():
            labels = _labels(**target, check=name)
            yield "tierbot_probe_check_ok", f"{labels} {int(check.ok)}"
            if check.value is not None:
                yield "tierbot_probe_check_value", f"{labels} {_number(check.value)}"
            if check.limit is not None:
                yield "tierbot_probe_check_limit", f"{labels} {_number(check.limit)}"
    for alert in alerts:
        labels = _labels(target=alert.target, tier=alert.tier)
        yield "tierbot_probe_alert_open", f"{labels} {int(alert.state == 'open')}"


def render_metrics(results: Sequence[ProbeResult], alerts: Sequence[Alert] = ()) -> str:
    """Render gauges grouped per metric family, each with HELP and TYPE lines."""
    families: dict[str, list[str]] = {name: [] for name in _HELP}
    for name, sample in _samples(results, alerts):
        families[name].append(f"{name}{sample}")
    lines: list[str] = []
    for name, samples in families.items():
        if samples:
            lines += [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} gauge", *samples]
    return "\n".join(lines) + "\n" if lines else ""
