"""Rollback requests: open one (refusing what cannot be right), read them back.

A request freezes the assignment it replaces, so what the DRI approves is what runs even if the
cohort moves meanwhile. Decisions live in `bot.rollouts.approvals`, execution in
`bot.rollouts.execution`; every state change is a conditional update recorded on the activity log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.activity.service import record
from bot.errors import TierbotError
from bot.probes.store import latest_results
from bot.rollouts.models import ModelBuild, RollbackRequest
from bot.rollouts.service import Assignment, UnknownCohort, cohort_history, current
from bot.rollouts.settings import RolloutSettings
from bot.timeutil import to_rfc3339

State = Literal["requested", "approved", "executing", "executed", "failed", "rejected", "expired"]
OPEN_STATES: tuple[str, ...] = ("requested", "approved", "executing")
KINDS = ("rollback", "killswitch")


class RollbackRefused(TierbotError):
    """A rollback request, decision or execution that cannot go ahead; the message says why."""


@dataclass(frozen=True)
class RollbackView:
    """A rollback request as plain data (safe after the session closes)."""

    id: int
    kind: str
    cohort: str
    tier: str
    from_model_id: str
    from_effective_at: datetime
    from_rollout_percent: float
    from_config_hash: str | None
    target_model_id: str
    target_config_hash: str | None
    percent: int
    applied_percent: int | None
    reason: str
    requester: str
    incident_id: int | None
    killswitch_build: str | None
    state: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    idempotency_key: str
    attempts: int
    executed_at: datetime | None
    failure: str | None
    probes_ok: bool | None
    verified: bool | None
    verified_at: datetime | None
    channel_ref: str | None
    dm_refs: tuple[str, ...]

    @property
    def is_open(self) -> bool:
        staging = self.state == "executed" and (self.applied_percent or 0) < 100
        return self.state in OPEN_STATES or staging

    @property
    def staged(self) -> bool:
        return self.percent < 100

    def label(self) -> str:
        """`rollback #7 of cohort beta-eu (edge): q8-v2 -> fp16-v1 at 100%`."""
        return (
            f"{self.kind} #{self.id} of cohort {self.cohort} ({self.tier}): "
            f"{self.from_model_id} -> {self.target_model_id} at {self.percent}%"
        )

    def to_dict(self) -> dict[str, Any]:
        def ts(value: datetime | None) -> str | None:
            return to_rfc3339(value) if value is not None else None

        return {
            "id": self.id,
            "kind": self.kind,
            "cohort": self.cohort,
            "tier": self.tier,
            "from": {
                "model_id": self.from_model_id,
                "effective_at": ts(self.from_effective_at),
                "rollout_percent": self.from_rollout_percent,
                "config_hash": self.from_config_hash,
            },
            "target_model_id": self.target_model_id,
            "percent": self.percent,
            "applied_percent": self.applied_percent,
            "reason": self.reason,
            "requester": self.requester,
            "incident_id": self.incident_id,
            "state": self.state,
            "created_at": ts(self.created_at),
            "expires_at": ts(self.expires_at),
            "decided_by": self.decided_by,
            "decided_at": ts(self.decided_at),
            "decision_reason": self.decision_reason,
            "idempotency_key": self.idempotency_key,
            "attempts": self.attempts,
            "executed_at": ts(self.executed_at),
            "failure": self.failure,
            "probes_ok": self.probes_ok,
            "verified": self.verified,
            "verified_at": ts(self.verified_at),
        }


def view_of(row: RollbackRequest) -> RollbackView:
    return RollbackView(
        id=row.id,
        kind=row.kind,
        cohort=row.cohort,
        tier=row.tier,
        from_model_id=row.from_model_id,
        from_effective_at=row.from_effective_at,
        from_rollout_percent=row.from_rollout_percent,
        from_config_hash=row.from_config_hash,
        target_model_id=row.target_model_id,
        target_config_hash=row.target_config_hash,
        percent=row.percent,
        applied_percent=row.applied_percent,
        reason=row.reason,
        requester=row.requester,
        incident_id=row.incident_id,
        killswitch_build=row.killswitch_build,
        state=row.state,
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        executed_at=row.executed_at,
        failure=row.failure,
        probes_ok=row.probes_ok,
        verified=row.verified,
        verified_at=row.verified_at,
        channel_ref=row.channel_ref,
        dm_refs=tuple((row.dm_refs or "").split()),
    )


def audit(
    *,
    session: Session,
    request: RollbackView | RollbackRequest,
    event: str,
    summary: str,
    at: datetime,
    actor: str | None,
    **numbers: Any,
) -> None:
    """One `rollback.<event>` (or `killswitch.<event>`) entry with a postmortem's numbers."""
    data: dict[str, Any] = {
        "request_id": request.id,
        "tier": request.tier,
        "from_model_id": request.from_model_id,
        "target_model_id": request.target_model_id,
        "percent": request.percent,
    }
    data.update(numbers)
    record(
        session=session,
        kind=f"{request.kind}.{event}",
        summary=summary,
        at=at,
        actor=actor,
        subject=request.cohort,
        incident_id=request.incident_id,
        data=data,
    )


def _build_tier(session: Session, model_id: str) -> str | None:
    build = session.get(ModelBuild, model_id)
    return build.tier if build is not None else None


def previous_build(history: list[Assignment], tier: str, now: datetime) -> str | None:
    """The last build on `tier` before the one in force at `now` (skipping re-assignments)."""
    on_tier = [a for a in history if a.tier == tier and a.effective_at <= now]
    if not on_tier:
        return None
    current_model = on_tier[-1].model_id
    for assignment in reversed(on_tier):
        if assignment.model_id != current_model:
            return assignment.model_id
    return None


