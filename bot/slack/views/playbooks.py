"""Playbook messages: a run's header, one message per step (with its buttons), lists."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, PlainTextObject

from bot.playbooks.loader import Catalog
from bot.playbooks.views import RunView, StepView
from bot.slack.views.common import Message, clip, context, section

STEP_ACTION = "playbook_step"
START_ACTION = "playbook_start"
_STATE_EMOJI = {
    "open": ":arrow_forward:",
    "done": ":white_check_mark:",
    "ran": ":robot_face:",
    "answered": ":ballot_box_with_check:",
    "skipped": ":fast_forward:",
    "timed_out": ":hourglass:",
}


def _who(actor: str | None) -> str:
    if actor is None:
        return "nobody"
    return "tierbot" if actor == "tierbot" else f"<@{actor}>"


def run_header(run: RunView) -> Message:
    if run.parent_run_id is not None:
        text = f":arrow_right_hook: Handed over to playbook *{run.title}* (`{run.playbook}`)."
    else:
        who = _who(run.started_by)
        text = f":clipboard: Playbook *{run.title}* (`{run.playbook}`) started by {who}."
    where = f"run #{run.id}, version {run.version}"
    if run.incident_id is not None:
        where += f", incident #{run.incident_id}"
    return Message(
        text=text, blocks=[section(text), context(where + ". Steps follow in this thread.")]
    )


def _footer(step: StepView) -> str:
    at = f" at {step.finished_at:%H:%M} UTC" if step.finished_at else ""
    if step.state == "open":
        if step.error:
            return "Failed: retry it, or skip it and carry on by hand."
        if step.kind == "action" and step.action == "wait":
            return "Waiting; tierbot continues on its own (or press *Continue now*)."
        return "Waiting for you." if step.buttons else "In progress."
    if step.state == "answered":
        how = " automatically" if step.actor == "tierbot" else ""
        return f"Answered *{step.answer_label}*{how} by {_who(step.actor)}{at}."
    verb = {"ran": "Run", "done": "Done", "skipped": "Skipped", "timed_out": "Timed out"}
    return f"{verb.get(step.state, step.state.capitalize())} by {_who(step.actor)}{at}."


def step_message(run: RunView, step: StepView) -> Message:
    emoji = ":x:" if step.error else _STATE_EMOJI.get(step.state, ":small_blue_diamond:")
    lines = [f"{emoji} *{step.title}*"]
    if step.text:
        lines.append(step.text)
    if step.checklist:
        box = ":ballot_box_with_check:" if step.state == "done" else ":white_medium_square:"
        lines += [f"{box} {item}" for item in step.checklist]
    if step.error:
        lines.append(f":warning: {step.error}")
    elif step.summary and step.kind == "action" and step.action != "post_message":
        lines.append(f"> {step.summary}")
    blocks: list[Block] = [section("\n".join(lines))]
    if step.note and step.state != "answered":
        blocks.append(context(step.note))
    if step.buttons:
        blocks.append(
            ActionsBlock(
                block_id=f"playbook_{run.id}_{step.seq}",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text=clip(button.label, 75)),
                        action_id=f"{STEP_ACTION}_{i}",
                        value=f"{run.id}:{step.seq}:{button.choice}",
                        style=button.style,
                    )
                    for i, button in enumerate(button for button in step.buttons)
                ],
            )
        )
    blocks.append(context(_footer(step)))
    fallback = f"{run.title}: {step.title} ({step.state.replace('_', ' ')})"
    return Message(text=clip(fallback, 1000), blocks=blocks)


def run_finished(run: RunView) -> Message:
    text = f":checkered_flag: Playbook *{run.title}* finished: {run.outcome or run.state}."
    return Message(text=text, blocks=[section(text)])


def playbook_list(catalog: Catalog) -> Message:
    lines = [
        f"• `{loaded.name}`: *{loaded.playbook.title}* ({len(loaded.playbook.steps)} steps)"
        + (
            f"\n   {clip(loaded.playbook.description.strip(), 200)}"
            if loaded.playbook.description
            else ""
        )
        for loaded in sorted(catalog.playbooks.values(), key=lambda p: p.name)
    ]
    text = "Playbooks (`/tier playbook run NAME`):\n" + ("\n".join(lines) or "none")
    blocks: list[Block] = [section(text)]
    if catalog.errors:
        broken = "\n".join(f"• {error}" for error in catalog.errors[:10])
        blocks.append(context(f":warning: Broken playbooks (fix them, the others work):\n{broken}"))
    names = ", ".join(f"`{name}`" for name in sorted(catalog.playbooks)) or "none"
    return Message(text=clip(f"Playbooks: {names}", 1000), blocks=blocks)


def open_runs(runs: Sequence[RunView]) -> Message:
    if not runs:
        text = "No playbook runs are open."
        return Message(text=text, blocks=[section(text)])
    lines = []
    for run in runs:
        where = f" in <#{run.channel}>" if run.channel else ""
        state = "waiting" if run.state == "waiting" else "at"
        lines.append(
            f"• #{run.id} *{run.title}*{where}: {state} `{run.current_step}`, started by "
            f"{_who(run.started_by)} at {run.started_at:%H:%M} UTC"
        )
    text = f"Open playbook runs ({len(runs)}):\n" + "\n".join(lines)
    return Message(text=clip(text, 1000), blocks=[section(text)])
