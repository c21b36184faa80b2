"""Where background work tells people things: one notifier per feature, chosen in one place.

Domain packages define a notifier protocol and a log implementation (what the CLI and a server
without Slack use); the Slack front end implements the same protocols. The composition root
(`bot.app.create_server_app`) builds a `Notifiers` with the Slack ones when Slack is configured,
and hands it to the scheduler and the services that need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.probes.notify import AlertNotifier, LogNotifier


@dataclass(frozen=True)
class Notifiers:
    probe_alerts: AlertNotifier = field(default_factory=LogNotifier)
