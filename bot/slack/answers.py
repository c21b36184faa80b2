"""The work behind `/tier status|failed|cohort` and their buttons: call a service, post a view.

Each answer posts in the channel it was asked in; the which-tier chart goes in the answer's
thread so the channel keeps one message per question.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient

from bot.buildhealth.service import cohort_staleness
from bot.db import transaction
from bot.diagnosis.report import Report
from bot.diagnosis.series import tier_minute_series
from bot.diagnosis.service import which_tier
from bot.incidents.reports import record_which_tier
from bot.probes.results import ProbeResult
from bot.probes.store import latest_results
from bot.rollouts.service import cohort_history
from bot.slack.charts import which_tier_chart
from bot.slack.deps import SlackDeps
from bot.slack.views.cohort import cohort_message
from bot.slack.views.common import Message
from bot.slack.views.status import status_message
from bot.slack.views.which_tier import which_tier_message

log = logging.getLogger(__name__)

STATUS_WINDOW = timedelta(minutes=30)
BASELINE = timedelta(hours=24)
CHART_FILENAME = "which-tier.png"


def _post(client: WebClient, channel: str, message: Message, thread_ts: str | None = None) -> str:
    response = client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message.to_dict())
    return str(response["ts"])


def window_label(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _report(deps: SlackDeps, window: timedelta) -> Report:
    with deps.store.sessions() as session:
        report = which_tier(
            session=session,
            budgets=deps.settings.budgets,
            end=deps.clock(),
            window=window,
            baseline=BASELINE,
            build_health=deps.settings.build_health,
        )
    deps.metrics.record_report(report)
    return report


def post_status(deps: SlackDeps, client: WebClient, channel: str) -> str:
    """Tiers at a glance: the last 30 minutes and the latest probe of every target."""
    report = _report(deps, STATUS_WINDOW)
    with deps.store.sessions() as session:
        probes: list[ProbeResult] = latest_results(session=session)
    return _post(client, channel, status_message(report, probes))


def post_which_tier(
    deps: SlackDeps, client: WebClient, channel: str, window: timedelta, user: str | None = None
) -> str:
    """The which-tier answer, then its chart in the thread."""
    report = _report(deps, window)
    with transaction(deps.store.sessions) as session:  # on the activity log: incident timelines
        record_which_tier(
            session=session,
            report=report,
            now=deps.clock(),
            actor=user,
            source="slack",
            channel=channel,
        )
    ts = _post(client, channel, which_tier_message(report, window_label=window_label(window)))
    context_start = report.window_start - window
    with deps.store.sessions() as session:
        series = tier_minute_series(session=session, start=context_start, end=report.window_end)
    png = which_tier_chart(report, series, context_start=context_start)
    client.files_upload_v2(
        channel=channel,
        thread_ts=ts,
        file=png,
        filename=CHART_FILENAME,
        title=f"Error rate and p95 per tier, {window_label(window)} to "
        f"{report.window_end:%H:%M} UTC",
    )
    return ts


def post_cohort(deps: SlackDeps, client: WebClient, channel: str, cohort: str) -> str:
    """Which build the cohort runs, since when, its history (UnknownCohort names known ones)."""
    with deps.store.sessions() as session:
        history = cohort_history(session=session, cohort=cohort)
        staleness = cohort_staleness(
            session=session, cohort=cohort, end=deps.clock(), settings=deps.settings.build_health
        )
    return _post(client, channel, cohort_message(cohort, history, deps.clock(), staleness))
