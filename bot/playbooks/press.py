"""A person presses a step's button: check it still applies, claim the run, move it.

Authorization and currency come from the stored run, never from the button: the button only
says which run, which visit of a step, and which choice. A press on a step that is done, or no
longer current, or lost to someone else's press at the same moment, changes nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.playbooks.models import PlaybookRun
from bot.playbooks.runner import advance, answer, go, next_of
from bot.playbooks.schema import DecisionStep, ManualStep, WaitAction
from bot.playbooks.state import Machine, Moves, claim, close, set_context, visit_of
from bot.playbooks.views import OPEN_STATES, RUNNING, definition

CHOICES = ("done", "skip", "retry", "continue")


@dataclass(frozen=True)
class Pressed:
    """What became of a press: `changed` False means nothing moved, `message` says why."""

    changed: bool
    message: str


def parse_value(value: str) -> tuple[int, int, str]:
    """A button's value `run:seq:choice`; raises ValueError."""
    run_id, seq, choice = value.split(":", 2)
    return int(run_id), int(seq), choice


def _who(actor: str | None) -> str:
    if actor is None:
        return "someone"
    return "tierbot" if actor == "tierbot" else f"<@{actor}>"


def _allowed(step: object, choice: str, has_error: bool) -> bool:
    if isinstance(step, ManualStep):
        return choice == "done" or (choice == "skip" and step.skippable)
    if isinstance(step, DecisionStep):
        return choice.startswith("a:") and any(a.id == choice[2:] for a in step.answers)
    if isinstance(step, WaitAction):
        return choice == "continue"
    return has_error and choice in ("retry", "skip")


def press(
    session: Session,
    machine: Machine,
    moves: Moves,
    *,
    run_id: int,
    seq: int,
    choice: str,
    actor: str,
    now: datetime,
) -> Pressed:
    run = session.get(PlaybookRun, run_id)
    visit = visit_of(session, run_id, seq) if run is not None else None
    if run is None or visit is None:
        return Pressed(False, "That playbook step no longer exists; nothing changed.")
    if visit.state != "open":
        at = f" at {visit.finished_at:%H:%M} UTC" if visit.finished_at else ""
        return Pressed(
            False,
            f"*{definition(run).step(visit.step_id).title}* was already "
            f"{visit.state.replace('_', ' ')} by {_who(visit.actor)}{at}; nothing changed.",
        )
    if run.current_seq != seq or run.state not in OPEN_STATES:
        where = f"*{run.current_step}*" if run.state in OPEN_STATES else f"over ({run.state})"
        return Pressed(False, f"That step is no longer current (the run is at {where}).")
    step = definition(run).step(visit.step_id)
    if not _allowed(step, choice, bool((visit.result or {}).get("error"))):
        return Pressed(False, "That button does not belong to this step; nothing changed.")
    if not claim(session, run, now):
        return Pressed(
            False, "Someone else answered this step at the same moment; their answer stands."
        )
    title = step.title
    if isinstance(step, DecisionStep):
        answer(session, machine, moves, run, visit, step, choice[2:], actor=actor, now=now)
    elif choice == "retry":
        visit.result, visit.note = {}, None
        moves.touch(run, visit.seq)
    else:
        state = "skipped" if choice == "skip" else "done"
        note = "continued before the wait was over" if choice == "continue" else None
        ctx = dict(run.context or {})
        ctx["last_actor"] = actor
        set_context(run, ctx)
        run.state = RUNNING
        summary = f"{state} by {actor}" + (f" ({note})" if note else "")
        close(session, run, visit, moves, state=state, actor=actor, now=now, note=note,
              result={"summary": summary})  # fmt: skip
        go(session, machine, moves, run, next_of(run, step), now)
    advance(session, machine, moves, run, now)
    return Pressed(True, f"*{title}*: recorded.")
