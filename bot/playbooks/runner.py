"""The runner: a persisted state machine, one transaction per move.

Every move first claims the run with a conditional UPDATE on its `revision`; only the winner
changes anything, so a double click, two responders at once, or two replicas' schedulers move a
run once. Steps tierbot owns (actions, auto-answered decisions, the end) run straight on in the
same transaction; the run stops at a step that needs a person, a wait, or a probe (which does
network I/O and runs between transactions, see `bot.playbooks.service`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from bot.activity.service import record
from bot.errors import TierbotError, error_id_for
from bot.playbooks import actions
from bot.playbooks.loader import LoadedPlaybook
from bot.playbooks.models import PlaybookRun, PlaybookStep
from bot.playbooks.schema import (
    HANDOVER,
    AnyStep,
    CohortShowAction,
    DecisionStep,
    EndStep,
    ManualStep,
    PostMessageAction,
    ProbeAction,
    RequestRollbackAction,
    WaitAction,
    WhichTierAction,
    duration,
)
from bot.playbooks.state import (
    TIERBOT,
    Machine,
    Moves,
    close,
    finish,
    refresh_incident,
    set_context,
    visit_of,
)
from bot.playbooks.templates import evaluate, render
from bot.playbooks.views import OPEN_STATES, RUNNING, WAITING, definition, full_context

log = logging.getLogger(__name__)
INHERITED = ("input", "incident", "report", "probe", "cohort", "rollback", "last_actor")


def create_run(
    session: Session,
    machine: Machine,
    moves: Moves,
    loaded: LoadedPlaybook,
    *,
    started_by: str,
    now: datetime,
    channel: str | None,
    thread_ts: str | None,
    incident_id: int | None,
    context: dict[str, Any],
    parent_run_id: int | None = None,
) -> PlaybookRun:
    """Insert a run frozen on `loaded`, open its first step and run on as far as it can."""
    playbook = loaded.playbook
    run = PlaybookRun(
        playbook=playbook.name,
        version=loaded.version,
        definition=playbook.model_dump(mode="json"),
        state=RUNNING,
        current_step=None,
        current_seq=0,
        revision=0,
        context={"answers": {}, "steps": {}} | context,
        channel=channel,
        thread_ts=thread_ts,
        incident_id=incident_id,
        parent_run_id=parent_run_id,
        started_by=started_by,
        started_at=now,
        updated_at=now,
    )
    session.add(run)
    session.flush()
    ctx = dict(run.context)
    refresh_incident(session, run, ctx)
    set_context(run, ctx)
    record(
        session=session,
        kind="playbook.started",
        summary=f"Playbook {playbook.title} ({playbook.name}) started by {started_by}",
        at=now,
        actor=started_by,
        subject=f"playbook_run:{run.id}",
        incident_id=incident_id,
        data={
            "run_id": run.id,
            "playbook": playbook.name,
            "version": loaded.version,
            "parent_run_id": parent_run_id,
        },
    )
    moves.started.append(run.id)
    moves.touch(run)
    _open(session, run, playbook.steps[0].id, now, moves)
    advance(session, machine, moves, run, now)
    return run


def _open(session: Session, run: PlaybookRun, step_id: str, now: datetime, moves: Moves) -> None:
    step = definition(run).step(step_id)
    seq = run.current_seq + 1
    session.add(
        PlaybookStep(
            run_id=run.id,
            seq=seq,
            step_id=step_id,
            kind=step.kind,
            state="open",
            opened_at=now,
            result={},
        )
    )
    run.current_step, run.current_seq = step_id, seq
    run.wake_at = run.deadline = None
    session.flush()
    moves.touch(run, seq)


def go(
    session: Session,
    machine: Machine,
    moves: Moves,
    run: PlaybookRun,
    target: str | None,
    now: datetime,
) -> None:
    """Move to `target`: a step of this playbook, or a handover to another playbook."""
    if target is None:
        finish(session, run, moves, now, "done", TIERBOT)
        return
    if not target.startswith(HANDOVER):
        _open(session, run, target, now, moves)
        return
    name = target[len(HANDOVER) :]
    try:
        loaded = machine.catalog.get(name)
    except TierbotError as exc:
        finish(session, run, moves, now, f"could not hand over: {exc}", TIERBOT)
        return
    ctx = full_context(run)
    inherited = {k: ctx[k] for k in INHERITED if k in ctx}
    inherited["input"] = dict(ctx.get("input") or {}) | {"from_playbook": run.playbook}
    finish(session, run, moves, now, f"handed over to {name}", TIERBOT)
    create_run(
        session,
        machine,
        moves,
        loaded,
        started_by=run.started_by,
        now=now,
        channel=run.channel,
        thread_ts=run.thread_ts,
        incident_id=run.incident_id,
        context=inherited,
        parent_run_id=run.id,
    )


def next_of(run: PlaybookRun, step: AnyStep) -> str | None:
    explicit = getattr(step, "next", None)
    return explicit if explicit else definition(run).after(step.id)


def _run_action(
    session: Session, machine: Machine, run: PlaybookRun, step: AnyStep, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    ctx = full_context(run)
    deps = machine.deps
    if isinstance(step, WhichTierAction):
        return actions.which_tier(step, session=session, deps=deps, now=now)
    if isinstance(step, CohortShowAction):
        return actions.cohort_show(step, ctx, session=session, now=now)
    if isinstance(step, RequestRollbackAction):
        requester = str(ctx.get("last_actor") or run.started_by)
        return actions.request_rollback(
            step,
            ctx,
            session=session,
            deps=deps,
            now=now,
            requester=requester,
            incident_id=run.incident_id,
        )
    if isinstance(step, PostMessageAction):
        return actions.post_message(step, ctx)
    raise TierbotError(f"step {step.id!r} is not an action tierbot runs in a transaction")


def record_action(
    session: Session,
    machine: Machine,
    moves: Moves,
    run: PlaybookRun,
    visit: PlaybookStep,
    outcome: tuple[dict[str, Any], dict[str, Any]] | str,
    now: datetime,
) -> None:
    """Store an action's result (or its error, which waits for Retry or Skip)."""
    if isinstance(outcome, str):
        visit.result = {"error": outcome, "summary": f"failed: {outcome}"}
        flag_modified(visit, "result")
        moves.touch(run, visit.seq)
        return
    updates, result = outcome
    ctx: dict[str, Any] = dict(run.context or {})
    ctx.update(updates)
    ctx.setdefault("steps", {})[visit.step_id] = result
    set_context(run, ctx)
    close(session, run, visit, moves, state="ran", actor=TIERBOT, now=now, result=result)
    go(session, machine, moves, run, next_of(run, definition(run).step(visit.step_id)), now)


