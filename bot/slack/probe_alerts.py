"""Probe alerts in Slack: the opening message in the alert channel, the recovery in its thread.

`bot.probes.alerts.deliver_changes` calls this once per state change, after one replica has
claimed the change, so a flapping target or two replicas never post twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from bot.probes.notify import Alert
from bot.probes.results import ProbeResult
from bot.slack.views.probes import alert_opened_message, alert_resolved_message


def thread_ref(channel: str, ts: str) -> str:
    return f"slack:{channel}:{ts}"


def parse_thread_ref(ref: str | None) -> tuple[str, str] | None:
    """(channel, ts) of a reference this notifier made; None for other notifiers' references."""
    if ref is None or not ref.startswith("slack:"):
        return None
    _, channel, ts = ref.split(":", 2)
    return channel, ts


@dataclass(frozen=True)
class SlackAlertNotifier:
    client: WebClient
    channel: str

    def opened(self, alert: Alert, result: ProbeResult | None) -> str | None:
        message = alert_opened_message(alert, result)
        response = self.client.chat_postMessage(channel=self.channel, **message.to_dict())
        return thread_ref(str(response["channel"]), str(response["ts"]))

    def resolved(self, alert: Alert, result: ProbeResult | None, thread_ref: str | None) -> None:
        message = alert_resolved_message(alert, result)
        where = parse_thread_ref(thread_ref)
        if where is None:
            self.client.chat_postMessage(channel=self.channel, **message.to_dict())
            return
        channel, ts = where
        self.client.chat_postMessage(
            channel=channel, thread_ts=ts, reply_broadcast=True, **message.to_dict()
        )
