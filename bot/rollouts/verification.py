"""Did the rollback help? Probe the target build, then judge the cohort with which-tier.

Right after execution the target build's probes run (a rolled-back build that fails its golden
set is news at once). After `verification_delay_seconds` the which-tier report for the window
since the rollback, plus the cohort's own error rate against its tier's budget, decide whether
the cohort recovered. Both results go on the request and on the audit log (`rollback.verified`,
`data.phase` = probes | which_tier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.activity.service import entries
from bot.db import transaction
from bot.diagnosis.service import which_tier
from bot.probes.results import ProbeResult
from bot.probes.service import ProbeRunner
from bot.probes.store import affected
from bot.rollouts.models import RollbackRequest
from bot.rollouts.requests import RollbackView, audit, get_request
from bot.settings import Budgets
from bot.store import Store
from bot.telemetry.queries import load_slices, slice_totals

CLAIM_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool | None  # None: the target build is not registered for probing
    text: str
    results: list[ProbeResult] = field(default_factory=list)


@dataclass(frozen=True)
class CohortHealth:
    requests: int
    failures: int

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None


@dataclass(frozen=True)
class Verification:
    recovered: bool
    text: str
    data: dict[str, Any]


def probe_target(*, runner: ProbeRunner, request: RollbackView) -> ProbeOutcome:
    """Run a probe round on the request's tier; judge the target build's result."""
    results = runner.run_round("edge" if request.tier == "edge" else "cloud")
    if request.tier == "edge":
        mine = [r for r in results if r.target == f"edge/{request.target_model_id}"]
    else:
        mine = results
    if not mine:
        return ProbeOutcome(None, f"no probe is registered for {request.target_model_id}")
    ok = all(r.ok for r in mine)
    return ProbeOutcome(ok, "; ".join(r.summary() for r in mine), mine)


def record_probes(
    *, store: Store, request_id: int, outcome: ProbeOutcome, now: datetime
) -> RollbackView:
    with transaction(store.sessions) as session:
        session.execute(
            update(RollbackRequest)
            .where(RollbackRequest.id == request_id)
            .values(probes_ok=outcome.ok)
            .execution_options(synchronize_session=False)
        )
        view = get_request(session=session, request_id=request_id)
        verdict = {True: "pass", False: "FAIL", None: "not probed"}[outcome.ok]
        audit(
            session=session,
            request=view,
            event="verified",
            summary=f"probes of {view.target_model_id} after {view.kind} #{view.id}: "
            f"{verdict} ({outcome.text})",
            at=now,
            actor="tierbot",
            phase="probes",
            ok=outcome.ok,
            probes=[r.to_dict() for r in outcome.results],
        )
        return view


def cohort_health(
    *, session: Session, cohort: str, tier: str, start: datetime, end: datetime
) -> CohortHealth:
    """The cohort's requests and failures on `tier` over [start, end) from the rollups."""
    conn = session.connection()
    ids = [
        i
        for i, info in load_slices(conn).items()
        if info.tier == tier and info.dimensions.get("cohort") == cohort
    ]
    if not ids:
        return CohortHealth(0, 0)
    totals = slice_totals(conn, start, end, ids, with_histograms=False)
    return CohortHealth(
        sum(c.requests for c in totals.values()), sum(c.failures for c in totals.values())
    )


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def judge(
    *, session: Session, budgets: Budgets, request: RollbackView, now: datetime, window: timedelta
) -> Verification:
    """Recovered: traffic since the rollback, within budget, and no suspect names the cohort."""
    executed = request.executed_at or now
    end = _minute(now) + timedelta(minutes=1) if now.second or now.microsecond else now
    start = max(_minute(executed) + timedelta(minutes=1), end - window)
    before = cohort_health(
        session=session,
        cohort=request.cohort,
        tier=request.tier,
        start=_minute(executed) - window,
        end=_minute(executed),
    )
    after = cohort_health(
        session=session, cohort=request.cohort, tier=request.tier, start=start, end=end
    )
    budget = budgets.for_tier(request.tier).error_rate
    naming: list[str] = []
    verdict = "no time has passed since the rollback"
    if end > start:  # judge only what happened since the rollback
        report = which_tier(session=session, budgets=budgets, end=end, window=end - start)
        verdict = report.verdict
        naming = [
            s.label()
            for s in report.suspects
            if s.dimensions.get("cohort") == request.cohort
            or s.dimensions.get("model_id") == request.target_model_id
        ]
    rate = after.error_rate
    recovered = rate is not None and rate <= budget and not naming

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.2%}"

    if after.requests == 0:
        text = f"no {request.tier} traffic from cohort {request.cohort} since the rollback yet"
    else:
        text = (
            f"cohort {request.cohort} {request.tier} error rate {pct(before.error_rate)} before "
            f"-> {pct(rate)} after ({after.requests} requests; budget {pct(budget)})"
        )
    if naming:
        text += "; which-tier still suspects " + ", ".join(naming)
    data = {
        "phase": "which_tier",
        "recovered": recovered,
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "before": {
            "requests": before.requests,
            "failures": before.failures,
            "error_rate": before.error_rate,
        },
        "after": {"requests": after.requests, "failures": after.failures, "error_rate": rate},
        "budget_error_rate": budget,
        "verdict": verdict,
        "suspects": naming,
    }
    return Verification(recovered, text, data)


