"""Probe messages: an alert opening (numbers, next steps), its recovery, `/tier probe` results."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, HeaderBlock, PlainTextObject

from bot.probes.notify import Alert
from bot.probes.results import ProbeResult, describe
from bot.slack.views.common import Message, clip, context, section
from bot.slack.views.status import FAILED_ACTION

PLAYBOOK_ACTION = "playbook_start"
MAX_CHECK_LINES = 12
MAX_RESULTS = 40


def playbook_for(alert: Alert) -> str:
    """The playbook an alert's button starts: triage for a tier, the config one for drift."""
    if alert.target.startswith("config/"):
        return "stale-edge-config"
    if alert.tier == "cloud":
        return "cloud-region-outage"
    return "which-tier-failed"


def check_lines(result: ProbeResult, *, failing_only: bool = False) -> str:
    names = result.failed_checks if failing_only else list(result.checks)
    lines = [f":x: error: {result.error}"] if result.error is not None else []
    lines += [
        (":white_check_mark: " if result.checks[n].ok else ":x: ")
        + f"{n}: {describe(result.checks[n])}"
        for n in names[:MAX_CHECK_LINES]
    ]
    if len(names) > MAX_CHECK_LINES:
        lines.append(f"… and {len(names) - MAX_CHECK_LINES} more checks")
    return "\n".join(lines) or "no checks"


def alert_opened_message(alert: Alert, result: ProbeResult | None) -> Message:
    headline = f":rotating_light: {alert.tier} probe failing: {alert.target}"
    since = f"{alert.opened_at:%H:%M} UTC" if alert.opened_at else "now"
    body = (
        f"*{alert.target}* failed {alert.consecutive_failures} probes in a row "
        f"(alert open since {since})."
    )
    if result is not None:
        body += "\n" + check_lines(result, failing_only=True)
    playbook = playbook_for(alert)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(headline, 150))),
        section(body),
        ActionsBlock(
            block_id="probe_alert_actions",
            elements=[
                ButtonElement(
                    text=PlainTextObject(text="Which tier failed?"),
                    action_id=FAILED_ACTION,
                    value="30m",
                    style="primary",
                ),
                ButtonElement(
                    text=PlainTextObject(text=f"Start playbook {playbook}"),
                    action_id=PLAYBOOK_ACTION,
                    value=playbook,
                ),
            ],
        ),
        context("Recovery will be posted in this thread. One message per state change."),
    ]
    summary = result.summary() if result is not None else alert.target
    return Message(text=clip(f"{headline}: {summary}", 1000), blocks=blocks)


def alert_resolved_message(alert: Alert, result: ProbeResult | None) -> Message:
    since = f" (opened {alert.opened_at:%H:%M} UTC)" if alert.opened_at else ""
    text = (
        f":large_green_circle: {alert.target} recovered{since}: "
        f"{alert.consecutive_passes} passing probes in a row."
    )
    blocks: list[Block] = [section(text)]
    if result is not None:
        blocks.append(context(check_lines(result)))
    return Message(text=text, blocks=blocks)


def probe_results_message(results: Sequence[ProbeResult], tier: str) -> Message:
    if not results:
        text = (
            f"No {tier if tier != 'all' else ''} probe targets: register an edge build "
            "(`tierbot probe register`) or configure cloud endpoints."
        ).replace("No  probe", "No probe")
        return Message(text=text, blocks=[section(text)])
    failed = [r for r in results if not r.ok]
    headline = f"Probes ({tier}): {len(results) - len(failed)} of {len(results)} targets pass" + (
        f", {len(failed)} failing" if failed else ""
    )
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=clip(headline, 150)))]
    ordered = sorted(results, key=lambda r: (r.ok, r.target))
    for result in ordered[:MAX_RESULTS]:
        mark = ":white_check_mark:" if result.ok else ":x:"
        blocks.append(
            section(
                f"{mark} *{result.target}* ({result.tier}, {result.duration_ms:,.0f} ms)\n"
                + check_lines(result, failing_only=not result.ok)
            )
        )
    if len(ordered) > MAX_RESULTS:
        blocks.append(context(f"… and {len(ordered) - MAX_RESULTS} more targets"))
    blocks.append(context("Results are stored and feed the alerts and `/tier failed`."))
    return Message(text=headline, blocks=blocks[:50])