def _auto_answer(run: PlaybookRun, step: DecisionStep) -> tuple[str, str] | None:
    ctx = full_context(run)
    for rule in step.auto:
        if evaluate(rule.when, ctx):
            return rule.answer, rule.when
    return None


def answer(
    session: Session,
    machine: Machine,
    moves: Moves,
    run: PlaybookRun,
    visit: PlaybookStep,
    step: DecisionStep,
    answer_id: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> None:
    chosen = next(a for a in step.answers if a.id == answer_id)
    ctx: dict[str, Any] = dict(run.context or {})
    ctx.setdefault("answers", {})[step.id] = answer_id
    if actor != TIERBOT:
        ctx["last_actor"] = actor
    set_context(run, ctx)
    result = {"summary": f"{chosen.label}" + (f" (auto: {note})" if note else "")}
    close(
        session,
        run,
        visit,
        moves,
        state="answered",
        actor=actor,
        now=now,
        answer=answer_id,
        result=result,
        note=note,
    )
    go(session, machine, moves, run, chosen.next, now)


def advance(
    session: Session, machine: Machine, moves: Moves, run: PlaybookRun, now: datetime
) -> None:
    """Run the steps tierbot owns until one needs a person, a wait or a probe, or the end."""
    while run.state == RUNNING and run.current_step is not None:
        moves.steps_taken += 1
        if moves.steps_taken > machine.max_steps:
            finish(session, run, moves, now, "stopped: too many steps in a row", TIERBOT)
            return
        visit = visit_of(session, run.id, run.current_seq)
        step = definition(run).step(run.current_step)
        if visit is None or visit.state != "open" or isinstance(step, ManualStep):
            return
        if isinstance(step, DecisionStep):
            picked = _auto_answer(run, step)
            if picked is None:
                return
            answer(session, machine, moves, run, visit, step, picked[0], actor=TIERBOT, now=now,
                   note=picked[1])  # fmt: skip
            continue
        if isinstance(step, EndStep):
            text = render(step.text, full_context(run)) if step.text else step.outcome
            close(session, run, visit, moves, state="done", actor=TIERBOT, now=now,
                  result={"summary": text})  # fmt: skip
            finish(session, run, moves, now, step.outcome, TIERBOT)
            return
        if (visit.result or {}).get("error"):
            return  # a failed action waits for Retry or Skip
        if isinstance(step, WaitAction):
            first = duration(step.duration) if step.duration else duration(step.poll)
            run.state, run.wake_at = WAITING, now + first
            run.deadline = now + duration(step.timeout) if step.timeout else None
            moves.touch(run, visit.seq)
            return
        if isinstance(step, ProbeAction):
            moves.probes.append((run.id, run.revision, visit.seq))
            run.wake_at = now  # the resume mark: a crash before the probe leaves it for the tick
            moves.touch(run)
            return
        record_action(session, machine, moves, run, visit, _guarded(session, machine, run, step,
                      now), now)  # fmt: skip


def _guarded(
    session: Session, machine: Machine, run: PlaybookRun, step: AnyStep, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]] | str:
    """Run an action in a savepoint: its failure is a message on the step, never a broken run."""
    try:
        with session.begin_nested():
            return _run_action(session, machine, run, step, now)
    except TierbotError as exc:
        return str(exc)
    except Exception as exc:
        return f"unexpected failure (error id {error_id_for(exc)})"


