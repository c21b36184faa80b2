"""Slack's side of the composition root: the notifiers that post, and the listeners' deps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from bot.notifiers import Notifiers
from bot.probes.notify import AlertNotifier, LogNotifier
from bot.probes.service import ProbeRunner
from bot.settings import Settings
from bot.slack.deps import SlackDeps
from bot.slack.metrics import ServerMetrics
from bot.slack.playbooks import SlackPlaybookNotifier
from bot.slack.probe_alerts import SlackAlertNotifier
from bot.slack.rollbacks import SlackRollbackNotifier
from bot.store import Store
from bot.timeutil import utcnow


def slack_notifiers(settings: Settings, client: WebClient) -> Notifiers:
    """Slack's notifiers; probe alerts go to `slack_alert_channel`, or only the log without one."""
    alerts: AlertNotifier = (
        SlackAlertNotifier(client, settings.slack_alert_channel)
        if settings.slack_alert_channel
        else LogNotifier()
    )
    return Notifiers(
        probe_alerts=alerts,
        playbooks=SlackPlaybookNotifier(client),
        rollbacks=SlackRollbackNotifier(client, settings.rollouts),
    )


def slack_deps(
    settings: Settings,
    store: Store,
    client: WebClient,
    *,
    metrics: ServerMetrics | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> SlackDeps:
    """Everything the listeners share, the probe runner included (one per process)."""
    notifiers = slack_notifiers(settings, client)
    runner = ProbeRunner(store, settings.probes, notifiers.probe_alerts, clock=clock)
    return SlackDeps(
        settings=settings,
        store=store,
        probe_runner=runner,
        notifiers=notifiers,
        metrics=metrics or ServerMetrics(),
        clock=clock,
    )
