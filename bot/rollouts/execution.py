"""Execute approved rollbacks exactly once: claim, apply through the backend, record.

A claim is a conditional update (approved -> executing, or a step of a staged rollback from
executed -> executing) that also takes a lease. Applying happens outside any transaction, with
the request's idempotency key; finishing is another conditional update that only the claim's
holder (same attempt number) wins. A process that dies mid-way leaves an `executing` request
whose lease runs out: `resume_due` claims it again (attempt + 1) and applies the same change
with the same key, which the backend recognises, so the cohort moves once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.probes.store import affected
from bot.rollouts.backends import BackendError, Change, RolloutBackend
from bot.rollouts.models import RollbackRequest
from bot.rollouts.requests import RollbackView, audit, get_request, view_of
from bot.rollouts.settings import RolloutSettings
from bot.store import Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def backend_for(settings: RolloutSettings, store: Store) -> RolloutBackend:
    """The backend the settings choose."""
    if settings.backend == "webhook":
        from bot.errors import TierbotError
        from bot.rollouts.backends.webhook import WebhookBackend

        if settings.webhook_url is None or settings.webhook_secret is None:
            raise TierbotError(
                "the webhook rollout backend needs TIERBOT_ROLLOUTS__WEBHOOK_URL and "
                "TIERBOT_ROLLOUTS__WEBHOOK_SECRET"
            )
        return WebhookBackend(
            url=settings.webhook_url,
            secret=settings.webhook_secret.get_secret_value().encode(),
            timeout=settings.webhook_timeout_seconds,
            attempts=settings.webhook_attempts,
            backoff=settings.webhook_backoff_seconds,
        )
    from bot.rollouts.backends.builtin import BuiltinBackend

    return BuiltinBackend(store)


def pending_percent(row: RollbackRequest | RollbackView, step: int) -> int:
    """The percentage the next (or in-flight) execution applies."""
    if row.applied_percent is None:
        return row.percent
    return min(100, row.applied_percent + step)


def _change(row: RollbackView, percent: int, at: datetime) -> Change:
    key = row.idempotency_key if percent == row.percent else f"{row.idempotency_key}-{percent}"
    return Change(
        request_id=row.id,
        kind=row.kind,
        cohort=row.cohort,
        tier=row.tier,
        from_model_id=row.from_model_id,
        model_id=row.target_model_id,
        percent=percent,
        config_hash=row.target_config_hash,
        reason=row.reason,
        requested_by=row.requester,
        approved_by=row.decided_by,
        idempotency_key=key,
        at=at,
    )


def _claim(
    session: Session,
    row: RollbackRequest,
    *,
    now: datetime,
    lease: timedelta,
    step_interval: timedelta,
) -> bool:
    """Take the request for one attempt; True when this caller won it."""
    conditions = [RollbackRequest.id == row.id, RollbackRequest.attempts == row.attempts]
    if row.state == "approved":
        conditions.append(RollbackRequest.state == "approved")
    elif row.state == "executing":
        conditions += [RollbackRequest.state == "executing", RollbackRequest.lease_until <= now]
    elif row.state == "executed":  # the next step of a staged rollback
        conditions += [
            RollbackRequest.state == "executed",
            RollbackRequest.applied_percent < 100,
            RollbackRequest.stepped_at <= now - step_interval,
        ]
    else:
        return False
    return (
        affected(
            session.execute(
                update(RollbackRequest)
                .where(*conditions)
                .values(state="executing", attempts=row.attempts + 1, lease_until=now + lease)
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )


def execute(
    *,
    store: Store,
    settings: RolloutSettings,
    backend: RolloutBackend,
    request_id: int,
    clock: Clock,
) -> tuple[RollbackView, bool]:
    """Run one attempt if the request is claimable now; (the request after, whether we ran it).

    Safe to call from any number of threads or replicas at once: one wins the claim, the others
    get the request as it stands and False.
    """
    lease = timedelta(seconds=settings.execution_lease_seconds)
    step_interval = timedelta(seconds=settings.stage_interval_seconds)
    now = clock()
    with transaction(store.sessions) as session:
        row = session.get(RollbackRequest, request_id)
        if row is None:
            return get_request(session=session, request_id=request_id), False
        before = view_of(row)
        if not _claim(session, row, now=now, lease=lease, step_interval=step_interval):
            return before, False
        session.expire_all()
        claimed = get_request(session=session, request_id=request_id)
        percent = pending_percent(claimed, settings.stage_step_percent)
        retry = before.state == "executing"
        audit(
            session=session,
            request=claimed,
            event="executing",
            summary=f"executing {claimed.label()} via {backend.name}"
            + (f" (step to {percent}%)" if before.state == "executed" else "")
            + (f" (retry, attempt {claimed.attempts})" if retry else ""),
            at=now,
            actor="tierbot",
            attempt=claimed.attempts,
            step_percent=percent,
            backend=backend.name,
            idempotency_key=_change(claimed, percent, now).idempotency_key,
        )
    change = _change(claimed, percent, now)
    try:
        reference = backend.apply(change)
        problem = None
    except BackendError as exc:
        reference, problem = None, str(exc)
    # Anything else propagates and leaves the request `executing`: its lease runs out and
    # `resume_due` retries it with the same key.
    return _finish(store, claimed, percent, reference, problem, clock, backend.name), True


def _finish(
    store: Store,
    claimed: RollbackView,
    percent: int,
    reference: str | None,
    problem: str | None,
    clock: Clock,
    backend: str,
) -> RollbackView:
    now = clock()
    first = claimed.executed_at is None
    values: dict[str, object]
    if problem is None:
        values = {"state": "executed", "applied_percent": percent, "stepped_at": now}
        if first:
            values["executed_at"] = now
        if percent >= 100:
            values["open_cohort"] = None
    else:
        # A failed first execution ends the request; a failed step leaves the last good step.
        values = {"state": "failed", "failure": problem[:2000], "open_cohort": None}
    with transaction(store.sessions) as session:
        won = affected(
            session.execute(
                update(RollbackRequest)
                .where(
                    RollbackRequest.id == claimed.id,
                    RollbackRequest.state == "executing",
                    RollbackRequest.attempts == claimed.attempts,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        )
        view = get_request(session=session, request_id=claimed.id)
        if won != 1:
            log.warning("rollback #%s: attempt %s lost its lease", claimed.id, claimed.attempts)
            return view
        elapsed = (
            round((now - claimed.decided_at).total_seconds(), 1) if claimed.decided_at else None
        )
        if problem is None:
            audit(
                session=session,
                request=view,
                event="executed",
                summary=f"executed {view.label()}: now at {percent}% ({reference})",
                at=now,
                actor="tierbot",
                applied_percent=percent,
                attempt=view.attempts,
                backend=backend,
                reference=reference,
                seconds_since_approval=elapsed,
            )
        else:
            audit(
                session=session,
                request=view,
                event="failed",
                summary=f"{view.label()} failed: {problem}",
                at=now,
                actor="tierbot",
                attempt=view.attempts,
                backend=backend,
                failure=problem,
                step_percent=percent,
            )
        return view


def due_for_execution(*, session: Session, now: datetime, settings: RolloutSettings) -> list[int]:
    """Approved requests, executing ones past their lease, and staged steps that are due."""
    step_due = now - timedelta(seconds=settings.stage_interval_seconds)
    query = select(RollbackRequest.id).where(
        or_(
            RollbackRequest.state == "approved",
            (RollbackRequest.state == "executing") & (RollbackRequest.lease_until <= now),
            (RollbackRequest.state == "executed")
            & (RollbackRequest.applied_percent < 100)
            & (RollbackRequest.stepped_at <= step_due),
        )
    )
    return list(session.scalars(query.order_by(RollbackRequest.id)))


def resume_due(
    *, store: Store, settings: RolloutSettings, backend: RolloutBackend, clock: Clock
) -> list[RollbackView]:
    """What a restart (or the scheduler) picks up; returns the requests this call ran."""
    with store.sessions() as session:
        due = due_for_execution(session=session, now=clock(), settings=settings)
    ran: list[RollbackView] = []
    for request_id in due:
        view, did = execute(
            store=store, settings=settings, backend=backend, request_id=request_id, clock=clock
        )
        if did:
            ran.append(view)
    return ran
