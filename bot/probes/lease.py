"""The probe-runner lease: one row per lease name, taken over only after it expires.

Every replica's scheduler ticks, but only the holder of an unexpired lease runs the probes.
Taking or renewing is one conditional UPDATE; the first ever take is an INSERT that loses
cleanly (IntegrityError in a savepoint) when another replica inserts first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.probes.models import ProbeLease
from bot.probes.store import affected

PROBE_LEASE = "probes"


def try_acquire(
    *, session: Session, holder: str, now: datetime, ttl: timedelta, name: str = PROBE_LEASE
) -> bool:
    """Take or renew the lease for `holder`; False when another holder's lease is still valid."""
    won = affected(
        session.execute(
            update(ProbeLease)
            .where(
                ProbeLease.name == name,
                or_(ProbeLease.holder == holder, ProbeLease.expires_at <= now),
            )
            .values(holder=holder, expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
    )
    if won == 1:
        return True
    if session.scalar(select(ProbeLease.name).where(ProbeLease.name == name)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ProbeLease(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False
    return True


def release(*, session: Session, holder: str, now: datetime, name: str = PROBE_LEASE) -> None:
    """Give the lease up at shutdown so another replica takes over at once."""
    session.execute(
        update(ProbeLease)
        .where(ProbeLease.name == name, ProbeLease.holder == holder)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )


def holder_of(*, session: Session, now: datetime, name: str = PROBE_LEASE) -> str | None:
    lease = session.get(ProbeLease, name)
    return lease.holder if lease is not None and lease.expires_at > now else None
