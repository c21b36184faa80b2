"""Rollback messages: the approval request (evidence, Approve/Reject behind confirms), its
decided state, the reject modal, the killswitch confirmation and `/tier rollbacks`."""

from __future__ import annotations

import orjson
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.rollouts.notify import Evidence
from bot.rollouts.requests import RollbackView
from bot.slack.views.common import Message, clip, context, pct, section, status_label
from bot.slack.views.probes import check_lines

APPROVE_ACTION = "rollback_approve"
REJECT_ACTION = "rollback_reject"
REJECT_VIEW = "rollback_reject_reason"
REASON_BLOCK, REASON_ACTION = "reason", "reason_input"
KILLSWITCH_ACTION = "killswitch_pull"
STATE_EMOJI = {
    "requested": ":hourglass_flowing_sand:",
    "approved": ":white_check_mark:",
    "executing": ":gear:",
    "executed": ":rewind:",
    "failed": ":x:",
    "rejected": ":no_entry_sign:",
    "expired": ":alarm_clock:",
}


def _summary(request: RollbackView) -> str:
    staged = " (staged: steps up over time)" if request.staged else ""
    incident = f"\nIncident: #{request.incident_id}" if request.incident_id else ""
    return (
        f"*Cohort:* `{request.cohort}` ({request.tier})\n"
        f"*From:* `{request.from_model_id}` ({request.from_rollout_percent:g}%, since "
        f"{request.from_effective_at:%Y-%m-%d %H:%M} UTC)\n"
        f"*To:* `{request.target_model_id}` at {request.percent}%{staged}\n"
        f"*Requested by:* <@{request.requester}>: {request.reason}{incident}"
    )


def _state_line(request: RollbackView) -> str:
    emoji = STATE_EMOJI.get(request.state, "")
    line = f"{emoji} *{request.state}*"
    if request.decided_by and request.state != "expired":
        line += f" by <@{request.decided_by}>"
        if request.decided_at:
            line += f" at {request.decided_at:%H:%M} UTC"
        if request.decision_reason:
            line += f": {request.decision_reason}"
    if request.state == "requested":
        line += f", expires {request.expires_at:%H:%M} UTC"
    if request.state == "expired":
        line += f" at {request.expires_at:%H:%M} UTC without a decision"
    if request.applied_percent is not None:
        line += f" · applied {request.applied_percent}%"
    if request.failure:
        line += f"\n{request.failure}"
    if request.verified is not None:
        line += " · " + ("recovered" if request.verified else "NOT recovered")
    return line


def _evidence(evidence: Evidence, request: RollbackView) -> str:
    lines = [
        f"*Which tier failed:* {evidence.verdict}",
        f"{request.tier}: {status_label(evidence.tier_status)}, error rate "
        f"{pct(evidence.tier_error_rate)} (last 30 min)",
    ]
    if evidence.cohort_suspects:
        lines.append("Suspects: " + "; ".join(evidence.cohort_suspects[:5]))
    return "\n".join(lines)


def _probes(evidence: Evidence) -> str:
    if not evidence.probes:
        return "*Probes:* none recorded for these builds"
    parts = [
        f"*{r.target}* {'passed' if r.ok else 'FAILED'} at {r.started_at:%H:%M} UTC\n"
        + check_lines(r, failing_only=r.ok is False)
        for r in evidence.probes
    ]
    return "*Probes:*\n" + "\n".join(parts)


def _buttons(request: RollbackView) -> ActionsBlock:
    value = str(request.id)
    return ActionsBlock(
        block_id=f"rollback_{request.id}_actions",
        elements=[
            ButtonElement(
                text=PlainTextObject(text="Approve"),
                action_id=APPROVE_ACTION,
                value=value,
                style="primary",
                confirm=ConfirmObject(
                    title="Approve the rollback?",
                    text=clip(
                        f"Move cohort {request.cohort} from {request.from_model_id} to "
                        f"{request.target_model_id} at {request.percent}% now.",
                        300,
                    ),
                    confirm="Approve",
                    deny="Cancel",
                ),
            ),
            ButtonElement(
                text=PlainTextObject(text="Reject"),
                action_id=REJECT_ACTION,
                value=value,
                style="danger",
                confirm=ConfirmObject(
                    title="Reject the rollback?",
                    text="You will be asked for the reason.",
                    confirm="Reject",
                    deny="Cancel",
                ),
            ),
        ],
    )


def message_block_id(request_id: int) -> str:
    """Names a request's approval message, before and after the decision."""
    return f"rollback_{request_id}"


