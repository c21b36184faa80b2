"""The alert state machine per probe target, with hysteresis, shared by every replica.

`record_outcome` moves a target's counts and state with one conditional UPDATE on `version`
(retried on a lost race), so concurrent writers never lose a result. `deliver_changes` claims
each unannounced state change with a conditional UPDATE before notifying, so the alert channel
hears about a change once: no storms, no duplicates from two replicas.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.activity.service import record
from bot.db import transaction
from bot.probes.models import ProbeAlert, ProbeRun
from bot.probes.notify import Alert, AlertNotifier
from bot.probes.results import ProbeResult
from bot.probes.store import affected, result_from_row

log = logging.getLogger(__name__)

OK, OPEN = "ok", "open"
_ATTEMPTS = 20


@dataclass(frozen=True)
class Hysteresis:
    open_after_failures: int = 3
    resolve_after_passes: int = 2


def _next_state(row: ProbeAlert, passed: bool, rules: Hysteresis) -> dict[str, object]:
    failures = 0 if passed else row.consecutive_failures + 1
    passes = row.consecutive_passes + 1 if passed else 0
    values: dict[str, object] = {"consecutive_failures": failures, "consecutive_passes": passes}
    if row.state == OK and failures >= rules.open_after_failures:
        values |= {"state": OPEN, "consecutive_passes": 0}
    elif row.state == OPEN and passes >= rules.resolve_after_passes:
        values |= {"state": OK, "consecutive_failures": 0}
    return values


def record_outcome(
    *,
    session: Session,
    result: ProbeResult,
    result_id: int | None,
    rules: Hysteresis,
    now: datetime,
) -> str:
    """Fold one probe result into its target's alert; returns the state after it."""
    for _ in range(_ATTEMPTS):
        row = session.execute(
            select(ProbeAlert).where(ProbeAlert.target == result.target),
            execution_options={"populate_existing": True},
        ).scalar_one_or_none()
        if row is None:
            _create(session, result, now)
            continue
        values = _next_state(row, result.ok, rules)
        if values.get("state") == OPEN:
            values |= {"opened_at": now, "resolved_at": None, "thread_ref": None}
        elif values.get("state") == OK:
            values["resolved_at"] = now
        won = affected(
            session.execute(
                update(ProbeAlert)
                .where(ProbeAlert.target == result.target, ProbeAlert.version == row.version)
                .values(**values, version=row.version + 1, last_result_id=result_id, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        if won == 1:
            return str(values.get("state", row.state))
    raise RuntimeError(f"alert state of {result.target} kept changing under us")


def _create(session: Session, result: ProbeResult, now: datetime) -> None:
    """Insert the target's first alert row; another replica inserting it first is fine."""
    try:
        with session.begin_nested():
            session.add(
                ProbeAlert(
                    target=result.target,
                    tier=result.tier,
                    state=OK,
                    announced_state=OK,
                    consecutive_failures=0,
                    consecutive_passes=0,
                    version=0,
                    updated_at=now,
                )
            )
    except IntegrityError:
        pass


def _view(row: ProbeAlert) -> Alert:
    return Alert(
        target=row.target,
        tier=row.tier,
        state=row.state,
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        consecutive_failures=row.consecutive_failures,
        consecutive_passes=row.consecutive_passes,
        thread_ref=row.thread_ref,
    )


def alerts(*, session: Session) -> list[Alert]:
    return [_view(row) for row in session.scalars(select(ProbeAlert).order_by(ProbeAlert.target))]


def deliver_changes(sessions: sessionmaker[Session], notifier: AlertNotifier) -> list[Alert]:
    """Announce every state change not announced yet; returns the alerts announced here."""
    with sessions() as session:
        pending = session.scalars(
            select(ProbeAlert).where(ProbeAlert.state != ProbeAlert.announced_state)
        ).all()
    announced = []
    for row in pending:
        alert, result = _claim(sessions, row.target, row.announced_state, row.state)
        if alert is None:
            continue  # another replica (or a newer result) got there first
        try:
            if alert.state == OPEN:
                thread_ref = notifier.opened(alert, result)
                _remember_thread(sessions, alert, thread_ref)
            else:
                notifier.resolved(alert, result, alert.thread_ref)
        except Exception:
            log.exception("notifying %s %s failed; will retry", alert.target, alert.state)
            _unclaim(sessions, alert.target, previous=row.announced_state, claimed=alert.state)
            continue
        announced.append(alert)
    return announced


def _claim(
    sessions: sessionmaker[Session], target: str, previous: str, current: str
) -> tuple[Alert | None, ProbeResult | None]:
    with transaction(sessions) as session:
        won = affected(
            session.execute(
                update(ProbeAlert)
                .where(
                    ProbeAlert.target == target,
                    ProbeAlert.announced_state == previous,
                    ProbeAlert.state == current,
                )
                .values(announced_state=current)
                .execution_options(synchronize_session=False)
            )
        )
        if won != 1:
            return None, None
        row = session.execute(
            select(ProbeAlert).where(ProbeAlert.target == target),
            execution_options={"populate_existing": True},
        ).scalar_one()
        last = session.get(ProbeRun, row.last_result_id) if row.last_result_id else None
        alert, result = _view(row), result_from_row(last) if last is not None else None
        _record_on_timeline(session, alert, result)
        return alert, result


def _record_on_timeline(session: Session, alert: Alert, result: ProbeResult | None) -> None:
    """The announcement goes on the activity log in the claim's transaction: once per change."""
    opened = alert.state == OPEN
    at = (alert.opened_at if opened else alert.resolved_at) or (
        result.started_at if result is not None else None
    )
    if at is None:
        return
    detail = result.summary() if result is not None else alert.target
    record(
        session=session,
        kind="probe.alert_opened" if opened else "probe.alert_resolved",
        summary=(
            f"probe alert opened on {alert.target} after {alert.consecutive_failures} "
            f"failures: {detail}"
            if opened
            else f"probe alert on {alert.target} resolved after {alert.consecutive_passes} passes"
        ),
        at=at,
        actor="tierbot",
        subject=alert.target,
        data={"tier": alert.tier, "result": result.to_dict() if result is not None else None},
    )


def _remember_thread(sessions: sessionmaker[Session], alert: Alert, thread_ref: str | None) -> None:
    if thread_ref is None:
        return
    with transaction(sessions) as session:
        session.execute(
            update(ProbeAlert)
            .where(ProbeAlert.target == alert.target, ProbeAlert.opened_at == alert.opened_at)
            .values(thread_ref=thread_ref)
            .execution_options(synchronize_session=False)
        )


def _unclaim(sessions: sessionmaker[Session], target: str, *, previous: str, claimed: str) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(ProbeAlert)
            .where(ProbeAlert.target == target, ProbeAlert.announced_state == claimed)
            .values(announced_state=previous)
            .execution_options(synchronize_session=False)
        )
