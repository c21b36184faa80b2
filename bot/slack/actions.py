"""Buttons on tierbot's answers: "Which tier failed?" on status, "Cohort X" on which-tier.

Both only read, so a double click posts the answer twice and changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.slack import answers
from bot.slack.arguments import DEFAULT_WINDOW, parse_window
from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError, guarded
from bot.slack.views.status import FAILED_ACTION
from bot.slack.views.which_tier import COHORT_ACTION


def _ack(ack: Ack) -> None:
    ack()


def _channel(body: dict[str, Any]) -> str:
    return str(body["channel"]["id"])


def register(app: App, deps: SlackDeps) -> None:
    @guarded
    def which_tier_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        value = str(body["actions"][0].get("value") or "")
        try:
            window = parse_window(value) if value else DEFAULT_WINDOW
        except UsageError:
            window = DEFAULT_WINDOW
        answers.post_which_tier(deps, client, _channel(body), window, user=body["user"]["id"])

    @guarded
    def cohort_clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        answers.post_cohort(deps, client, _channel(body), str(body["actions"][0]["value"]))

    app.action(FAILED_ACTION)(ack=_ack, lazy=[which_tier_clicked])
    app.action(re.compile(rf"^{COHORT_ACTION}_\d+$"))(ack=_ack, lazy=[cohort_clicked])
