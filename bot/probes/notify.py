"""Where alert state changes are told: a protocol the Slack front end implements, and a log one.

The notifier is called after the state change is committed and claimed by exactly one replica;
`opened` returns a thread reference (a Slack message ts, say) that `resolved` answers in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from bot.probes.results import ProbeResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """An alert as a notifier sees it: the target, its episode, and the thread to answer in."""

    target: str
    tier: str
    state: str
    opened_at: datetime | None
    resolved_at: datetime | None
    consecutive_failures: int
    consecutive_passes: int
    thread_ref: str | None


class AlertNotifier(Protocol):
    def opened(self, alert: Alert, result: ProbeResult | None) -> str | None:
        """Announce an opened alert with the failing numbers; return a thread reference."""

    def resolved(self, alert: Alert, result: ProbeResult | None, thread_ref: str | None) -> None:
        """Announce the recovery, in the opening message's thread when there is one."""


@dataclass(frozen=True)
class Notice:
    kind: Literal["opened", "resolved"]
    target: str
    text: str
    thread_ref: str | None


@dataclass
class LogNotifier:
    """Writes alert changes to the log and keeps them (the CLI and the tests use it)."""

    notices: list[Notice] = field(default_factory=list)

    def opened(self, alert: Alert, result: ProbeResult | None) -> str | None:
        thread_ref = f"log:{alert.target}:{len(self.notices) + 1}"
        detail = result.summary() if result is not None else alert.target
        text = (
            f"ALERT {alert.target} ({alert.tier}) opened after "
            f"{alert.consecutive_failures} failed probes: {detail}"
        )
        self._record(Notice("opened", alert.target, text, thread_ref))
        return thread_ref

    def resolved(self, alert: Alert, result: ProbeResult | None, thread_ref: str | None) -> None:
        text = (
            f"RESOLVED {alert.target} ({alert.tier}) after "
            f"{alert.consecutive_passes} passing probes"
        )
        self._record(Notice("resolved", alert.target, text, thread_ref))

    def _record(self, notice: Notice) -> None:
        self.notices.append(notice)
        log.warning("%s", notice.text)