def check_probe(session: Session, tier: str, model_id: str) -> None:
    """Refuse a target whose newest probe failed: rolling back onto a broken build helps nobody."""
    target = f"{tier}/{model_id}"
    for result in latest_results(session=session, tier=tier):
        if result.target == target and not result.ok:
            raise RollbackRefused(
                f"the last probe of {model_id} failed at {to_rfc3339(result.started_at)} "
                f"({result.summary()}); fix or re-probe it (`/tier probe {tier}`) first."
            )


def open_request_for(session: Session, cohort: str) -> RollbackRequest | None:
    return session.scalars(
        select(RollbackRequest).where(RollbackRequest.open_cohort == cohort)
    ).first()


def _refuse_open(existing: RollbackRequest) -> RollbackRefused:
    return RollbackRefused(
        f"cohort {existing.cohort} already has an open {existing.kind} request "
        f"#{existing.id} ({existing.state}, {existing.from_model_id} -> "
        f"{existing.target_model_id}); decide or wait for that one first."
    )


def request_rollback(
    *,
    session: Session,
    settings: RolloutSettings,
    cohort: str,
    target: str | None,
    percent: int | None,
    reason: str,
    requester: str,
    now: datetime,
    incident_id: int | None = None,
    kind: str = "rollback",
) -> RollbackView:
    """Open a rollback for `cohort`; the target defaults to the build it ran before.

    Raises RollbackRefused when the cohort or build is unknown, the target is what runs now,
    the target's newest probe failed, or the cohort already has an open request.
    """
    reason = reason.strip()
    if not reason:
        raise RollbackRefused("a rollback needs a reason (what is wrong with the current build).")
    percent = 100 if percent is None else percent
    if not 1 <= percent <= 100:
        raise RollbackRefused(f"the percentage must be between 1 and 100 (got {percent}).")
    try:
        history = cohort_history(session=session, cohort=cohort)
    except UnknownCohort as exc:
        raise RollbackRefused(f"unknown cohort: {exc}") from None
    tier: str = settings.default_tier
    if target is not None:
        known = {a.model_id: a.tier for a in history}
        tier = _build_tier(session, target) or known.get(target) or ""
        if not tier:
            raise RollbackRefused(
                f"unknown build {target!r}: it is neither registered nor in cohort {cohort}'s "
                f"history ({', '.join(sorted(known))})."
            )
    in_force = current(history, now).get(tier)
    if in_force is None:
        raise RollbackRefused(f"cohort {cohort} has no {tier} assignment to roll back.")
    if target is None:
        target = previous_build(history, tier, now)
        if target is None:
            raise RollbackRefused(
                f"cohort {cohort} has only ever run {in_force.model_id} on {tier}: "
                "name the build to go back to with `--to BUILD`."
            )
    if target == in_force.model_id:
        raise RollbackRefused(f"cohort {cohort} already runs {target} on {tier}.")
    check_probe(session, tier, target)
    existing = open_request_for(session, cohort)
    if existing is not None:
        raise _refuse_open(existing)
    target_hash = next(
        (a.config_hash for a in reversed(history) if a.tier == tier and a.model_id == target),
        None,
    )
    row = RollbackRequest(
        kind=kind,
        cohort=cohort,
        open_cohort=cohort,
        tier=tier,
        from_model_id=in_force.model_id,
        from_effective_at=in_force.effective_at,
        from_rollout_percent=in_force.rollout_percent,
        from_config_hash=in_force.config_hash,
        target_model_id=target,
        target_config_hash=target_hash,
        percent=percent,
        reason=reason[:2000],
        requester=requester,
        incident_id=incident_id,
        state="requested",
        created_at=now,
        expires_at=now + timedelta(seconds=settings.approval_ttl_seconds),
        idempotency_key=f"tierbot-{uuid.uuid4().hex}",
        attempts=0,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = open_request_for(session, cohort)
        if existing is not None:
            raise _refuse_open(existing) from None
        raise RollbackRefused(
            f"cohort {cohort} already has an open request; try `/tier rollbacks`."
        ) from None
    audit(
        session=session,
        request=row,
        event="requested",
        summary=f"{requester} requested {view_of(row).label()}: {row.reason}",
        at=now,
        actor=requester,
        from_effective_at=to_rfc3339(in_force.effective_at),
        from_rollout_percent=in_force.rollout_percent,
        expires_at=to_rfc3339(row.expires_at),
    )
    return view_of(row)


def get_request(*, session: Session, request_id: int) -> RollbackView:
    row = session.get(RollbackRequest, request_id, populate_existing=True)  # after core UPDATEs
    if row is None:
        raise RollbackRefused(f"there is no rollback request #{request_id}.")
    return view_of(row)


def list_requests(
    *, session: Session, cohort: str | None = None, open_only: bool = False, limit: int = 50
) -> list[RollbackView]:
    """Newest first."""
    query = select(RollbackRequest)
    if cohort is not None:
        query = query.where(RollbackRequest.cohort == cohort)
    if open_only:
        query = query.where(RollbackRequest.state.in_(OPEN_STATES))
    query = query.order_by(RollbackRequest.id.desc()).limit(limit)
    return [view_of(row) for row in session.scalars(query)]


def set_refs(
    *, session: Session, request_id: int, channel_ref: str | None, dm_refs: list[str]
) -> None:
    """Remember where the approval message was posted (only ever set once, by its poster)."""
    row = session.get(RollbackRequest, request_id)
    if row is not None:
        row.channel_ref = channel_ref
        row.dm_refs = " ".join(dm_refs) or None
