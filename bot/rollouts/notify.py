"""Where rollbacks are told: a protocol the Slack front end implements, and a log one.

Background work (the sweeper's "expired", execution and verification results) goes through a
`RollbackNotifier`, called after the change is committed and claimed by one caller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from bot.diagnosis.service import which_tier
from bot.probes.results import ProbeResult
from bot.probes.store import latest_results
from bot.rollouts.requests import RollbackView
from bot.rollouts.settings import DriSet
from bot.settings import Budgets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evidence:
    """What the approver sees: the which-tier answer and the probes of both builds."""

    verdict: str
    tier_status: str
    tier_error_rate: float | None
    cohort_suspects: list[str]
    probes: list[ProbeResult]


@dataclass(frozen=True)
class Posted:
    """Where the approval message went: thread references the notifier understands."""

    channel_ref: str | None = None
    dm_refs: list[str] = field(default_factory=list)


def evidence_for(
    *, session: Session, budgets: Budgets, request: RollbackView, now: datetime
) -> Evidence:
    report = which_tier(session=session, budgets=budgets, end=now, window=timedelta(minutes=30))
    tier = report.tiers.get(request.tier)
    targets = {
        f"{request.tier}/{request.from_model_id}",
        f"{request.tier}/{request.target_model_id}",
    }
    return Evidence(
        verdict=report.verdict,
        tier_status=tier.status if tier is not None else "no_data",
        tier_error_rate=tier.error_rate if tier is not None else None,
        cohort_suspects=[
            f"{s.label()} ({s.share_of_excess:.0%} of the excess)"
            for s in report.suspects
            if s.dimensions.get("cohort") == request.cohort
            or s.dimensions.get("model_id") == request.from_model_id
        ],
        probes=[r for r in latest_results(session=session) if r.target in targets],
    )


class RollbackNotifier(Protocol):
    def requested(self, request: RollbackView, evidence: Evidence, dris: DriSet) -> Posted:
        """Ask the DRIs (their channel and a DM each) with Approve/Reject; return where."""
        ...

    def changed(self, request: RollbackView, note: str) -> None:
        """Show the request's new state on its approval messages; say `note` in the thread."""
        ...


@dataclass(frozen=True)
class Notice:
    request_id: int
    state: str
    text: str


@dataclass
class LogRollbackNotifier:
    """Writes rollback news to the log and keeps it (the CLI and the tests use it)."""

    notices: list[Notice] = field(default_factory=list)

    def requested(self, request: RollbackView, evidence: Evidence, dris: DriSet) -> Posted:
        who = ", ".join(dris.users + ([dris.usergroup] if dris.usergroup else [])) or "nobody"
        self._record(
            request,
            f"ROLLBACK REQUESTED {request.label()} by {request.requester}: {request.reason} "
            f"(DRIs: {who}; which-tier: {evidence.verdict})",
        )
        return Posted(channel_ref=f"log:rollback:{request.id}")

    def changed(self, request: RollbackView, note: str) -> None:
        self._record(request, f"ROLLBACK #{request.id} {request.state}: {note}")

    def _record(self, request: RollbackView, text: str) -> None:
        self.notices.append(Notice(request.id, request.state, text))
        log.warning("%s", text)