def _header(request: RollbackView) -> HeaderBlock:
    title = f"{request.kind.capitalize()} #{request.id}: {request.cohort}"
    return HeaderBlock(
        block_id=message_block_id(request.id), text=PlainTextObject(text=clip(title, 150))
    )


def approval_message(request: RollbackView, evidence: Evidence, dris: str) -> Message:
    """The request as the DRIs see it: what, why, the evidence, and the two buttons."""
    blocks: list[Block] = [
        _header(request),
        section(_summary(request)),
        section(_evidence(evidence, request)),
        section(_probes(evidence)),
        context(
            f"DRIs: {dris} · {_state_line(request)} · only a DRI other than the requester "
            "may approve"
        ),
    ]
    if request.state == "requested":
        blocks.append(_buttons(request))
    text = (
        f"Rollback #{request.id} needs approval: {request.cohort} "
        f"{request.from_model_id} -> {request.target_model_id}"
    )
    return Message(text=text, blocks=blocks)


def decided_message(request: RollbackView) -> Message:
    """The approval message once decided: no buttons, the state and who decided."""
    blocks: list[Block] = [
        _header(request),
        section(_summary(request)),
        section(_state_line(request)),
    ]
    return Message(text=f"Rollback #{request.id} {request.state}: {request.label()}", blocks=blocks)


def note_message(request: RollbackView, note: str) -> Message:
    return Message(text=f"#{request.id}: {note}", blocks=[section(f"{note}")])


def requested_message(request: RollbackView, where: str) -> Message:
    """The answer in the channel where `/tier rollback` was typed."""
    text = (
        f"Rollback #{request.id} requested: {request.cohort} {request.from_model_id} -> "
        f"{request.target_model_id} at {request.percent}%. The DRIs were asked {where}; "
        f"it expires at {request.expires_at:%H:%M} UTC."
    )
    return Message(text=text, blocks=[section(text)])


def reject_modal(request: RollbackView, metadata: dict[str, str]) -> View:
    return View(
        type="modal",
        callback_id=REJECT_VIEW,
        title=PlainTextObject(text=f"Reject rollback #{request.id}"[:24]),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=orjson.dumps({"request_id": request.id, **metadata}).decode(),
        blocks=[
            section(clip(_summary(request), 2900)),
            InputBlock(
                block_id=REASON_BLOCK,
                label=PlainTextObject(text="Why reject it?"),
                element=PlainTextInputElement(action_id=REASON_ACTION, multiline=True),
            ),
        ],
    )


def killswitch_confirm(build: str, cohorts: dict[str, str], reason: str) -> Message:
    names = ", ".join(f"`{c}` ({t})" for c, t in sorted(cohorts.items()))
    text = f"Killswitch on {build}: moves {len(cohorts)} cohort(s) back now: {names}."
    value = orjson.dumps({"build": build, "reason": reason}).decode()
    button = ButtonElement(
        text=PlainTextObject(text=f"Pull the killswitch on {build}"[:75]),
        action_id=KILLSWITCH_ACTION,
        value=value[:2000],
        style="danger",
        confirm=ConfirmObject(
            title="Pull the killswitch?",
            text=clip(text, 300),
            confirm="Pull it",
            deny="Cancel",
        ),
    )
    return Message(text=text, blocks=[section(text), ActionsBlock(elements=[button])])


def killswitch_done(
    build: str, requests: list[RollbackView], skipped: list[str], by: str
) -> Message:
    lines = [f"<@{by}> pulled the killswitch on `{build}`:"]
    lines += [
        f"{STATE_EMOJI.get(r.state, '')} `{r.cohort}` -> `{r.target_model_id}`: {r.state}"
        + (f" ({r.failure})" if r.failure else "")
        for r in requests
    ]
    lines += [f":warning: skipped {s}" for s in skipped]
    text = "\n".join(lines)
    return Message(
        text=f"Killswitch on {build}: {len(requests)} cohort(s) moved back", blocks=[section(text)]
    )


def list_message(requests: list[RollbackView]) -> Message:
    if not requests:
        return Message(
            text="No rollback requests yet.", blocks=[section("No rollback requests yet.")]
        )
    lines = [
        f"{STATE_EMOJI.get(r.state, '')} #{r.id} `{r.cohort}` {r.from_model_id} -> "
        f"{r.target_model_id} {r.percent}% · {r.state} · by <@{r.requester}>"
        for r in requests[:20]
    ]
    return Message(text=f"{len(requests)} rollback request(s)", blocks=[section("\n".join(lines))])