def _claim(session: Session, request_id: int, now: datetime) -> bool:
    return (
        affected(
            session.execute(
                update(RollbackRequest)
                .where(
                    RollbackRequest.id == request_id,
                    RollbackRequest.verified.is_(None),
                    or_(
                        RollbackRequest.verify_claimed_at.is_(None),
                        RollbackRequest.verify_claimed_at <= now - CLAIM_LEASE,
                    ),
                )
                .values(verify_claimed_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )


def verify(
    *,
    store: Store,
    budgets: Budgets,
    request_id: int,
    now: datetime,
    window: timedelta,
) -> tuple[RollbackView, Verification] | None:
    """Judge one executed request (once: a claim decides who); None when another caller has it."""
    with transaction(store.sessions) as session:
        request = get_request(session=session, request_id=request_id)
        if request.executed_at is None or not _claim(session, request_id, now):
            return None
    with store.sessions() as session:
        verdict = judge(session=session, budgets=budgets, request=request, now=now, window=window)
    with transaction(store.sessions) as session:
        session.execute(
            update(RollbackRequest)
            .where(RollbackRequest.id == request_id)
            .values(
                verified=verdict.recovered,
                verified_at=now,
                verification=orjson.dumps(verdict.data).decode(),
            )
            .execution_options(synchronize_session=False)
        )
        view = get_request(session=session, request_id=request_id)
        audit(
            session=session,
            request=view,
            event="verified",
            summary=f"{view.kind} #{view.id}: cohort {view.cohort} "
            + ("recovered" if verdict.recovered else "has NOT recovered")
            + f": {verdict.text}",
            at=now,
            actor="tierbot",
            **verdict.data,
        )
    return view, verdict


def due_for_verification(*, session: Session, now: datetime, delay: timedelta) -> list[int]:
    query = select(RollbackRequest.id).where(
        RollbackRequest.executed_at.is_not(None),
        RollbackRequest.executed_at <= now - delay,
        RollbackRequest.verified.is_(None),
        or_(
            RollbackRequest.verify_claimed_at.is_(None),
            RollbackRequest.verify_claimed_at <= now - CLAIM_LEASE,
        ),
    )
    return list(session.scalars(query.order_by(RollbackRequest.id)))


def probes_recorded(*, session: Session, request: RollbackView) -> bool:
    """Whether the probes after `request`'s execution are on the audit log yet."""
    found = entries(session=session, kinds=[f"{request.kind}.verified"], subject=request.cohort)
    return any(
        e.data.get("request_id") == request.id and e.data.get("phase") == "probes" for e in found
    )
