"""`/tier status`: each tier at a glance, the last 30 minutes and the latest probes."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.diagnosis.report import Report
from bot.probes.results import ProbeResult
from bot.slack.views.build_health import staleness_line
from bot.slack.views.common import Message, clip, context, ms, pct, section, status_label

FAILED_ACTION = "tier_failed"
MAX_PROBES_PER_TIER = 8
MAX_STALE_COHORTS = 5


def _probe_lines(results: Sequence[ProbeResult], tier: str) -> str:
    mine = [r for r in results if r.tier == tier]
    if not mine:
        return "probes: none recorded"
    lines = [
        (":white_check_mark: " if r.ok else ":x: ") + f"`{r.summary()}` ({r.started_at:%H:%M} UTC)"
        for r in mine[:MAX_PROBES_PER_TIER]
    ]
    if len(mine) > MAX_PROBES_PER_TIER:
        lines.append(f"… and {len(mine) - MAX_PROBES_PER_TIER} more targets")
    return "probes:\n" + "\n".join(lines)


def _config_lines(report: Report) -> str | None:
    """Cohorts running a stale config (build health), or None when no cohort has a canonical one."""
    if not report.config_staleness:
        return None
    stale = [c for c in report.config_staleness if c.stale_requests]
    stale.sort(key=lambda c: -(c.stale_share or 0.0))
    if not stale:
        return "config: every cohort runs its canonical config"
    lines = [staleness_line(c) for c in stale[:MAX_STALE_COHORTS]]
    if len(stale) > MAX_STALE_COHORTS:
        lines.append(f"… and {len(stale) - MAX_STALE_COHORTS} more cohorts")
    return "config staleness:\n" + "\n".join(lines)


def status_message(report: Report, probes: Sequence[ProbeResult]) -> Message:
    fields: list[MarkdownTextObject] = []
    for tier in report.tiers.values():
        text = (
            f"*{tier.tier}* {status_label(tier.status)}\n{tier.requests:,} requests, "
            f"errors {pct(tier.error_rate)} (budget {pct(tier.budget_error_rate, 1)}), "
            f"p95 {ms(tier.p95_latency_ms)} (budget {ms(tier.budget_p95_latency_ms)})\n"
            + _probe_lines(probes, tier.tier)
        )
        fields.append(MarkdownTextObject(text=clip(text, 2000)))
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Tiers at a glance")),
        SectionBlock(fields=fields),
        section(f"router {status_label(report.router.status)}: {report.router.turns:,} turns"),
        *([section(config)] if (config := _config_lines(report)) else []),
        context(
            f"last 30 min: {report.window_start:%H:%M} to {report.window_end:%H:%M} UTC · "
            f"{report.verdict}"
        ),
        ActionsBlock(
            block_id="status_actions",
            elements=[
                ButtonElement(
                    text=PlainTextObject(text="Which tier failed?"),
                    action_id=FAILED_ACTION,
                    value="30m",
                )
            ],
        ),
    ]
    edge, cloud = report.tiers["edge"].status, report.tiers["cloud"].status
    return Message(
        text=f"tiers: edge {edge}, cloud {cloud}, router {report.router.status}", blocks=blocks
    )
