"""`/tier status`, `/tier failed [window]`, `/tier cohort NAME`: the read-only questions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from slack_bolt import App

from bot.slack import actions, answers
from bot.slack.arguments import DEFAULT_WINDOW, one_name, parse_window
from bot.slack.deps import SlackDeps
from bot.slack.errors import UsageError
from bot.slack.subcommands import Invocation, Subcommand, no_arguments

STATUS_USAGE = "`/tier status`: the tiers at a glance (latest probes, the last 30 min)"
FAILED_USAGE = "`/tier failed [window]`: which tier failed, e.g. `/tier failed 15m` (default 30m)"
COHORT_USAGE = "`/tier cohort NAME`: which build a cohort runs, since when, and its history"


def _parse_failed(args: Sequence[str]) -> timedelta:
    usage = f"Usage: {FAILED_USAGE}"
    if len(args) > 1:
        raise UsageError(f"`failed` takes at most one window (got `{' '.join(args)}`).", usage)
    return parse_window(args[0], usage) if args else DEFAULT_WINDOW


def _parse_cohort(args: Sequence[str]) -> str:
    return one_name("cohort", "cohort", tuple(args), f"Usage: {COHORT_USAGE}")


def _status(deps: SlackDeps, asked: Invocation, _: object) -> None:
    answers.post_status(deps, asked.client, asked.channel)


def _failed(deps: SlackDeps, asked: Invocation, window: timedelta) -> None:
    answers.post_which_tier(deps, asked.client, asked.channel, window, user=asked.user)


def _cohort(deps: SlackDeps, asked: Invocation, cohort: str) -> None:
    answers.post_cohort(deps, asked.client, asked.channel, cohort)


SUBCOMMANDS = (
    Subcommand(
        "status", (STATUS_USAGE,), no_arguments("status", f"Usage: {STATUS_USAGE}"), _status
    ),
    Subcommand(
        "failed", (FAILED_USAGE,), _parse_failed, _failed, done_when="files.completeUploadExternal"
    ),
    Subcommand("cohort", (COHORT_USAGE,), _parse_cohort, _cohort),
)


def register(app: App, deps: SlackDeps) -> None:
    actions.register(app, deps)
