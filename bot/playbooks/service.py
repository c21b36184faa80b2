"""Playbook runs for the front ends and the scheduler: start, press, tick, look.

Each move is one transaction (`bot.playbooks.runner`); after the commit this module runs the
probes a move asked for (network I/O stays out of transactions) and tells the notifier what
changed, saving the message refs it hands back so later changes update the same messages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.errors import TierbotError, error_id_for
from bot.playbooks import actions, runner, state
from bot.playbooks.actions import ActionDeps
from bot.playbooks.loader import Catalog, cached_directory
from bot.playbooks.models import PlaybookRun, PlaybookStep
from bot.playbooks.notify import LogPlaybookNotifier, PlaybookNotifier
from bot.playbooks.press import Pressed, press
from bot.playbooks.schema import ProbeAction
from bot.playbooks.views import (
    OPEN_STATES,
    RUNNING,
    WAITING,
    RunView,
    StepView,
    definition,
    run_view,
    step_view,
)
from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:
    from bot.probes.service import ProbeRunner

log = logging.getLogger(__name__)


def incident_in(session: Session, channel: str) -> int | None:
    """The open incident a run started in `channel` belongs to, if any."""
    try:
        from bot.incidents.service import incident_for_channel
    except ImportError:  # pragma: no cover - the incidents package ships with tierbot
        return None
    found = incident_for_channel(session=session, channel=channel)
    return found.id if found is not None else None


@dataclass(frozen=True)
class RunDetail:
    run: RunView
    steps: list[StepView]


class Playbooks:
    """Runs playbooks for one process (Slack listeners, the scheduler, the CLI)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        notifier: PlaybookNotifier | None = None,
        *,
        probe_runner: ProbeRunner | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.store, self.settings = store, settings
        self.notifier: PlaybookNotifier = notifier or LogPlaybookNotifier()
        self.deps = ActionDeps(settings=settings, probe_runner=probe_runner)
        self._catalog = catalog

    def catalog(self) -> Catalog:
        """The playbooks of the directory (re-read when a file changes: edits apply at once)."""
        return self._catalog or cached_directory(self.settings.playbooks.directory)

    def _machine(self) -> state.Machine:
        return state.Machine(
            self.deps, self.catalog(), self.settings.playbooks.max_steps_per_advance
        )

    # --- moves -------------------------------------------------------------------------------

    def start(
        self,
        name: str,
        *,
        user: str,
        now: datetime,
        channel: str | None = None,
        thread_ts: str | None = None,
        incident_id: int | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> RunView:
        """Start `name` (linked to the channel's incident unless one is given)."""
        machine = self._machine()
        loaded = machine.catalog.get(name)
        moves = state.Moves()
        with transaction(self.store.sessions) as session:
            if incident_id is None and channel is not None:
                incident_id = incident_in(session, channel)
            run = runner.create_run(
                session,
                machine,
                moves,
                loaded,
                started_by=user,
                now=now,
                channel=channel,
                thread_ts=thread_ts,
                incident_id=incident_id,
                context={"input": dict(inputs or {}), "last_actor": user},
            )
            run_id = run.id
        self._after(machine, moves, now)
        return self.detail(run_id).run

    def press(self, run_id: int, seq: int, choice: str, *, user: str, now: datetime) -> Pressed:
        """A button: moves the run once, or says why it changed nothing."""
        machine = self._machine()
        moves = state.Moves()
        with transaction(self.store.sessions) as session:
            pressed = press(
                session, machine, moves, run_id=run_id, seq=seq, choice=choice, actor=user, now=now
            )
        if pressed.changed:
            self._after(machine, moves, now)
        return pressed

    def tick(self, now: datetime) -> int:
        """Continue runs whose wait is due, and runs a restart left on a tierbot step."""
        stale = runner.stale_before(now, self.settings.playbooks.stale_seconds)
        with self.store.sessions() as session:
            due = session.scalars(
                select(PlaybookRun.id)
                .where(
                    or_(
                        (PlaybookRun.state == WAITING) & (PlaybookRun.wake_at <= now),
                        (PlaybookRun.state == RUNNING) & (PlaybookRun.wake_at <= stale),
                    )
                )
                .order_by(PlaybookRun.id)
                .limit(100)
            ).all()
        if not due:
            return 0
        machine = self._machine()
        moved = 0
        for run_id in due:
            moves = state.Moves()
            with transaction(self.store.sessions) as session:
                run = session.get(PlaybookRun, run_id)
                if run is None:
                    continue
                if run.state == WAITING and run.wake_at is not None and run.wake_at <= now:
                    if state.claim(session, run, now):
                        runner.wake(session, machine, moves, run, now)
                elif (
                    run.state == RUNNING
                    and runner.tierbot_owns(run)
                    and run.wake_at is not None
                    and run.wake_at <= stale
                    and state.claim(session, run, now)
                ):
                    runner.advance(session, machine, moves, run, now)
            if moves.runs:
                moved += 1
                try:
                    self._after(machine, moves, now)
                except Exception as exc:  # one run's failure must not stop the others
                    log.warning("playbook run %d moved but was not shown (error id %s)", run_id,
                                error_id_for(exc))  # fmt: skip
        return moved

    def _after(self, machine: state.Machine, moves: state.Moves, now: datetime) -> None:
        while moves.probes:
            run_id, revision, seq = moves.probes.pop(0)
            self._probe(machine, moves, run_id, revision, seq, now)
        self._publish(moves)

    def _probe(
        self,
        machine: state.Machine,
        moves: state.Moves,
        run_id: int,
        revision: int,
        seq: int,
        now: datetime,
    ) -> None:
        with self.store.sessions() as session:
            run = session.get(PlaybookRun, run_id)
            step = definition(run).step(run.current_step or "") if run else None
        if not isinstance(step, ProbeAction):
            return
        outcome: tuple[dict[str, Any], dict[str, Any]] | str
        try:
            outcome = actions.probe(step, deps=self.deps)
        except TierbotError as exc:
            outcome = str(exc)
        except Exception as exc:
            outcome = f"unexpected failure (error id {error_id_for(exc)})"
        more = state.Moves()
        with transaction(self.store.sessions) as session:
            run = session.get(PlaybookRun, run_id)
            if run is None or run.revision != revision or run.current_seq != seq:
                return  # someone moved the run meanwhile: this probe's result is moot
            if not state.claim(session, run, now):
                return
            visit = state.visit_of(session, run_id, seq)
            if visit is None:
                return
            runner.record_action(session, machine, more, run, visit, outcome, now)
            runner.advance(session, machine, more, run, now)
        moves.merge(more)

    # --- telling people ----------------------------------------------------------------------

    def _publish(self, moves: state.Moves) -> None:
        """Show every touched run; a failure (Slack refused) is raised after trying them all,
        so the person who moved the run hears why nothing appeared."""
        failure: Exception | None = None
        for run_id in moves.runs:
            try:
                self._publish_run(run_id, moves)
            except Exception as exc:  # the run moved; only the telling failed
                log.warning("could not show playbook run %d: %s", run_id, exc)
                failure = failure or exc
        if failure is not None:
            raise failure

    def _publish_run(self, run_id: int, moves: state.Moves) -> None:
        with self.store.sessions() as session:
            run = session.get(PlaybookRun, run_id)
            if run is None:
                return
            view = run_view(run)
            if view.thread_ts is None and run.parent_run_id is not None:
                parent = session.get(PlaybookRun, run.parent_run_id)
                if parent is not None and parent.thread_ts:
                    view = replace(view, thread_ts=parent.thread_ts)
            seqs = sorted({seq for rid, seq in moves.touched if rid == run_id})
            visits = [state.visit_of(session, run_id, seq) for seq in seqs]
            steps = [step_view(run, v) for v in visits if v is not None]
        thread = view.thread_ts
        if run_id in moves.started:
            posted = self.notifier.run_started(view)
            thread = thread or posted
            view = replace(view, thread_ts=thread)
        refs: dict[int, str] = {}
        for step in steps:
            ref = self.notifier.step_changed(view, step)
            if ref and ref != step.message_ts:
                refs[step.seq] = ref
        if run_id in moves.finished:
            self.notifier.run_finished(view)
        if refs or (thread and thread != run.thread_ts):
            with transaction(self.store.sessions) as session:
                if thread and thread != run.thread_ts:
                    session.execute(
                        update(PlaybookRun).where(PlaybookRun.id == run_id).values(thread_ts=thread)
                    )
                for seq, ref in refs.items():
                    session.execute(
                        update(PlaybookStep)
                        .where(PlaybookStep.run_id == run_id, PlaybookStep.seq == seq)
                        .values(message_ts=ref)
                    )

    # --- looking -----------------------------------------------------------------------------

    def detail(self, run_id: int) -> RunDetail:
        with self.store.sessions() as session:
            run = session.get(PlaybookRun, run_id)
            if run is None:
                raise TierbotError(f"there is no playbook run #{run_id}")
            visits = session.scalars(
                select(PlaybookStep).where(PlaybookStep.run_id == run_id).order_by(PlaybookStep.seq)
            ).all()
            return RunDetail(run_view(run), [step_view(run, v) for v in visits])

    def open_runs(self, limit: int | None = None) -> list[RunView]:
        with self.store.sessions() as session:
            rows = session.scalars(
                select(PlaybookRun)
                .where(PlaybookRun.state.in_(OPEN_STATES))
                .order_by(PlaybookRun.started_at.desc(), PlaybookRun.id.desc())
                .limit(limit or self.settings.playbooks.status_limit)
            ).all()
            return [run_view(r) for r in rows]

    def handed_to(self, run_id: int) -> int | None:
        """The run `run_id` handed over to, if any (the newest)."""
        with self.store.sessions() as session:
            return session.scalars(
                select(PlaybookRun.id)
                .where(PlaybookRun.parent_run_id == run_id)
                .order_by(PlaybookRun.id.desc())
            ).first()

    # --- the demo's walk ---------------------------------------------------------------------

    def walk(
        self,
        run_id: int,
        *,
        user: str,
        now: datetime,
        answers: Mapping[str, str] | None = None,
        through_waits: bool = False,
        max_presses: int = 50,
    ) -> RunDetail:
        """Press through a run (and the runs it hands over to) like a responder would.

        Manual steps are marked done, decisions take `answers[step id]` (else their first
        answer), failed actions are skipped; stops at a wait unless `through_waits`, and at
        the end. Returns the last run reached: what the demo shows after its walk.
        """
        answers = answers or {}
        current = run_id
        for _ in range(max_presses):
            nxt = self.handed_to(current)
            while nxt is not None:
                current, nxt = nxt, self.handed_to(nxt)
            detail = self.detail(current)
            if not detail.run.is_open:
                return detail
            step = next((s for s in detail.steps if s.seq == detail.run.current_seq), None)
            if step is None or not step.buttons:
                return detail
            choice = self._choose(detail, step, answers, through_waits)
            if choice is None:
                return detail
            self.press(current, step.seq, choice, user=user, now=now)
        return self.detail(current)

    def _choose(
        self, detail: RunDetail, step: StepView, answers: Mapping[str, str], through_waits: bool
    ) -> str | None:
        choices = [b.choice for b in step.buttons]
        if step.kind == "decision":
            wanted = f"a:{answers[step.step_id]}" if step.step_id in answers else choices[0]
            return wanted if wanted in choices else choices[0]
        if "continue" in choices:
            return "continue" if through_waits else None
        if "done" in choices:
            return "done"
        return "skip" if "skip" in choices else None
