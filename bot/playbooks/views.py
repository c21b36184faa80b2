"""Runs and steps as plain data for the front ends (Slack, the CLI, the log notifier).

Texts are rendered here from the run's context, so a front end only lays them out. A step's
buttons are offered only while it is the run's open, current step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.playbooks.models import PlaybookRun, PlaybookStep
from bot.playbooks.schema import (
    AnyStep,
    DecisionStep,
    EndStep,
    ManualStep,
    Playbook,
    PostMessageAction,
    WaitAction,
)
from bot.playbooks.templates import render

RUNNING, WAITING, FINISHED, CANCELLED = "running", "waiting", "finished", "cancelled"
OPEN_STATES = (RUNNING, WAITING)
_PARSED: dict[tuple[str, str], Playbook] = {}


def definition(run: PlaybookRun) -> Playbook:
    """The playbook frozen in the run (parsed once per process and version)."""
    key = (run.playbook, run.version)
    if key not in _PARSED:
        _PARSED[key] = Playbook.model_validate(run.definition)
    return _PARSED[key]


def full_context(run: PlaybookRun) -> dict[str, Any]:
    """The stored context plus `run.*`, as templates and conditions see it."""
    ctx = dict(run.context or {})
    ctx["run"] = {
        "id": run.id,
        "playbook": run.playbook,
        "title": definition(run).title,
        "started_by": run.started_by,
        "channel": run.channel,
        "incident_id": run.incident_id,
    }
    return ctx


@dataclass(frozen=True)
class Button:
    choice: str  # done, skip, retry, continue, a:<answer id>
    label: str
    style: str | None = None


@dataclass(frozen=True)
class StepView:
    run_id: int
    seq: int
    step_id: str
    kind: str
    action: str | None
    title: str
    text: str
    checklist: tuple[str, ...]
    state: str
    answer: str | None
    answer_label: str | None
    actor: str | None
    opened_at: datetime
    finished_at: datetime | None
    summary: str | None
    error: str | None
    note: str | None
    buttons: tuple[Button, ...]
    message_ts: str | None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True)
class RunView:
    id: int
    playbook: str
    title: str
    version: str
    state: str
    current_step: str | None
    current_seq: int
    channel: str | None
    thread_ts: str | None
    incident_id: int | None
    parent_run_id: int | None
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    wake_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def to_dict(self) -> dict[str, Any]:
        from bot.timeutil import to_rfc3339

        return {
            "id": self.id,
            "playbook": self.playbook,
            "title": self.title,
            "version": self.version,
            "state": self.state,
            "current_step": self.current_step,
            "channel": self.channel,
            "incident_id": self.incident_id,
            "parent_run_id": self.parent_run_id,
            "started_by": self.started_by,
            "started_at": to_rfc3339(self.started_at),
            "finished_at": to_rfc3339(self.finished_at) if self.finished_at else None,
            "outcome": self.outcome,
        }


def run_view(run: PlaybookRun) -> RunView:
    return RunView(
        id=run.id,
        playbook=run.playbook,
        title=definition(run).title,
        version=run.version,
        state=run.state,
        current_step=run.current_step,
        current_seq=run.current_seq,
        channel=run.channel,
        thread_ts=run.thread_ts,
        incident_id=run.incident_id,
        parent_run_id=run.parent_run_id,
        started_by=run.started_by,
        started_at=run.started_at,
        finished_at=run.finished_at,
        outcome=run.outcome,
        wake_at=run.wake_at,
    )


def _body(step: AnyStep, ctx: dict[str, Any], result: dict[str, Any]) -> str:
    if isinstance(step, ManualStep):
        return render(step.text, ctx)
    if isinstance(step, DecisionStep):
        return render(step.question, ctx)
    if isinstance(step, EndStep):
        return render(step.text, ctx) if step.text else ""
    text = render(step.text, ctx) if step.text else ""
    if isinstance(step, PostMessageAction):
        message = str(result.get("message") or render(step.message, ctx))
        return f"{text}\n{message}".strip()
    if isinstance(step, WaitAction):
        parts = []
        if step.duration:
            parts.append(f"for {step.duration}")
        if step.until:
            parts.append(f"until `{step.until}` (checked every {step.poll})")
        if step.timeout:
            parts.append(f"at most {step.timeout}")
        return f"{text}\nWaiting {', '.join(parts)}.".strip()
    return text


def _buttons(step: AnyStep, visit: PlaybookStep) -> tuple[Button, ...]:
    if isinstance(step, ManualStep):
        done = Button("done", "Done", "primary")
        return (done, Button("skip", "Skip")) if step.skippable else (done,)
    if isinstance(step, DecisionStep):
        return tuple(Button(f"a:{a.id}", a.label, a.style) for a in step.answers)
    if isinstance(step, WaitAction):
        return (Button("continue", "Continue now"),)
    if step.kind == "action" and (visit.result or {}).get("error"):
        return (Button("retry", "Retry", "primary"), Button("skip", "Skip"))
    return ()


def step_view(run: PlaybookRun, visit: PlaybookStep) -> StepView:
    playbook = definition(run)
    step = playbook.step(visit.step_id)
    result: dict[str, Any] = dict(visit.result or {})
    current = visit.state == "open" and run.current_seq == visit.seq and run.state in OPEN_STATES
    label = None
    if isinstance(step, DecisionStep) and visit.answer:
        label = next((a.label for a in step.answers if a.id == visit.answer), visit.answer)
    return StepView(
        run_id=run.id,
        seq=visit.seq,
        step_id=visit.step_id,
        kind=visit.kind,
        action=getattr(step, "action", None),
        title=step.title,
        text=_body(step, full_context(run), result).strip(),
        checklist=tuple(render(item, full_context(run)) for item in getattr(step, "checklist", [])),
        state=visit.state,
        answer=visit.answer,
        answer_label=label,
        actor=visit.actor,
        opened_at=visit.opened_at,
        finished_at=visit.finished_at,
        summary=str(result["summary"]) if result.get("summary") else None,
        error=str(result["error"]) if result.get("error") else None,
        note=visit.note,
        buttons=_buttons(step, visit) if current else (),
        message_ts=visit.message_ts,
    )
