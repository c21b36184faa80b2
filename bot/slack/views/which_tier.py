"""The `/tier failed` answer: the verdict first, then the numbers, suspects and rollouts."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.diagnosis.report import Report, Suspect, TierReport
from bot.slack.views.common import (
    MAX_SECTION_TEXT,
    Message,
    clip,
    context,
    ms,
    pct,
    section,
    status_label,
)

MAX_SUSPECTS = 3
MAX_CHANGES = 5
MAX_COHORT_BUTTONS = 3
MAX_FINGERPRINTS = 5
COHORT_ACTION = "tier_cohort"  # action_ids tier_cohort_1..3: unique within the message


def _headline(report: Report) -> str:
    if report.failing:
        return "Failing: " + ", ".join(report.failing)
    if report.degraded:
        return "Degraded: " + ", ".join(report.degraded)
    if all(t.status == "no_data" for t in report.tiers.values()):
        return "No data in the window"
    return "Nothing failing"


def _tier_fields(tier: TierReport) -> list[MarkdownTextObject]:
    burn = tier.burn_rates.get("1h")
    lines = [
        f"*{tier.tier}* {status_label(tier.status)}",
        f"{tier.requests:,} requests",
        f"errors {pct(tier.error_rate)} (budget {pct(tier.budget_error_rate, 1)}, "
        f"baseline {pct(tier.baseline_error_rate)})",
        f"p95 {ms(tier.p95_latency_ms)} (budget {ms(tier.budget_p95_latency_ms)}, "
        f"baseline {ms(tier.baseline_p95_latency_ms)})",
    ]
    if tier.fallback_rate is not None:
        lines.append(f"fell back to cloud {pct(tier.fallback_rate)}")
    if burn is not None:
        lines.append(f"burn 1h {burn:.1f}x" + (" — fast burn" if tier.fast_burn else ""))
    return [MarkdownTextObject(text=clip("\n".join(lines), 2000))]


def _suspect_line(rank: int, s: Suspect) -> str:
    if s.metric == "latency":
        rate = f"{pct(s.slow_rate, 1)} slow (baseline {pct(s.baseline_slow_rate, 1)})"
    elif s.error_rate is not None:
        rate = f"{pct(s.error_rate, 1)} errors (baseline {pct(s.baseline_error_rate)})"
    else:
        rate = s.metric
    line = (
        f"{rank}. *{s.tier}* `{s.label()}`: {rate}, {s.share_of_excess:.0%} of the excess, "
        f"{s.requests:,} requests"
    )
    if s.related_change:
        line += f"\n      _{s.related_change}_"
    return line


def _cohort_buttons(report: Report) -> list[ButtonElement]:
    cohorts: list[str] = []
    for name in [s.dimensions.get("cohort") for s in report.suspects] + [
        c.cohort for c in report.changes
    ]:
        if name and name not in cohorts:
            cohorts.append(name)
    return [
        ButtonElement(
            text=PlainTextObject(text=clip(f"Cohort {name}", 75)),
            action_id=f"{COHORT_ACTION}_{i}",
            value=name[:2000],
        )
        for i, name in enumerate(cohorts[:MAX_COHORT_BUTTONS], start=1)
    ]


def _build_health_blocks(report: Report) -> list[Block]:
    """New crash fingerprints (edge failing) and cohorts on a stale config: more evidence."""
    blocks: list[Block] = []
    edge = report.tiers.get("edge")
    fingerprints = (edge.new_crash_fingerprints if edge is not None else None) or []
    if fingerprints:
        lines = [
            f"• `{f.fingerprint}` on *{f.model_id}*: {f.events:,} crashes since "
            f"{f.first_seen:%H:%M}, on {', '.join(list(f.os_versions)[:3]) or '-'} "
            f"({', '.join(list(f.device_classes)[:3]) or '-'})"
            for f in fingerprints[:MAX_FINGERPRINTS]
        ]
        blocks += [section("*Crash fingerprints new with their build*\n" + "\n".join(lines))]
    stale = sorted(
        (c for c in report.config_staleness if c.stale_requests),
        key=lambda c: -(c.stale_share or 0.0),
    )
    if stale:
        lines = [
            f"• `{c.cohort}`: {pct(c.stale_share, 1)} of {c.requests:,} requests on a stale "
            f"config" + (f" since {c.stale_since:%m-%d %H:%M}" if c.stale_since else "")
            for c in stale[:MAX_FINGERPRINTS]
        ]
        blocks += [context("Config staleness: " + " ".join(lines))]
    return blocks


def which_tier_message(report: Report, *, window_label: str) -> Message:
    """Verdict, per-tier numbers with budgets, top suspects, recent rollouts, cohort buttons."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(_headline(report), 150))),
        section(f"*{clip(report.verdict, MAX_SECTION_TEXT - 2)}*"),
        context(
            f"window {window_label}: {report.window_start:%Y-%m-%d %H:%M} to "
            f"{report.window_end:%H:%M} UTC · baseline {report.baseline_start:%m-%d %H:%M} to "
            f"{report.baseline_end:%m-%d %H:%M} UTC · router {status_label(report.router.status)}"
            f" ({report.router.turns:,} turns)"
        ),
        SectionBlock(fields=[f for t in report.tiers.values() for f in _tier_fields(t)]),
    ]
    if report.suspects:
        lines = [_suspect_line(i, s) for i, s in enumerate(report.suspects[:MAX_SUSPECTS], 1)]
        more = len(report.suspects) - MAX_SUSPECTS
        blocks += [DividerBlock(), section("*Top suspects*\n" + "\n".join(lines))]
        if more > 0:
            blocks.append(context(f"{more} more in `tierbot which-tier --json`"))
    if report.changes:
        lines = [
            f"• {c.effective_at:%H:%M} `{c.cohort}` {c.tier}: *{c.model_id}* "
            f"(was {c.previous_model_id or '-'}, {c.rollout_percent:g}%)"
            for c in report.changes[:MAX_CHANGES]
        ]
        blocks += [
            DividerBlock(),
            section("*Rollouts before and during the window*\n" + "\n".join(lines)),
        ]
    blocks += _build_health_blocks(report)
    buttons = _cohort_buttons(report)
    if buttons:
        blocks.append(ActionsBlock(block_id="which_tier_cohorts", elements=list(buttons)))
    return Message(text=f"which tier failed ({window_label}): {report.verdict}", blocks=blocks)
