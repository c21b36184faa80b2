"""The runner's primitives: what one move changed, the claim, and closing steps and runs.

Closing a step or a run records it on the activity log in the same transaction, so the incident
timeline has every step with its actor and time.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from bot.activity.service import record
from bot.errors import TierbotError
from bot.playbooks.actions import ActionDeps
from bot.playbooks.loader import Catalog
from bot.playbooks.models import PlaybookRun, PlaybookStep
from bot.playbooks.views import FINISHED, definition

TIERBOT = "tierbot"


@dataclass
class Moves:
    """What a transaction changed, for the front ends to show after the commit."""

    touched: list[tuple[int, int]] = field(default_factory=list)  # (run id, seq)
    runs: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    probes: list[tuple[int, int, int]] = field(default_factory=list)  # run, revision, seq
    steps_taken: int = 0

    def touch(self, run: PlaybookRun, seq: int | None = None) -> None:
        if run.id not in self.runs:
            self.runs.append(run.id)
        if seq is not None and (run.id, seq) not in self.touched:
            self.touched.append((run.id, seq))

    def merge(self, other: Moves) -> None:
        for run_id in other.runs:
            if run_id not in self.runs:
                self.runs.append(run_id)
        self.touched += [t for t in other.touched if t not in self.touched]
        self.started += other.started
        self.finished += other.finished
        self.probes += other.probes


@dataclass(frozen=True)
class Machine:
    """Everything a move needs besides the session."""

    deps: ActionDeps
    catalog: Catalog
    max_steps: int = 50


def claim(session: Session, run: PlaybookRun, now: datetime) -> bool:
    """Take the run for this transaction; False when another move got there first."""
    won = session.execute(
        update(PlaybookRun)
        .where(PlaybookRun.id == run.id, PlaybookRun.revision == run.revision)
        .values(revision=run.revision + 1, updated_at=now)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.refresh(run)
    return True


def visit_of(session: Session, run_id: int, seq: int) -> PlaybookStep | None:
    return session.scalars(
        select(PlaybookStep).where(PlaybookStep.run_id == run_id, PlaybookStep.seq == seq)
    ).first()


def set_context(run: PlaybookRun, ctx: dict[str, Any]) -> None:
    ctx.pop("run", None)
    run.context = ctx
    flag_modified(run, "context")


def refresh_incident(session: Session, run: PlaybookRun, ctx: dict[str, Any]) -> None:
    if run.incident_id is None:
        return
    try:
        from bot.incidents.service import incident_context
    except ImportError:  # pragma: no cover - the incidents package ships with tierbot
        return
    with contextlib.suppress(TierbotError):
        ctx["incident"] = incident_context(session=session, incident_id=run.incident_id)


def close(
    session: Session,
    run: PlaybookRun,
    visit: PlaybookStep,
    moves: Moves,
    *,
    state: str,
    actor: str,
    now: datetime,
    answer: str | None = None,
    result: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    """Finish the visit and put it on the timeline."""
    visit.state, visit.actor, visit.finished_at, visit.answer = state, actor, now, answer
    if result is not None:
        visit.result = result
    visit.note = note
    step = definition(run).step(visit.step_id)
    detail = f" ({answer})" if answer else ""
    summary = (visit.result or {}).get("summary")
    record(
        session=session,
        kind="playbook.step_done",
        summary=f"{definition(run).title}: {step.title}: {state}{detail} by {actor}",
        at=now,
        actor=actor,
        subject=f"playbook_run:{run.id}",
        incident_id=run.incident_id,
        data={
            "run_id": run.id,
            "playbook": run.playbook,
            "step": visit.step_id,
            "seq": visit.seq,
            "state": state,
            "answer": answer,
            "summary": summary,
            "opened_at": visit.opened_at.isoformat(),
        },
    )
    moves.touch(run, visit.seq)


def finish(
    session: Session, run: PlaybookRun, moves: Moves, now: datetime, outcome: str, actor: str
) -> None:
    run.state, run.finished_at, run.outcome = FINISHED, now, outcome[:200]
    run.current_step, run.wake_at, run.deadline = None, None, None
    record(
        session=session,
        kind="playbook.finished",
        summary=f"Playbook {definition(run).title} finished: {outcome}",
        at=now,
        actor=actor,
        subject=f"playbook_run:{run.id}",
        incident_id=run.incident_id,
        data={"run_id": run.id, "playbook": run.playbook, "outcome": outcome},
    )
    moves.touch(run)
    moves.finished.append(run.id)