def wake(session: Session, machine: Machine, moves: Moves, run: PlaybookRun, now: datetime) -> None:
    """A waiting run whose check is due: continue, time out, or wait on (claimed already)."""
    visit = visit_of(session, run.id, run.current_seq)
    step = definition(run).step(run.current_step or "")
    if visit is None or not isinstance(step, WaitAction):
        run.state = RUNNING
        return
    ctx = dict(run.context or {})
    actions.refresh_rollback(session, ctx)
    set_context(run, ctx)
    if step.until is None or evaluate(step.until, full_context(run)):
        note = "condition met" if step.until else f"waited {step.duration}"
        run.state = RUNNING
        close(session, run, visit, moves, state="done", actor=TIERBOT, now=now,
              result={"summary": note}, note=note)  # fmt: skip
        go(session, machine, moves, run, next_of(run, step), now)
    elif run.deadline is not None and now >= run.deadline:
        run.state = RUNNING
        note = f"timed out after {step.timeout}"
        close(session, run, visit, moves, state="timed_out", actor=TIERBOT, now=now,
              result={"summary": note}, note=note)  # fmt: skip
        go(session, machine, moves, run, step.on_timeout or next_of(run, step), now)
    else:
        run.wake_at = now + duration(step.poll)
        moves.touch(run)
        return
    advance(session, machine, moves, run, now)


def tierbot_owns(run: PlaybookRun) -> bool:
    """Whether the run's current step is one tierbot moves on (not a person's)."""
    if run.state not in OPEN_STATES or run.current_step is None:
        return False
    step = definition(run).step(run.current_step)
    if isinstance(step, ManualStep):
        return False
    if isinstance(step, DecisionStep):
        return bool(step.auto)
    return True


def stale_before(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)
