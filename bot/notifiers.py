"""Where background work tells people things: one notifier per feature, chosen in one place.

Domain packages define a notifier protocol and a log implementation (what the CLI and a server
without Slack use); the Slack front end implements the same protocols. The composition root
(`bot.app.create_server_app`) builds a `Notifiers` with the Slack ones when Slack is configured,
and hands it to the scheduler and the services that need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.playbooks.notify import LogPlaybookNotifier, PlaybookNotifier
from bot.probes.notify import AlertNotifier, LogNotifier
from bot.rollouts.notify import LogRollbackNotifier, RollbackNotifier
from bot.settings import Settings


@dataclass(frozen=True)
class Notifiers:
    probe_alerts: AlertNotifier = field(default_factory=LogNotifier)
    playbooks: PlaybookNotifier = field(default_factory=LogPlaybookNotifier)
    rollbacks: RollbackNotifier = field(default_factory=LogRollbackNotifier)


def notifiers_for(settings: Settings) -> Notifiers:
    """What the CLI and a server use: Slack's notifiers when Slack is configured, else the log.

    One choice for every entry point, so an alert that opens during `tierbot probe run` is
    announced where the server would have announced it.
    """
    if settings.slack_bot_token is None:
        return Notifiers()
    from bot.slack.app import make_web_client
    from bot.slack.wiring import slack_notifiers

    return slack_notifiers(settings, make_web_client(settings))
