"""Incident messages: the incident card (roles and buttons), its thread replies, the status list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.incidents.service import ROLE_LABELS, IncidentView, RoleChange
from bot.slack.views.common import Message, clip, context, section

ROLE_ACTION = "incident_role"  # + _commander, _dri, _scribe; the value is the incident id
RESOLVE_ACTION = "incident_resolve"
EXPORT_ACTION = "incident_export"
_TAKE = {"commander": "I'm commander", "dri": "I'm routing DRI", "scribe": "I'm scribe"}


def _who(user: str | None) -> str:
    return f"<@{user}>" if user else "_nobody yet_"


def _duration(start: datetime, end: datetime) -> str:
    minutes = int((end - start).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _export_button(incident_id: int) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text="Export postmortem"),
        action_id=EXPORT_ACTION,
        value=str(incident_id),
    )


def _roles(view: IncidentView) -> SectionBlock:
    fields = [
        MarkdownTextObject(text=f"*{label[0].upper() + label[1:]}*\n{_who(view.role(role))}")
        for role, label in ROLE_LABELS.items()
    ]
    return SectionBlock(fields=fields)


def incident_message(view: IncidentView) -> Message:
    """The incident card: kept up to date with chat.update as roles change and it resolves."""
    state = "open" if view.is_open else "resolved"
    emoji = ":rotating_light:" if view.is_open else ":white_check_mark:"
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(f"Incident #{view.id}: {view.title}", 150))),
        _roles(view),
    ]
    opened = f"{emoji} {state} · opened {view.opened_at:%H:%M} UTC by <@{view.opened_by}>"
    if view.resolved_at is not None:
        opened += f" · resolved {view.resolved_at:%H:%M} UTC by <@{view.resolved_by}>"
    blocks.append(context(opened))
    if view.is_open:
        buttons = [
            ButtonElement(
                text=PlainTextObject(text=_TAKE[role]),
                action_id=f"{ROLE_ACTION}_{role}",
                value=str(view.id),
            )
            for role in ROLE_LABELS
        ]
        buttons.append(
            ButtonElement(
                text=PlainTextObject(text="Resolve"),
                action_id=RESOLVE_ACTION,
                value=str(view.id),
                style="primary",
            )
        )
        blocks.append(ActionsBlock(block_id=f"incident_{view.id}", elements=buttons))
        blocks.append(
            context(
                "Timeline: `/tier incident note TEXT` · roles: `/tier incident role ROLE @user` · "
                "which-tier answers, probe alerts, playbook steps and rollbacks are recorded "
                "on their own."
            )
        )
    else:
        blocks.append(
            ActionsBlock(block_id=f"incident_{view.id}", elements=[_export_button(view.id)])
        )
    return Message(text=f"Incident #{view.id} ({state}): {view.title}", blocks=blocks)


def role_message(change: RoleChange, actor: str) -> Message:
    label = ROLE_LABELS[change.role]
    if change.user is None:
        text = f"Nobody is {label} of incident #{change.incident.id} now (<@{actor}>)."
    elif change.user == actor:
        text = f"<@{actor}> is {label} of incident #{change.incident.id}."
    else:
        text = f"<@{change.user}> is {label} of incident #{change.incident.id} (set by <@{actor}>)."
    return Message(text=text, blocks=[section(text)])


def note_message(view: IncidentView, author: str, text: str) -> Message:
    body = f":memo: <@{author}>: {text}"
    return Message(
        text=f"Note on incident #{view.id}: {text}",
        blocks=[section(body), context(f"on the timeline of incident #{view.id}")],
    )


def resolved_message(view: IncidentView) -> Message:
    assert view.resolved_at is not None
    text = (
        f":white_check_mark: Incident #{view.id} resolved by <@{view.resolved_by}> after "
        f"{_duration(view.opened_at, view.resolved_at)}."
    )
    if view.summary:
        text += f"\n{view.summary}"
    return Message(
        text=f"Incident #{view.id} resolved",
        blocks=[
            section(text),
            ActionsBlock(
                block_id=f"incident_resolved_{view.id}", elements=[_export_button(view.id)]
            ),
        ],
    )


def moved_message(view: IncidentView, channel: str) -> Message:
    text = f":rotating_light: Incident #{view.id} ({view.title}) is handled in <#{channel}>."
    return Message(text=text, blocks=[section(text)])


def exported_message(view: IncidentView, filename: str, entries: int) -> Message:
    text = (
        f":page_facing_up: Postmortem draft of incident #{view.id} uploaded (`{filename}`, "
        f"{entries} timeline entries): edit it before sharing."
    )
    return Message(text=f"Postmortem draft of incident #{view.id}", blocks=[section(text)])


def status_message(views: Sequence[IncidentView], now: datetime) -> Message:
    if not views:
        return Message(text="No open incidents.", blocks=[section("No open incidents.")])
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Open incidents"))]
    for view in views[:20]:
        where = f" · <#{view.channel}>" if view.channel else ""
        roles = " · ".join(
            f"{label}: {_who(view.role(role))}" for role, label in ROLE_LABELS.items()
        )
        blocks.append(
            section(
                f"*#{view.id} {view.title}*\nopen {_duration(view.opened_at, now)}{where}\n{roles}"
            )
        )
    if len(views) > 20:
        blocks.append(context(f"… and {len(views) - 20} more"))
    return Message(text=f"{len(views)} open incident(s)", blocks=blocks)
