"""Where a run shows itself: the protocol front ends implement, and the log implementation.

The service calls these after each commit, for every run and step a move touched; Slack posts
one message per step in the run's thread and updates it when the step is done.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.playbooks.views import RunView, StepView

log = logging.getLogger(__name__)


class PlaybookNotifier(Protocol):
    def run_started(self, run: RunView) -> str | None:
        """Announce a run; returns the thread its steps go in (a Slack ts), if any."""

    def step_changed(self, run: RunView, step: StepView) -> str | None:
        """Show a step (new, or changed since `step.message_ts`); returns its message ref."""

    def run_finished(self, run: RunView) -> None:
        """Say how the run ended."""


class LogPlaybookNotifier:
    """What the CLI and a server without Slack use: one log line per change."""

    def run_started(self, run: RunView) -> str | None:
        log.info("playbook run %d (%s %s) started by %s", run.id, run.playbook, run.version,
                 run.started_by)  # fmt: skip
        return None

    def step_changed(self, run: RunView, step: StepView) -> str | None:
        who = f" by {step.actor}" if step.actor else ""
        log.info("playbook run %d step %s: %s%s", run.id, step.step_id, step.state, who)
        return None

    def run_finished(self, run: RunView) -> None:
        log.info("playbook run %d finished: %s", run.id, run.outcome)
