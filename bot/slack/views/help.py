"""`/tier help`, usage messages, and the entry points later issues fill in."""

from __future__ import annotations

from bot.slack.parsing import usage_text
from bot.slack.views.common import Message, context, section

FEATURE_NOTES = {
    "probe": "running the tier probes from Slack",
    "playbook": "walking a playbook step by step",
    "rollback": "requesting a DRI-approved rollback",
    "incident": "opening an incident channel with roles and a timeline",
}


def help_message() -> Message:
    text = f"*`/tier` answers on-call questions about the edge and cloud tiers:*\n{usage_text()}"
    coming = ", ".join(f"`{name}`" for name in FEATURE_NOTES)
    return Message(
        text="/tier: " + ", ".join(("status", "failed [window]", "cohort NAME", "help")),
        blocks=[section(text), context(f"Coming with the next releases: {coming}.")],
    )


def not_enabled_message(feature: str) -> Message:
    what = FEATURE_NOTES.get(feature, feature)
    text = (
        f"`/tier {feature}` ({what}) is not enabled in this tierbot yet. "
        f"What `/tier help` offers today:\n{usage_text()}"
    )
    return Message(text=text, blocks=[section(text)])
