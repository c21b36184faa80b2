"""`/tier cohort NAME`: support's answer to "why did my answer change?"."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block, HeaderBlock, PlainTextObject

from bot.buildhealth.staleness import CohortStaleness
from bot.rollouts.service import Assignment, current
from bot.slack.views.build_health import staleness_detail
from bot.slack.views.common import Message, clip, context, section

MAX_HISTORY = 15


def _ago(now: datetime, then: datetime) -> str:
    hours = (now - then).total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"


def cohort_message(
    name: str,
    history: list[Assignment],
    now: datetime,
    staleness: CohortStaleness | None = None,
) -> Message:
    in_force = current(history, now)
    lines = []
    for tier in ("edge", "cloud"):
        a = in_force.get(tier)
        if a is None:
            lines.append(f"*{tier}*: no assignment in force")
            continue
        lines.append(
            f"*{tier}*: runs *{a.model_id}* ({a.quantization or 'quantization unknown'}, "
            f"{a.rollout_percent:g}% of the cohort) since {a.effective_at:%Y-%m-%d %H:%M} UTC "
            f"({_ago(now, a.effective_at)}); was {a.previous_model_id or '-'}; "
            f"residency {a.residency or 'anywhere'}"
        )
    if staleness is not None:
        warning = ":warning: " if staleness.over else ""
        lines.append(f"{warning}*config*: {staleness_detail(staleness)}")
    shown = history[-MAX_HISTORY:]
    rows = [
        f"{a.effective_at:%Y-%m-%d %H:%M}  {a.tier:<5}  {a.model_id}  "
        f"(was {a.previous_model_id or '-'}, {a.quantization or '-'}, {a.rollout_percent:g}%)"
        for a in shown
    ]
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(f"Cohort {name}", 150))),
        section("\n".join(lines)),
        section(clip("*History* (oldest first)\n```" + "\n".join(rows) + "```")),
    ]
    if len(history) > MAX_HISTORY:
        blocks.append(
            context(f"{len(history) - MAX_HISTORY} earlier changes: `tierbot cohort show {name}`")
        )
    summary = "; ".join(
        f"{tier} {a.model_id} since {a.effective_at:%Y-%m-%d %H:%M} UTC"
        for tier, a in in_force.items()
    )
    return Message(text=f"cohort {name}: {summary or 'no assignment in force'}", blocks=blocks)
