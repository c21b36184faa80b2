"""The rollback story end to end, for every front end: request, decide, execute, verify, tell.

Each step commits its state change first and tells the notifier after, so a notifier failure
(Slack down) never undoes or repeats a decision. The Slack listeners, the CLI, the scheduler
and the demo all go through one `RollbackFlow`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.db import transaction
from bot.probes.service import ProbeRunner
from bot.probes.store import affected
from bot.rollouts import approvals, execution, verification
from bot.rollouts.approvals import Directory, directory_for
from bot.rollouts.backends import RolloutBackend
from bot.rollouts.killswitch import Killswitch, pull_killswitch
from bot.rollouts.models import RollbackRequest
from bot.rollouts.notify import LogRollbackNotifier, RollbackNotifier, evidence_for
from bot.rollouts.requests import RollbackView, get_request, request_rollback, set_refs
from bot.settings import Settings
from bot.store import Store
from bot.timeutil import utcnow

log = logging.getLogger(__name__)


def _who(user: str | None) -> str:
    return f"<@{user}>" if user else "someone"


@dataclass
class RollbackFlow:
    store: Store
    settings: Settings
    notifier: RollbackNotifier = field(default_factory=LogRollbackNotifier)
    probe_runner: ProbeRunner | None = None
    backend: RolloutBackend | None = None
    directory: Directory | None = None
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        if self.backend is None:
            self.backend = execution.backend_for(self.settings.rollouts, self.store)
        if self.directory is None:
            self.directory = directory_for(self.settings.rollouts)

    # -- requests and decisions ------------------------------------------------------------
    def request(
        self,
        *,
        cohort: str,
        target: str | None,
        percent: int | None,
        reason: str,
        requester: str,
        incident_id: int | None = None,
    ) -> RollbackView:
        """Open a request and ask the DRIs."""
        with transaction(self.store.sessions) as session:
            view = request_rollback(
                session=session,
                settings=self.settings.rollouts,
                cohort=cohort,
                target=target,
                percent=percent,
                reason=reason,
                requester=requester,
                now=self.clock(),
                incident_id=incident_id,
            )
        return self.announce(view.id) or view

    def announce(self, request_id: int) -> RollbackView | None:
        """Post the approval message once (whoever claims it); None when already posted."""
        with transaction(self.store.sessions) as session:
            won = affected(
                session.execute(
                    update(RollbackRequest)
                    .where(RollbackRequest.id == request_id, RollbackRequest.channel_ref.is_(None))
                    .values(channel_ref="posting")
                    .execution_options(synchronize_session=False)
                )
            )
            view = get_request(session=session, request_id=request_id)
            if won != 1:
                return None
            evidence = evidence_for(
                session=session, budgets=self.settings.budgets, request=view, now=self.clock()
            )
        dris = self.settings.rollouts.dris_for(cohort=view.cohort, tier=view.tier)
        try:
            posted = self.notifier.requested(view, evidence, dris)
        except Exception:
            log.exception("could not post the approval message of rollback #%s", request_id)
            posted = None
        with transaction(self.store.sessions) as session:
            set_refs(
                session=session,
                request_id=request_id,
                channel_ref=posted.channel_ref if posted else "unposted",
                dm_refs=posted.dm_refs if posted else [],
            )
            return get_request(session=session, request_id=request_id)

    def approve(self, request_id: int, approver: str, *, execute: bool = True) -> RollbackView:
        """Approve as `approver` (refused with a clear message when they may not), then run it."""
        with transaction(self.store.sessions) as session:
            view = approvals.approve(
                session=session,
                settings=self.settings.rollouts,
                request_id=request_id,
                approver=approver,
                now=self.clock(),
                directory=self.directory,
            )
        self._tell(view, f"Approved by {_who(approver)}; executing.")
        return self.run(request_id) if execute else view

    def reject(self, request_id: int, rejecter: str, reason: str) -> RollbackView:
        with transaction(self.store.sessions) as session:
            view = approvals.reject(
                session=session,
                settings=self.settings.rollouts,
                request_id=request_id,
                rejecter=rejecter,
                reason=reason,
                now=self.clock(),
                directory=self.directory,
            )
        self._tell(view, f"Rejected by {_who(rejecter)}: {reason}")
        return view

    def killswitch(self, build: str, requester: str, reason: str) -> Killswitch:
        """Pull the killswitch (DRI only) and execute every cohort's rollback now."""
        assert self.directory is not None
        with transaction(self.store.sessions) as session:
            pulled = pull_killswitch(
                session=session,
                settings=self.settings.rollouts,
                directory=self.directory,
                build=build,
                requester=requester,
                reason=reason,
                now=self.clock(),
            )
        ran = [self.run(request.id) for request in pulled.requests]
        return Killswitch(pulled.build, ran, pulled.skipped)

    # -- execution and verification --------------------------------------------------------
    def run(self, request_id: int) -> RollbackView:
        """Execute if claimable; on a first successful execution, probe the target build."""
        assert self.backend is not None
        view, did = execution.execute(
            store=self.store,
            settings=self.settings.rollouts,
            backend=self.backend,
            request_id=request_id,
            clock=self.clock,
        )
        if not did:
            return view
        if view.state == "failed":
            self._tell(view, f"Execution FAILED: {view.failure}")
            return view
        if view.state != "executed":
            return view
        self._tell(
            view,
            f"Executed: cohort {view.cohort} now runs {view.target_model_id} on "
            f"{view.applied_percent}% of {view.tier}"
            + (" (staged: it steps up over time)" if (view.applied_percent or 0) < 100 else ""),
        )
        if view.probes_ok is None and view.applied_percent == view.percent:
            view = self.probe(request_id) or view
        return view

    def probe(self, request_id: int) -> RollbackView | None:
        """Probe the target build now and record the outcome (no runner: skipped)."""
        if self.probe_runner is None:
            return None
        with self.store.sessions() as session:
            view = get_request(session=session, request_id=request_id)
        outcome = verification.probe_target(runner=self.probe_runner, request=view)
        view = verification.record_probes(
            store=self.store, request_id=request_id, outcome=outcome, now=self.clock()
        )
        verdict = {True: "pass", False: "FAIL", None: "not probed"}[outcome.ok]
        self._tell(view, f"Probes of {view.target_model_id}: {verdict} ({outcome.text})")
        return view

    def verify_now(self, request_id: int, *, probe: bool = True) -> RollbackView:
        """Probe and judge the cohort now, whatever the delay (the demo, `rollback verify`)."""
        if probe:
            self.probe(request_id)
        return self._verify(request_id) or self.get(request_id)

    def _verify(self, request_id: int) -> RollbackView | None:
        window = timedelta(seconds=self.settings.rollouts.verification_window_seconds)
        judged = verification.verify(
            store=self.store,
            budgets=self.settings.budgets,
            request_id=request_id,
            now=self.clock(),
            window=window,
        )
        if judged is None:
            return None
        view, verdict = judged
        word = "Recovered" if verdict.recovered else "NOT recovered"
        self._tell(view, f"{word}: {verdict.text}")
        return view

    # -- the scheduler's sweep -------------------------------------------------------------
    def sweep(self) -> None:
        """Expire, announce, resume and verify what is due; each step claims its own work."""
        assert self.backend is not None
        now = self.clock()
        with transaction(self.store.sessions) as session:
            expired = approvals.expire_due(session=session, now=now)
        for view in expired:
            self._tell(
                view, f"Expired: nobody decided within the TTL (by {view.expires_at:%H:%M} UTC)."
            )
        with self.store.sessions() as session:
            unposted = session.scalars(
                select(RollbackRequest.id).where(
                    RollbackRequest.state == "requested", RollbackRequest.channel_ref.is_(None)
                )
            ).all()
            due = execution.due_for_execution(
                session=session, now=now, settings=self.settings.rollouts
            )
            delay = timedelta(seconds=self.settings.rollouts.verification_delay_seconds)
            to_verify = verification.due_for_verification(session=session, now=now, delay=delay)
        for request_id in unposted:
            self.announce(request_id)
        for request_id in due:
            self.run(request_id)
        for request_id in to_verify:
            self._verify(request_id)

    def get(self, request_id: int) -> RollbackView:
        with self.store.sessions() as session:
            return get_request(session=session, request_id=request_id)

    def _tell(self, view: RollbackView, note: str) -> None:
        try:
            self.notifier.changed(view, note)
        except Exception:
            log.exception("could not tell about rollback #%s", view.id)
